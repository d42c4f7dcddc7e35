// Scores a synthetic corpus of 100k segments with rill's corpus BLEU
// (tokenize none, no smoothing) and reports the score and the time. With a
// directory argument it also writes the corpus there (hyp.txt, ref.txt) so
// that bench/bleu_vs_nltk.py can score the same data with NLTK.
//
//   bazel run -c opt //bench:bleu_bench -- [DIR]

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/file_io.h"
#include "metrics/bleu.h"

namespace rill {
namespace {

constexpr int kSegments = 100000;
constexpr int kVocabulary = 5000;

// A fixed linear congruential generator: the same corpus on every machine.
struct Lcg {
  uint64_t state = 20261128;
  uint32_t Next(uint32_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33) % bound;
  }
};

// References of 8-40 words; each hypothesis copies its reference with about
// a fifth of the words replaced, dropped or duplicated.
void MakeCorpus(std::vector<std::string>* hyps,
                std::vector<std::string>* refs) {
  Lcg rng;
  for (int s = 0; s < kSegments; ++s) {
    int length = 8 + static_cast<int>(rng.Next(33));
    std::vector<std::string> ref, hyp;
    for (int i = 0; i < length; ++i)
      ref.push_back(absl::StrCat("w", rng.Next(kVocabulary)));
    for (const std::string& w : ref) {
      switch (rng.Next(15)) {
        case 0:
          hyp.push_back(absl::StrCat("w", rng.Next(kVocabulary)));
          break;
        case 1:
          break;
        case 2:
          hyp.push_back(w);
          hyp.push_back(w);
          break;
        default:
          hyp.push_back(w);
      }
    }
    refs->push_back(absl::StrJoin(ref, " "));
    hyps->push_back(absl::StrJoin(hyp, " "));
  }
}

int Main(int argc, char** argv) {
  std::vector<std::string> hyps, refs;
  MakeCorpus(&hyps, &refs);
  if (argc > 1) {
    std::string dir = argv[1];
    absl::Status s =
        WriteFileAtomic(dir + "/hyp.txt", absl::StrJoin(hyps, "\n") + "\n");
    if (s.ok())
      s = WriteFileAtomic(dir + "/ref.txt", absl::StrJoin(refs, "\n") + "\n");
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  BleuOptions options;
  options.tokenizer = Tokenizer::kNone;
  options.smoothing = Smoothing::kNone;
  double best = 1e30;
  BleuScore score;
  for (int rep = 0; rep < 5; ++rep) {
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<BleuScore> s = CorpusBleu(hyps, {refs}, options);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.status().ToString().c_str());
      return 1;
    }
    score = *s;
    best = std::min(best, seconds);
  }
  std::printf("segments %d\nrill_bleu %.12f\nrill_seconds %.6f\n", kSegments,
              score.score, best);
  return 0;
}

}  // namespace
}  // namespace rill

int main(int argc, char** argv) { return rill::Main(argc, argv); }
