// Trainer's checkpoints: what a checkpoint holds besides the parameters
// (optimizer state, random draws, the best evaluation, the run's plan),
// saving it, resuming from the newest intact one, and the parameters a
// run starts from (init_from). The training loop is in trainer.cc.

#include <filesystem>
#include <map>
#include <optional>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/checkpoint.h"
#include "core/dtype.h"
#include "google/protobuf/text_format.h"
#include "train/init_from.h"
#include "train/trainer.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

constexpr char kOptimizerPrefix[] = "opt/";
// Draw counts of the random ops (Executor::random_draws): of the training
// graph, and of the evaluation graph when it is a separate one.
constexpr char kRandomPrefix[] = "rng/";
constexpr char kEvalRandomPrefix[] = "eval_rng/";
// The best evaluation so far (keep_best, early stopping): "best/value",
// "best/step" and "best/evals_since".
constexpr char kBestPrefix[] = "best/";

Tensor Int64Scalar(int64_t v) {
  Tensor t = *Tensor::Allocate(DType::kI64, Shape{});  // 8 bytes.
  t.data<int64_t>()[0] = v;
  return t;
}

// What the run was asked to do, saved beside the state so that a resume
// with another plan says so: "run/steps", "run/epochs", "run/total_steps",
// "run/learning_rate", and "run/schedule", the schedule's text proto one
// character per i32 (a checkpoint holds numeric tensors only).
constexpr char kPlanPrefix[] = "run/";

std::string ScheduleText(const Schedule& schedule) {
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintToString(schedule, &text);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? "constant {}" : text;
}

// A short text one character per i32 (a checkpoint holds numeric tensors
// only); PlanValue reads it back.
Tensor CharsTensor(const std::string& text) {
  Tensor chars = *Tensor::Allocate(
      DType::kI32, Shape{static_cast<int64_t>(text.size())});  // Short.
  for (size_t i = 0; i < text.size(); ++i) {
    chars.data<int32_t>()[i] = static_cast<unsigned char>(text[i]);
  }
  return chars;
}

std::vector<std::pair<std::string, Tensor>> PlanTensors(const TrainConfig& c,
                                                        int64_t total_steps) {
  std::vector<std::pair<std::string, Tensor>> plan;
  for (auto [name, value] : {std::pair{"steps", c.steps()},
                             {"epochs", c.epochs()},
                             {"total_steps", total_steps}}) {
    plan.push_back({kPlanPrefix + std::string(name), Int64Scalar(value)});
  }
  Tensor lr = *Tensor::Allocate(DType::kF64, Shape{});  // 8 bytes.
  lr.data<double>()[0] = c.optimizer().learning_rate();
  plan.push_back({std::string(kPlanPrefix) + "learning_rate", std::move(lr)});
  plan.push_back({std::string(kPlanPrefix) + "schedule",
                  CharsTensor(ScheduleText(c.schedule()))});
  return plan;
}

// A saved plan tensor as text, or "" when it is missing or malformed.
std::string PlanValue(const Tensor* t) {
  if (t == nullptr) return "";
  if (t->dtype() == DType::kI64 && t->num_elements() == 1) {
    return absl::StrCat(t->data<int64_t>()[0]);
  }
  if (t->dtype() == DType::kF64 && t->num_elements() == 1) {
    return absl::StrCat(t->data<double>()[0]);
  }
  std::string text;
  if (t->dtype() != DType::kI32) return text;
  for (int64_t i = 0; i < t->num_elements(); ++i) {
    text += static_cast<char>(t->data<int32_t>()[i]);
  }
  return text;
}

}  // namespace

