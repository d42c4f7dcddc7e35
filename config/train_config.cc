#include "config/train_config.h"

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "core/npy.h"
#include "core/threads.h"
#include "graph/loader.h"
#include "models/model_spec.h"

namespace rill {
namespace {

constexpr int64_t kMaxConfigBytes = int64_t{1} << 20;
constexpr int64_t kMaxDataBytes = int64_t{16} << 30;

// The fields that say where the graph and data come from; Trainer::Create
// checks the training fields.
absl::Status CheckSources(const TrainConfig& c) {
  if (c.graph().empty() == c.model_spec().empty()) {
    return FieldError("graph", "give exactly one of graph and model_spec");
  }
  if (c.data().empty()) return FieldError("data", "bind at least one input");
  if (!(c.validation_split() >= 0 && c.validation_split() < 1)) {
    return FieldError("validation_split", absl::StrCat(c.validation_split(),
                                                       ": must be in [0, 1)"));
  }
  if (c.validation_split() > 0 && !c.validation_data().empty()) {
    return FieldError("validation_data",
                      "give validation_split or validation_data, not both");
  }
  return absl::OkStatus();
}

// The graph that config.graph names, or the one config.model_spec's spec
// describes (BuildModel).
absl::StatusOr<ValidGraph> LoadGraph(const TrainConfig& config,
                                     const std::string& config_dir,
                                     const MemoryBudget& budget) {
  LoadedGraph loaded;
  if (config.model_spec().empty()) {
    ASSIGN_OR_RETURN(std::string graph_path,
                     ConfigPath(config_dir, "graph", config.graph()));
    absl::StatusOr<LoadedGraph> graph = LoadGraphFile(graph_path);
    if (!graph.ok()) return Annotate(graph.status(), "graph");
    loaded = *std::move(graph);
  } else {
    ASSIGN_OR_RETURN(std::string spec_path,
                     ConfigPath(config_dir, "model_spec", config.model_spec()));
    absl::StatusOr<Graph> graph = BuildModelFile(spec_path, budget);
    if (!graph.ok()) return Annotate(graph.status(), "model_spec");
    const auto& outputs = graph->output();
    if (std::find(outputs.begin(), outputs.end(), "loss") == outputs.end()) {
      return FieldError(
          "model_spec",
          absl::StrCat(spec_path,
                       ": its graph has no output 'loss' (a bare recurrent "
                       "stack has no head and no loss), so there is nothing "
                       "to train; give the spec a head and a loss"));
    }
    loaded = LoadedGraph{*std::move(graph), SourceMap(spec_path)};
  }
  ValidateOptions options;
  options.memory_budget = budget.bytes;
  return ValidateGraph(std::move(loaded), options);
}

bool IsPattern(const std::string& file) {
  return file.find_first_of("*?[") != std::string::npos;
}

// The regular files that `pattern` (a path inside the config's directory)
// matches, in byte order: shard 00000 before 00001.
absl::StatusOr<std::vector<std::string>> MatchShards(const std::string& pattern,
                                                     const std::string& field) {
  glob_t matches;
  const int result = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &matches);
  std::vector<std::string> paths;
  if (result == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      std::error_code error;
      if (std::filesystem::is_regular_file(matches.gl_pathv[i], error)) {
        paths.push_back(matches.gl_pathv[i]);
      }
    }
  }
  if (result != GLOB_NOMATCH) globfree(&matches);
  if (result != 0 && result != GLOB_NOMATCH) {
    return FieldError(field,
                      absl::StrCat("cannot list the files of ", pattern));
  }
  if (paths.empty()) {
    return FieldError(field, absl::StrCat(pattern, ": matches no file"));
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

// A binding's data: one .npy read into memory, or the shards a pattern
// matches, streamed.
absl::StatusOr<DataArray> LoadArray(const std::string& path,
                                    const std::string& field) {
  if (IsPattern(path)) {
    ASSIGN_OR_RETURN(std::vector<std::string> paths, MatchShards(path, field));
    absl::StatusOr<DataArray> shards = DataArray::OpenShards(paths);
    if (!shards.ok()) return Annotate(shards.status(), field);
    return shards;
  }
  absl::StatusOr<Tensor> array = ReadNpy(path, kMaxDataBytes);
  if (!array.ok()) return Annotate(array.status(), field);
  return DataArray(*std::move(array));
}

// Each binding's .npy (or shards), checked against its graph Input.
absl::StatusOr<Dataset> LoadArrays(
    const google::protobuf::RepeatedPtrField<DataBinding>& bindings,
    const std::string& field, const std::string& dir, const ValidGraph& g) {
  Dataset data;
  for (int i = 0; i < bindings.size(); ++i) {
    const DataBinding& b = bindings[i];
    std::string where = absl::StrCat(field, "[", i, "]");
    ASSIGN_OR_RETURN(std::string path,
                     ConfigPath(dir, where + ".file", b.file()));
    ASSIGN_OR_RETURN(DataArray array, LoadArray(path, where + ".file"));
    data.inputs.push_back(b.input());
    data.arrays.push_back(std::move(array));
    data.sources.push_back(b.file());
  }
  RETURN_IF_ERROR(CheckDataset(g, data, field));
  RETURN_IF_ERROR(CheckIndexRanges(g, data, field));
  return data;
}

}  // namespace

absl::StatusOr<TrainConfig> LoadTrainConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, kMaxConfigBytes));
  return ParseTrainConfig(text, path);
}

