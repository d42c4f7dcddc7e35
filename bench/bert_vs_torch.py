#!/usr/bin/python3
"""A BERT-base encoder stack's training step and its MLM head in rill and in
PyTorch, interleaved in one run (issue 16 item 5).

Runs bench/bert_bench --serve (built with -c opt) and asks it for rill's
steps a few at a time, timing PyTorch's between them, so that a change of
load on this shared machine hits both. The PyTorch model is the
hand-written BERT of tests/models/make_bert_goldens.py (encoder(), run in
f32 here), at L2 H768 A12 ff3072 S128 B8, V 30522, GELU erf, dropout 0, on
the inputs bert_bench.cc computes (bench_inputs below). The encoder step
is loss = sum(sequence_output * r) and backward to every parameter of the
embeddings and layers; the MLM head goes from sequence_output over the 20
masked positions per sequence to the weighted cross entropy, and backward
to its parameters, the word embeddings and sequence_output. No optimizer
update on either side. Threads: bench/transformer_vs_torch.py's choice
(OpenMP's default, the CPUs this process may use), for both.

Prints the medians over all rounds, rill / torch, and rill's matmul
GFLOP/s against oneDNN's f32 2048^3 matmul timed in the same rounds.
Targets: rill at most 0.6x torch's time on the encoder step, and at least
70% of the matmul GFLOP/s. Usage: bench/bert_vs_torch.py [ROUNDS]
[--precision bf16]

With --precision bf16, rill also runs both steps with bf16 matrix products
(bert_bench --precision=bf16) in the same rounds, and the script prints
their times, rill f32 / rill bf16 (target: at least 1.6 on the encoder
step) and rill bf16 / torch f32. PyTorch stays f32.
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "models"))
# Sets the BLAS and OpenMP thread counts before torch loads.
import transformer_vs_torch as tvt  # noqa: E402
import make_bert_goldens as golden  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

V, H, A, L, FF, S, P, B = 30522, 768, 12, 2, 3072, 128, 20, 8
MATMUL_DIM = 2048
PER_ROUND = 2  # Steps of each kind per round.
BINARY = "bazel-bin/bench/bert_bench"


def bench_inputs():
    """bert_bench.cc's BenchInputs."""
    length = [S - 12 * b for b in range(B)]
    ids = torch.tensor([[(7919 * b + 104729 * s) % (V - 1) + 1
                         for s in range(S)] for b in range(B)])
    types = torch.tensor([[int(length[b] // 2 <= s < length[b])
                           for s in range(S)] for b in range(B)])
    mask = torch.tensor([[int(s < length[b]) for s in range(S)]
                         for b in range(B)])
    positions = torch.tensor([[1 + j * (length[b] - 1) // P for j in range(P)]
                              for b in range(B)])
    labels = torch.tensor([[(31 * b + 977 * j) % V for j in range(P)]
                           for b in range(B)])
    return dict(input_ids=ids, token_type_ids=types, attention_mask=mask,
                masked_lm_positions=positions, masked_lm_ids=labels,
                masked_lm_weights=torch.ones(B, P))


def torch_model():
    """The golden script's parameters at this size, in f32."""
    golden.V, golden.H, golden.A, golden.L = V, H, A, L
    golden.FF, golden.S, golden.P, golden.B = FF, S, P, B
    golden.MAX_POS = 512
    gen = torch.Generator().manual_seed(16)
    return {name: value.detach().float().requires_grad_()
            for name, value in golden.random_parameters(gen).items()}


def encoder_step(p, x, r):
    word = p["bert.embeddings.word_embeddings.weight"]
    h, _ = golden.encoder(p, x, "gelu", word)  # The pooler gets no gradient.
    loss = (h * r).sum()
    loss.backward()


def mlm_step(p, x, h):
    """cls.predictions on the masked rows only, as rill's graph computes it."""
    rows = h[torch.arange(B)[:, None], x["masked_lm_positions"]]
    t = "cls.predictions.transform."
    dense = F.linear(rows, p[t + "dense.weight"], p[t + "dense.bias"])
    transformed = F.layer_norm(golden.act(dense, "gelu"), (H,),
                               p[t + "LayerNorm.weight"],
                               p[t + "LayerNorm.bias"], golden.EPS)
    logits = F.linear(transformed, p["bert.embeddings.word_embeddings.weight"],
                      p["cls.predictions.bias"])
    w = x["masked_lm_weights"].view(-1)
    ce = F.cross_entropy(logits.view(-1, V), x["masked_lm_ids"].view(-1),
                         reduction="none")
    ((ce * w).sum() / w.sum()).backward()


def timed(body, k):
    ms = []
    for _ in range(k):
        start = time.perf_counter()
        body()
        ms.append((time.perf_counter() - start) * 1e3)
    return ms


def ask(proc, what, k):
    proc.stdin.write(f"{what} {k}\n")
    proc.stdin.flush()
    words = proc.stdout.readline().split()
    if not words or words[0] != what:
        sys.exit(f"bert_bench --serve answered {words!r} to {what}")
    return [float(w) for w in words[1:]]


def parse_args(argv):
    """(rounds, bf16) from [ROUNDS] [--precision f32|bf16]; exits 2 on
    anything else."""
    rounds, bf16, rest = 5, False, list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--precision" and rest and rest[0] in ("f32", "bf16"):
            bf16 = rest.pop(0) == "bf16"
        elif arg.isdigit() and int(arg) > 0:
            rounds = int(arg)
        else:
            print("usage: bench/bert_vs_torch.py [ROUNDS] "
                  "[--precision f32|bf16]", file=sys.stderr)
            sys.exit(2)
    return rounds, bf16


def main():
    rounds, bf16 = parse_args(sys.argv[1:])
    if not os.path.exists(BINARY) or "-opt" not in os.path.realpath("bazel-bin"):
        sys.exit(f"{BINARY} missing or not optimised: "
                 "bazel build -c opt //bench:bert_bench")
    n = tvt.THREADS
    torch.set_num_threads(n)
    proc = subprocess.Popen([BINARY, "--serve"] +
                            (["--precision=bf16"] if bf16 else []),
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS=str(n)))
    if proc.stdout.readline().strip() != "ready":
        sys.exit("bert_bench --serve did not start")
    p = torch_model()
    x = bench_inputs()
    r = torch.rand(B, S, H) * 2 - 1
    h = (torch.rand(B, S, H) * 2 - 1).requires_grad_()

    def clear():
        for v in p.values():
            v.grad = None
        h.grad = None

    def enc():
        clear()
        encoder_step(p, x, r)

    def mlm():
        clear()
        mlm_step(p, x, h)

    timed(enc, 1)  # Warm-up; rill's ran once when it compiled its plans.
    timed(mlm, 1)
    times = {k: [] for k in ("rill_enc", "torch_enc", "rill_mlm", "torch_mlm",
                             "matmul")}
    if bf16:
        times.update({k: [] for k in ("rill_bf16_enc", "rill_bf16_mlm")})
    for _ in range(rounds):
        times["rill_enc"] += ask(proc, "encoder", PER_ROUND)
        if bf16:
            times["rill_bf16_enc"] += ask(proc, "encoder_bf16", PER_ROUND)
        times["torch_enc"] += timed(enc, PER_ROUND)
        times["rill_mlm"] += ask(proc, "mlm", PER_ROUND)
        if bf16:
            times["rill_bf16_mlm"] += ask(proc, "mlm_bf16", PER_ROUND)
        times["torch_mlm"] += timed(mlm, PER_ROUND)
        times["matmul"] += ask(proc, "matmul", PER_ROUND)
    proc.stdin.close()
    proc.wait()
    med = {k: statistics.median(v) for k, v in times.items()}
    peak = 2 * MATMUL_DIM ** 3 / (med["matmul"] * 1e6)
    tokens = B * S
    enc_flops = 3 * L * (4 * 2 * tokens * H * H + 2 * 2 * B * S * S * H +
                         2 * 2 * tokens * H * FF)
    mlm_flops = 3 * (2 * B * P * H * H + 2 * B * P * H * V)
    count = rounds * PER_ROUND
    print(f"BERT L{L} H{H} A{A} ff{FF} S{S} B{B} f32, GELU erf, dropout 0, "
          f"padding mask; MLM head V {V} P {P}; {n} threads; "
          f"torch {torch.__version__} ({tvt.blas_library()})")
    print(f"medians of {count} steps each, {rounds} interleaved rounds")
    print(f"{'figure':<24} {'value':>9}  note")
    print(f"{'matmul_gflops':<24} {peak:9.1f}  oneDNN {MATMUL_DIM}^3 f32")
    for part, flops, target in (("enc", enc_flops, 0.6), ("mlm", mlm_flops,
                                                          None)):
        rill, tor = med["rill_" + part], med["torch_" + part]
        gflops = flops / (rill * 1e6)
        print(f"{'rill_' + part + '_ms':<24} {rill:9.1f}")
        print(f"{'torch_' + part + '_ms':<24} {tor:9.1f}")
        goal = ""
        if target:
            goal = f" (target at most {target}: " + (
                "met)" if rill / tor <= target else "NOT met)")
        print(f"{'rill_over_torch_' + part:<24} {rill / tor:9.2f}{goal}")
        goal = "" if not target else " (target at least 70: " + (
            "met)" if gflops >= 0.7 * peak else "NOT met)")
        print(f"{'rill_' + part + '_pct_of_peak':<24} "
              f"{100 * gflops / peak:9.1f}  {gflops:.1f} GFLOP/s of "
              f"{flops / 1e9:.1f} GFLOP{goal}")
        if not bf16:
            continue
        rill16 = med["rill_bf16_" + part]
        print(f"{'rill_bf16_' + part + '_ms':<24} {rill16:9.1f}")
        speedup = rill / rill16
        goal = "" if not target else " (target at least 1.6: " + (
            "met)" if speedup >= 1.6 else "NOT met)")
        print(f"{'rill_bf16_speedup_' + part:<24} {speedup:9.2f}  "
              f"rill f32 / rill bf16{goal}")
        print(f"{'rill_bf16_over_torch_' + part:<24} {rill16 / tor:9.2f}  "
              "torch in f32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