absl::Status Trainer::Save(const std::string& path) {
  // A run stopped before its first step has not drawn its parameters yet.
  executor_->mutable_parameters();
  Checkpoint c;
  c.step = step_;
  c.rng_state = order_->Save();
  for (size_t p = 0; p < params_.size(); ++p) {
    ASSIGN_OR_RETURN(Tensor copy, params_[p]->Clone());
    c.tensors.push_back({ParamTensorName(param_names_[p]), std::move(copy)});
  }
  for (size_t p = 0; p < frozen_.size(); ++p) {
    ASSIGN_OR_RETURN(Tensor copy, frozen_[p]->Clone());
    c.tensors.push_back({ParamTensorName(frozen_names_[p]), std::move(copy)});
  }
  for (auto& [name, state] : optimizer_->StateTensors()) {
    ASSIGN_OR_RETURN(Tensor copy, state->Clone());
    c.tensors.push_back({kOptimizerPrefix + name, std::move(copy)});
  }
  c.tensors.push_back({std::string(kOptimizerPrefix) + "steps_taken",
                       Int64Scalar(optimizer_->steps_taken())});
  for (const auto& [prefix, executor] : RandomStreams()) {
    for (const auto& [node, draws] : executor->random_draws()) {
      c.tensors.push_back({prefix + node, Int64Scalar(draws)});
    }
  }
  for (auto& plan : PlanTensors(config_, total_steps_)) {
    c.tensors.push_back(std::move(plan));
  }
  if (best_step_ >= 0) {
    Tensor value = *Tensor::Allocate(DType::kF64, Shape{});  // 8 bytes.
    value.data<double>()[0] = best_value_;
    c.tensors.push_back({std::string(kBestPrefix) + "value", std::move(value)});
    c.tensors.push_back(
        {std::string(kBestPrefix) + "step", Int64Scalar(best_step_)});
    c.tensors.push_back({std::string(kBestPrefix) + "evals_since",
                         Int64Scalar(evals_since_best_)});
    c.tensors.push_back(
        {std::string(kBestPrefix) + "metric", CharsTensor(watched_)});
  }
  return WriteCheckpoint(path, c);
}

std::vector<std::pair<std::string, Executor*>> Trainer::RandomStreams() {
  return {{kRandomPrefix, executor_.get()}};
}

absl::StatusOr<std::pair<std::string, Checkpoint>> Trainer::ReadNewestIntact(
    const std::string& path) const {
  // Damage is what a reader reports as DataLoss (truncation, a CRC) or as
  // not being a checkpoint at all (a file zeroed by a crash).
  auto damaged = [](const absl::Status& s) {
    return absl::IsDataLoss(s) || absl::IsInvalidArgument(s);
  };
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    absl::StatusOr<Checkpoint> c = ReadCheckpoint(path);
    if (!c.ok() && damaged(c.status())) {
      return absl::Status(
          c.status().code(),
          absl::StrCat(c.status().message(),
                       "; --resume DIR falls back past a damaged newest "
                       "checkpoint to the newest intact one"));
    }
    RETURN_IF_ERROR(c.status());
    return std::pair{path, *std::move(c)};
  }
  ASSIGN_OR_RETURN(std::string newest, CheckpointFile(path));  // NotFound.
  std::vector<std::string> files = CheckpointsIn(path);
  std::vector<std::string> passed;
  for (auto file = files.rbegin(); file != files.rend(); ++file) {
    absl::StatusOr<Checkpoint> c = ReadCheckpoint(*file);
    if (c.ok()) {
      if (!passed.empty()) {
        Warn(absl::StrCat("resuming from ", *file, " (step ", c->step,
                          "), the newest intact checkpoint, instead of the "
                          "damaged ",
                          absl::StrJoin(passed, ", ")));
      }
      return std::pair{*file, *std::move(c)};
    }
    if (!damaged(c.status())) return c.status();
    Warn(absl::StrCat(c.status().message(), " (a damaged checkpoint)"));
    passed.push_back(*file);
  }
  return absl::DataLossError(absl::StrCat(
      path, ": every checkpoint in it is damaged (",
      absl::StrJoin(passed, ", "), "); start over with --overwrite"));
}