absl::StatusOr<TrainConfig> ParseTrainConfig(absl::string_view text,
                                             const std::string& name) {
  TrainConfig config;
  RETURN_IF_ERROR(ParseTextProto(text, name, kMaxConfigBytes, &config));
  return config;
}

absl::StatusOr<TrainSetup> LoadTrainSetup(const TrainConfig& config,
                                          const std::string& config_dir,
                                          TrainOptions options,
                                          const TrainSetupOptions& setup) {
  RETURN_IF_ERROR(CheckSources(config));
  // Fixed thread counts give fixed reduction orders in oneDNN: runs with
  // the same seed and thread count give identical losses.
  RETURN_IF_ERROR(setup.threads >= 0 ? SetThreads(setup.threads, "--threads")
                                     : SetThreads(config.threads(), "threads"));
  ASSIGN_OR_RETURN(ValidGraph graph,
                   LoadGraph(config, config_dir, setup.memory_budget));
  ASSIGN_OR_RETURN(Dataset all,
                   LoadArrays(config.data(), "data", config_dir, graph));
  TrainData data;
  if (!config.validation_data().empty()) {
    data.train = std::move(all);
    ASSIGN_OR_RETURN(data.validation,
                     LoadArrays(config.validation_data(), "validation_data",
                                config_dir, graph));
  } else {
    int64_t held_out = static_cast<int64_t>(
        std::llround(all.size() * config.validation_split()));
    ASSIGN_OR_RETURN(auto parts, all.SplitAt(all.size() - held_out));
    data.train = std::move(parts.first);
    if (held_out > 0) data.validation = std::move(parts.second);
  }
  options.config = config;
  if (!setup.precision.empty()) options.config.set_precision(setup.precision);
  if (options.tensorboard_dir.empty() && !config.tensorboard_dir().empty()) {
    ASSIGN_OR_RETURN(
        options.tensorboard_dir,
        ConfigPath(config_dir, "tensorboard_dir", config.tensorboard_dir()));
  }
  if (setup.resume) {
    options.config.clear_init_from();
  } else if (!setup.init_from.empty()) {
    options.config.mutable_init_from()->set_path(setup.init_from);
  } else if (config.has_init_from()) {
    ASSIGN_OR_RETURN(std::string path, ConfigPath(config_dir, "init_from.path",
                                                  config.init_from().path()));
    options.config.mutable_init_from()->set_path(path);
  }
  if (config.loss().empty() && !config.model_spec().empty()) {
    options.config.set_loss("loss");  // The spec's.
  }
  if (config.metric().empty() && !config.model_spec().empty() &&
      data.validation.size() > 0) {
    ASSIGN_OR_RETURN(std::string spec_path,
                     ConfigPath(config_dir, "model_spec", config.model_spec()));
    ASSIGN_OR_RETURN(ModelSpec spec, LoadModelSpec(spec_path));
    for (Metric& m : DefaultMetrics(spec)) {
      *options.config.add_metric() = std::move(m);
    }
  }
  return TrainSetup{std::move(graph), std::move(data), std::move(options)};
}

absl::StatusOr<std::unique_ptr<Trainer>> CreateTrainer(
    const TrainConfig& config, const std::string& config_dir,
    TrainOptions options, const TrainSetupOptions& setup) {
  ASSIGN_OR_RETURN(TrainSetup s, LoadTrainSetup(config, config_dir,
                                                std::move(options), setup));
  return Trainer::Create(std::move(s.graph), std::move(s.data),
                         std::move(s.options));
}

absl::StatusOr<std::unique_ptr<Trainer>> CreateTrainer(
    const std::string& path, TrainOptions options,
    const TrainSetupOptions& setup) {
  ASSIGN_OR_RETURN(TrainConfig config, LoadTrainConfig(path));
  std::string dir = std::filesystem::path(path).parent_path().string();
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      CreateTrainer(config, dir.empty() ? "." : dir, std::move(options), setup);
  if (!trainer.ok()) return Annotate(trainer.status(), path);
  return trainer;
}

}  // namespace rill
