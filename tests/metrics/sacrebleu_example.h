#ifndef RILL_TESTS_METRICS_SACREBLEU_EXAMPLE_H_
#define RILL_TESTS_METRICS_SACREBLEU_EXAMPLE_H_

// The corpus example of sacreBLEU's README, used throughout its
// test/test_bleu.py: three hypotheses and two reference streams.

#include <string>
#include <vector>

namespace rill {

inline const std::vector<std::string> kHyps = {
    "The dog bit the man.",
    "It wasn't surprising.",
    "The man had just bitten him.",
};
inline const std::vector<std::vector<std::string>> kRefs = {
    {"The dog bit the man.", "It was not unexpected.",
     "The man bit him first."},
    {"The dog had bit the man.", "No one was surprised.",
     "The man had bitten the dog."},
};

}  // namespace rill

#endif  // RILL_TESTS_METRICS_SACREBLEU_EXAMPLE_H_
