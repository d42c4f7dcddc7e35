#include "train/freeze.h"

#include <fnmatch.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rill {

bool MatchesPattern(const std::string& pattern, const std::string& name) {
  // No flags: '*' crosses '/', as in Python's fnmatch.
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

absl::StatusOr<PatternMatch> MatchPatterns(
    const google::protobuf::RepeatedPtrField<std::string>& patterns,
    const std::string& field, const std::vector<std::string>& names) {
  PatternMatch match{std::vector<bool>(names.size(), false)};
  for (int k = 0; k < patterns.size(); ++k) {
    const std::string& pattern = patterns[k];
    const std::string where =
        absl::StrCat(field, "[", k, "] = \"", pattern, "\"");
    if (pattern.empty()) {
      return absl::InvalidArgumentError(where + ": an empty pattern");
    }
    bool any = false;
    for (size_t i = 0; i < names.size(); ++i) {
      if (!MatchesPattern(pattern, names[i])) continue;
      match.matched[i] = any = true;
    }
    if (!any) match.unmatched.push_back(where + ": matches no parameter");
  }
  return match;
}

absl::StatusOr<FreezePlan> PlanFreeze(const TrainConfig& config,
                                      const std::vector<std::string>& names) {
  ASSIGN_OR_RETURN(PatternMatch match,
                   MatchPatterns(config.freeze(), "freeze", names));
  FreezePlan plan;
  plan.warnings = std::move(match.unmatched);
  for (size_t i = 0; i < names.size(); ++i) {
    (match.matched[i] ? plan.frozen : plan.trained).push_back(names[i]);
  }
  if (plan.trained.empty() && !names.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("freeze: the patterns freeze all ", names.size(),
                     " parameters; nothing would be trained"));
  }
  return plan;
}

Optimizer OptimizerForTrained(const Optimizer& optimizer,
                              const FreezePlan& plan) {
  if (!optimizer.has_adamw() || plan.frozen.empty()) return optimizer;
  Optimizer out = optimizer;
  auto* patterns = out.mutable_adamw()->mutable_no_decay();
  patterns->Clear();
  for (const std::string& pattern : optimizer.adamw().no_decay()) {
    auto matches = [&](const std::string& name) {
      return MatchesPattern(pattern, name);
    };
    const bool trained =
        std::any_of(plan.trained.begin(), plan.trained.end(), matches);
    const bool frozen =
        std::any_of(plan.frozen.begin(), plan.frozen.end(), matches);
    // A pattern that matches nothing at all stays, for the optimizer's error.
    if (trained || !frozen) *patterns->Add() = pattern;
  }
  return out;
}

}  // namespace rill