void Trainer::ReportPlanChanges(
    const std::string& file,
    std::map<std::string, const Tensor*>& saved) const {
  std::vector<std::string> changes;
  for (const auto& [name, now] : PlanTensors(config_, total_steps_)) {
    auto it = saved.find(name);
    if (it == saved.end()) continue;  // Saved before plans were.
    std::string before = PlanValue(it->second), after = PlanValue(&now);
    saved.erase(it);
    if (before == after) continue;
    changes.push_back(absl::StrCat(name.substr(std::strlen(kPlanPrefix)), " ",
                                   before, " -> ", after));
  }
  for (auto it = saved.begin(); it != saved.end();) {  // A newer plan's.
    it = it->first.rfind(kPlanPrefix, 0) == 0 ? saved.erase(it) : ++it;
  }
  if (changes.empty()) return;
  Warn(absl::StrCat(
      file, " was saved by a run with another plan (saved -> this config): ",
      absl::StrJoin(changes, ", "),
      "; the run continues on this config's, with the learning-rate schedule "
      "computed over its ",
      total_steps_, " steps"));
}

absl::Status Trainer::Restore(const std::string& path) {
  ASSIGN_OR_RETURN(auto read, ReadNewestIntact(path));
  const std::string& file = read.first;
  const Checkpoint& c = read.second;
  std::map<std::string, const Tensor*> saved;
  for (const auto& [name, t] : c.tensors) saved[name] = &t;
  ReportPlanChanges(file, saved);
  // Everything is checked before anything is overwritten.
  std::vector<std::pair<Tensor*, const Tensor*>> copies;
  auto expect = [&](const std::string& name, Tensor* into) -> absl::Status {
    auto it = saved.find(name);
    if (it == saved.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          file, ": from a different graph or optimizer: it has no '", name,
          "'"));
    }
    if (it->second->dtype() != into->dtype() ||
        it->second->shape() != into->shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          file, ": from a different graph or optimizer: '", name, "' is ",
          DTypeName(it->second->dtype()), it->second->shape().ToString(),
          " there but ", DTypeName(into->dtype()), into->shape().ToString(),
          " here"));
    }
    copies.push_back({into, it->second});
    saved.erase(it);
    return absl::OkStatus();
  };
  for (size_t p = 0; p < params_.size(); ++p) {
    RETURN_IF_ERROR(expect(ParamTensorName(param_names_[p]), params_[p]));
  }
  for (size_t p = 0; p < frozen_.size(); ++p) {
    RETURN_IF_ERROR(expect(ParamTensorName(frozen_names_[p]), frozen_[p]));
  }
  for (auto& [name, state] : optimizer_->StateTensors()) {
    RETURN_IF_ERROR(expect(kOptimizerPrefix + name, state));
  }
  Tensor steps = Int64Scalar(0);
  RETURN_IF_ERROR(
      expect(std::string(kOptimizerPrefix) + "steps_taken", &steps));
  // Checkpoints written before random streams were saved have none; they
  // resume, but their dropout masks differ from an uninterrupted run's.
  bool has_streams = false;
  for (const auto& [name, t] : saved) {
    for (const char* prefix : {kRandomPrefix, kEvalRandomPrefix}) {
      has_streams = has_streams || name.rfind(prefix, 0) == 0;
    }
  }
  std::vector<std::pair<Executor*, std::map<std::string, Tensor>>> draws;
  for (const auto& [prefix, executor] : RandomStreams()) {
    std::map<std::string, Tensor> counts;
    for (const auto& [node, unused] : executor->random_draws()) {
      counts[node] = Int64Scalar(0);
    }
    if (has_streams) {
      for (auto& [node, count] : counts) {
        RETURN_IF_ERROR(expect(prefix + node, &count));
        if (copies.back().second->data<int64_t>()[0] < 0) {
          return absl::DataLossError(absl::StrCat(
              file, ": '", prefix, node, "' holds a negative draw count"));
        }
      }
    } else if (!counts.empty()) {
      Warn(absl::StrCat(file,
                        " has no random-stream state (it predates it); the "
                        "resumed run draws other dropout masks than an "
                        "uninterrupted one would"));
    }
    draws.push_back({executor, std::move(counts)});
  }
  // The best evaluation so far, when the saved run tracked one; a run that
  // watches another metric than the saved one starts its tracking anew.
  std::optional<std::tuple<double, int64_t, int64_t>> best;
  {
    auto value = saved.find(std::string(kBestPrefix) + "value");
    auto at = saved.find(std::string(kBestPrefix) + "step");
    auto since = saved.find(std::string(kBestPrefix) + "evals_since");
    auto metric = saved.find(std::string(kBestPrefix) + "metric");
    if (value != saved.end() && at != saved.end() && since != saved.end() &&
        metric != saved.end() && PlanValue(metric->second) == watched_ &&
        value->second->dtype() == DType::kF64 &&
        at->second->dtype() == DType::kI64 &&
        since->second->dtype() == DType::kI64) {
      best = {value->second->data<double>()[0], at->second->data<int64_t>()[0],
              since->second->data<int64_t>()[0]};
    }
    for (auto it = saved.begin(); it != saved.end();) {
      it = it->first.rfind(kBestPrefix, 0) == 0 ? saved.erase(it) : ++it;
    }
  }
  // Checkpoints from before evaluation ran in inference mode on the
  // training executor kept the draw counts of a separate evaluation graph,
  // whose Dropouts were off and drew nothing: nothing to restore.
  for (auto it = saved.begin(); it != saved.end();) {
    it = it->first.rfind(kEvalRandomPrefix, 0) == 0 ? saved.erase(it) : ++it;
  }
  if (!saved.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": from a different graph: '", saved.begin()->first,
                     "' is not a parameter of this one"));
  }
  BatchOrder order = *order_;
  RETURN_IF_ERROR(Annotate(order.Restore(c.rng_state), file));
  // Every Parameter is among the copies (checked above): none is drawn.
  RETURN_IF_ERROR(executor_->OverwriteParameters(
      [&](const std::map<std::string, Tensor*>&) {
        for (auto [into, from] : copies) {
          std::memcpy(into->raw_data(), from->raw_data(), from->byte_size());
        }
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(optimizer_->set_steps_taken(steps.data<int64_t>()[0]));
  for (auto& [executor, counts] : draws) {
    std::map<std::string, int64_t> values;
    for (auto& [node, count] : counts) values[node] = count.data<int64_t>()[0];
    RETURN_IF_ERROR(Annotate(executor->set_random_draws(values), file));
  }
  *order_ = std::move(order);
  step_ = c.step;
  restored_ = true;
  if (best.has_value() && !watched_.empty()) {
    std::tie(best_value_, best_step_, evals_since_best_) = *best;
  }
  return absl::OkStatus();
}

absl::Status Trainer::LoadInitialParameters() {
  // The initializers of what init_from loads are never drawn; the others
  // are at the first run (or not at all, when --resume replaces them).
  std::map<std::string, Tensor*> params;
  for (const std::string& name : param_names_) {
    params[name] = executor_->parameter_buffer(name);
  }
  for (const std::string& name : frozen_names_) {
    params[name] = executor_->parameter_buffer(name);
  }
  std::optional<InitFromReport> report;
  if (config_.has_init_from()) {
    RETURN_IF_ERROR(executor_->OverwriteSomeParameters(
        [&](const std::map<std::string, Tensor*>& all)
            -> absl::StatusOr<std::vector<std::string>> {
          ASSIGN_OR_RETURN(report, LoadInitialValues(config_.init_from(), all));
          std::vector<std::string> loaded;
          for (const InitEntry& e : report->loaded) loaded.push_back(e.name);
          return loaded;
        }));
  }
  const FreezePlan plan{param_names_, frozen_names_};
  const InitFromReport* r = report.has_value() ? &*report : nullptr;
  init_summary_ = InitSummary(r, plan, config_, params, /*full=*/true);
  std::string brief = InitSummary(r, plan, config_, params, /*full=*/false);
  if (brief.empty()) return absl::OkStatus();
  brief.pop_back();  // Log adds the newline.
  if (!options_.out_dir.empty()) {
    absl::StrAppend(&brief, "\n(every name, with its type, in ",
                    (fs::path(options_.out_dir) / "init_from.txt").string(),
                    ")");
  }
  Log(brief);
  return absl::OkStatus();
}

}  // namespace rill
