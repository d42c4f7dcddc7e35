"""A libFuzzer target and the cc_test that replays its seed corpus."""

def rill_fuzz_target(name, deps, corpus, data = [], size = "small"):
    """`<name>_fuzzer` (manual: clang-14 only) and `<name>_corpus_test`.

    Args:
      name: the target's name; its source is `<name>_fuzzer.cc`.
      deps: the libraries it fuzzes.
      corpus: directories (from the workspace root) the test replays.
      data: the files in them.
      size: the test's size.
    """
    src = name + "_fuzzer.cc"
    native.cc_binary(
        name = name + "_fuzzer",
        testonly = True,
        srcs = [src],
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
        deps = deps,
    )
    native.cc_test(
        name = name + "_corpus_test",
        size = size,
        srcs = [
            "corpus_replay_test.cc",
            src,
        ],
        args = corpus,
        data = data,
        deps = deps + ["//third_party:gtest"],
    )
