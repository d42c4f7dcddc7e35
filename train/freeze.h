#ifndef RILL_TRAIN_FREEZE_H_
#define RILL_TRAIN_FREEZE_H_

// TrainConfig.freeze: which parameters a run leaves as they are.

#include <string>
#include <vector>

#include "core/status.h"
#include "proto/train.pb.h"

namespace rill {

struct FreezePlan {
  // Each of `names` in one of the two, in the order given.
  std::vector<std::string> trained, frozen;
  // One per pattern that matches no name ("freeze[1] = \"x*\": matches no
  // parameter").
  std::vector<std::string> warnings;
};

// Splits the parameter `names` by the config's freeze patterns (fnmatch
// without flags, as AdamW's no_decay). An empty pattern, or patterns that
// leave nothing to train, are errors naming the field.
absl::StatusOr<FreezePlan> PlanFreeze(const TrainConfig& config,
                                      const std::vector<std::string>& names);

// `optimizer` for the trained parameters alone: an AdamW no_decay pattern
// that matches only frozen parameters is dropped (the optimizer requires
// each pattern to match one of its parameters).
Optimizer OptimizerForTrained(const Optimizer& optimizer,
                              const FreezePlan& plan);

// The fnmatch test freeze and no_decay share: "*" crosses "/" and ".".
bool MatchesPattern(const std::string& pattern, const std::string& name);

struct PatternMatch {
  std::vector<bool> matched;  // Per name: whether a pattern matches it.
  // Per pattern that matches no name: "<field>[k] = \"p\": matches no
  // parameter".
  std::vector<std::string> unmatched;
};

// `names` against the shell patterns of config field `field`; an empty
// pattern is an error naming it.
absl::StatusOr<PatternMatch> MatchPatterns(
    const google::protobuf::RepeatedPtrField<std::string>& patterns,
    const std::string& field, const std::vector<std::string>& names);

}  // namespace rill

#endif  // RILL_TRAIN_FREEZE_H_
