#include "train/init_from.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/checkpoint.h"
#include "core/file_io.h"
#include "core/mapped_file.h"
#include "core/npy.h"
#include "core/quote.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

constexpr char kExpected[] =
    "init_from takes a rill checkpoint (.rckpt), a directory of them (the "
    "newest is read), or a directory of <name>.npy files, one per parameter";

absl::Status InitError(const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("init_from: ", why));
}

std::string TypeOf(DType dtype, const Shape& shape) {
  return absl::StrCat(DTypeName(dtype), shape.ToString());
}

// A source entry's type, and where its data is.
struct SourceEntry {
  DType dtype;
  Shape shape;
  std::string file;
  int64_t npy_offset = -1;  // A .npy file's data offset; -1: the checkpoint.
};

struct Source {
  std::string path, kind;
  std::map<std::string, SourceEntry> entries;  // By source name.
  std::optional<CheckpointParameterViews> checkpoint;
  int64_t max_bytes = 0;

  absl::Status CopyTo(const std::string& name, Tensor& into) const {
    const SourceEntry& e = entries.at(name);
    if (e.npy_offset < 0) {
      checkpoint->CopyTo(name, into);
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(e.file, max_bytes));
    if (file.bytes().size() < static_cast<size_t>(e.npy_offset) +
                                  into.num_elements() * DTypeSize(e.dtype)) {
      return absl::DataLossError(absl::StrCat(
          "init_from: ", e.file, ": shorter than when it was checked"));
    }
    const char* data = file.bytes().data() + e.npy_offset;
    if (e.dtype == into.dtype()) {
      std::memcpy(into.raw_data(), data, into.byte_size());
      return absl::OkStatus();
    }
    float* to = into.data<float>();  // Converted: Converts() allowed it.
    for (int64_t i = 0; i < into.num_elements(); ++i) {
      double v;
      std::memcpy(&v, data + i * sizeof(double), sizeof(double));
      to[i] = static_cast<float>(v);
    }
    return absl::OkStatus();
  }
};

// Whether entry `e` can be loaded into `into`: the same dtype, or, from a
// .npy file, f64 into f32 (PyTorch exports in double, as `rill bert
// import-hf` accepts them).
bool Converts(const SourceEntry& e, const Tensor& into) {
  return e.dtype == into.dtype() ||
         (e.npy_offset >= 0 && e.dtype == DType::kF64 &&
          into.dtype() == DType::kF32);
}

// What a file that is no rill checkpoint is, from its first bytes.
std::string DescribeFile(absl::string_view head) {
  if (head.empty()) return "empty";
  if (absl::StartsWith(head, "\x93NUMPY")) {
    return "a single .npy array (give the directory that holds it)";
  }
  if (absl::StartsWith(head, "PK\x03\x04")) {
    return "a ZIP archive (torch.save writes these: save each state_dict "
           "entry with np.save instead)";
  }
  if (head[0] == '\x80') {
    return "a Python pickle (save each state_dict entry with np.save "
           "instead)";
  }
  const bool text = std::all_of(head.begin(), head.end(), [](char c) {
    return (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t';
  });
  return absl::StrCat(text ? "a text file" : "binary data", " starting with ",
                      QuoteForMessage(head.substr(0, 24), 24, '"'));
}

absl::StatusOr<Source> OpenNpyDirectory(const std::string& dir,
                                        int64_t max_bytes) {
  Source s{dir, "directory of .npy files"};
  s.max_bytes = max_bytes;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!absl::EndsWith(name, ".npy") || !e.is_regular_file(ec)) continue;
    ASSIGN_OR_RETURN(NpyLayout layout, ReadNpyLayout(e.path().string()));
    s.entries[name.substr(0, name.size() - 4)] = {
        layout.dtype, layout.shape, e.path().string(), layout.data_offset};
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("init_from: cannot list ", dir, ": ", ec.message()));
  }
  if (s.entries.empty()) {
    return InitError(absl::StrCat(
        dir, " holds neither a ckpt-<step>.rckpt checkpoint nor .npy files; ",
        kExpected));
  }
  return s;
}

absl::StatusOr<Source> OpenSource(const std::string& path, int64_t max_bytes) {
  if (path.empty()) return InitError("path: required");
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return absl::NotFoundError(
        absl::StrCat("init_from: ", path, ": no such file or directory"));
  }
  std::string file = path;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> checkpoints = CheckpointsIn(path);
    if (checkpoints.empty()) return OpenNpyDirectory(path, max_bytes);
    file = checkpoints.back();
  }
  {
    ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(file, max_bytes));
    const absl::string_view head = mapped.bytes().substr(0, 32);
    const absl::string_view magic = "RILLCKPT";
    if (head.empty() || !absl::StartsWith(magic, head.substr(0, 8))) {
      return InitError(absl::StrCat(file, " is ", DescribeFile(head),
                                    ", not a rill checkpoint; ", kExpected));
    }
  }
  absl::StatusOr<CheckpointParameterViews> views =
      CheckpointParameterViews::Open(file, max_bytes);
  if (!views.ok()) {
    return absl::Status(
        views.status().code(),
        absl::StrCat("init_from: ", views.status().message(),
                     " (a damaged rill checkpoint; expected an intact one)"));
  }
  Source s{file, "rill checkpoint"};
  for (const auto& [name, t] : views->views()) {
    s.entries[name] = {t.dtype(), t.shape(), file};
  }
  s.checkpoint.emplace(*std::move(views));
  return s;
}

std::string Renamed(const InitFrom& spec, const std::string& name) {
  for (const PrefixRename& r : spec.rename()) {
    if (absl::StartsWith(name, r.from())) {
      return r.to() + name.substr(r.from().size());
    }
  }
  return name;
}

bool IsSeparator(char c) { return c == '.' || c == '/'; }

std::string Renamed(const PrefixRename& r, const std::string& name) {
  InitFrom one;
  *one.add_rename() = r;
  return Renamed(one, name);
}

// The prefix rename that makes the most source names match, among those
// that pairs of names vote for: pairs that end alike from a name component
// on, e.g. "encoder.l0.w" and "bert.encoder.l0.w" vote for "" -> "bert.".
// nullopt when none matches anything.
std::optional<PrefixRename> SuggestRename(
    const std::vector<std::string>& source,
    const std::map<std::string, Tensor*>& params) {
  constexpr size_t kMaxNames = 400, kMaxTried = 20;
  std::map<std::pair<std::string, std::string>, int> votes;
  for (size_t i = 0; i < std::min(source.size(), kMaxNames); ++i) {
    const std::string& s = source[i];
    size_t j = 0;
    for (auto p = params.begin(); p != params.end() && j < kMaxNames;
         ++p, ++j) {
      const std::string& g = p->first;
      size_t n = 0;
      while (n < s.size() && n < g.size() &&
             s[s.size() - 1 - n] == g[g.size() - 1 - n]) {
        ++n;
      }
      for (; n > 0; --n) {
        const size_t si = s.size() - n, gi = g.size() - n;
        if ((si == 0 || IsSeparator(s[si - 1])) &&
            (gi == 0 || IsSeparator(g[gi - 1]))) {
          break;
        }
      }
      if (n == 0 || (n == s.size() && n == g.size())) continue;
      ++votes[{s.substr(0, s.size() - n), g.substr(0, g.size() - n)}];
    }
  }
  std::vector<std::pair<int, std::pair<std::string, std::string>>> ranked;
  for (const auto& [rename, count] : votes) ranked.push_back({-count, rename});
  std::sort(ranked.begin(), ranked.end());
  if (ranked.size() > kMaxTried) ranked.resize(kMaxTried);
  std::optional<PrefixRename> best;
  int best_matches = 0;
  for (const auto& [unused, rename] : ranked) {
    PrefixRename r;
    r.set_from(rename.first);
    r.set_to(rename.second);
    int matches = 0;
    for (const std::string& name : source) {
      matches += params.count(Renamed(r, name)) > 0;
    }
    if (matches > best_matches) {
      best = r;
      best_matches = matches;
    }
  }
  return best;
}

std::string FewNames(const std::vector<std::string>& names) {
  std::vector<std::string> quoted;
  for (size_t i = 0; i < std::min<size_t>(names.size(), 4); ++i) {
    quoted.push_back(QuoteForMessage(names[i]));
  }
  return absl::StrCat(absl::StrJoin(quoted, ", "),
                      names.size() > 4 ? ", ..." : "");
}

absl::Status NoMatchError(const Source& source,
                          const std::map<std::string, Tensor*>& params) {
  std::vector<std::string> graph, names;
  for (const auto& [name, unused] : params) graph.push_back(name);
  for (const auto& [name, unused] : source.entries) names.push_back(name);
  std::string why = absl::StrCat(
      "no entry of ", source.path, " matches a parameter of the graph",
      ": the graph has ", FewNames(graph), " (", graph.size(),
      " parameters); the source has ", FewNames(names), " (", names.size(),
      " entries)");
  std::optional<PrefixRename> r = SuggestRename(names, params);
  if (!r.has_value()) {
    absl::StrAppend(&why,
                    "; map the source's names to the graph's with "
                    "init_from.rename { from: ... to: ... }");
    return InitError(why);
  }
  int matches = 0;
  for (const std::string& name : names) {
    matches += params.count(Renamed(*r, name)) > 0;
  }
  absl::StrAppend(&why, "; try init_from { rename { from: \"", r->from(),
                  "\" to: \"", r->to(), "\" } }, which matches ", matches,
                  " of them");
  return InitError(why);
}

// "bert.encoder.*" for "bert.encoder.layer.0.w": the first two components
// of a longer name (or the first of a two-component one).
std::string GroupKey(const std::string& name) {
  std::vector<size_t> seps;
  for (size_t i = 0; i < name.size(); ++i) {
    if (IsSeparator(name[i])) seps.push_back(i);
  }
  if (seps.empty()) return name;
  return name.substr(0, seps[std::min<size_t>(1, seps.size() - 1)] + 1) + "*";
}

// The names, or for a long list, counts by GroupKey.
std::string ShortList(const std::vector<InitEntry>& entries) {
  constexpr size_t kShown = 6;
  if (entries.size() <= kShown) {
    std::vector<std::string> names;
    for (const InitEntry& e : entries) names.push_back(e.name);
    return absl::StrJoin(names, ", ");
  }
  struct Group {
    std::string key, first;
    int count = 0;
  };
  std::vector<Group> groups;
  for (const InitEntry& e : entries) {
    const std::string key = GroupKey(e.name);
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group& g) { return g.key == key; });
    if (it == groups.end()) it = groups.insert(groups.end(), {key, e.name});
    ++it->count;
  }
  std::vector<std::string> parts;
  for (size_t i = 0; i < std::min(groups.size(), kShown); ++i) {
    const Group& g = groups[i];
    parts.push_back(g.count == 1 ? g.first
                                 : absl::StrCat(g.key, " (", g.count, ")"));
  }
  if (groups.size() > kShown) {
    parts.push_back(
        absl::StrCat("... (", groups.size() - kShown, " more groups)"));
  }
  return absl::StrJoin(parts, ", ");
}

// "<indent><label> <count><note>: <names>", the names one per line with
// their types when `full`.
void AddList(const std::string& label, const std::string& note,
             const std::vector<InitEntry>& entries, bool full,
             const std::string& indent, std::string& out) {
  absl::StrAppend(&out, indent, label, " ", entries.size(), note);
  if (entries.empty()) {
    absl::StrAppend(&out, "\n");
    return;
  }
  if (!full) {
    absl::StrAppend(&out, ": ", ShortList(entries), "\n");
    return;
  }
  absl::StrAppend(&out, ":\n");
  for (const InitEntry& e : entries) {
    absl::StrAppend(&out, indent, "  ", e.name, " ", e.type,
                    e.source.empty() ? "" : " <- " + e.source, "\n");
  }
}

}  // namespace

absl::StatusOr<InitFromReport> LoadInitialValues(
    const InitFrom& spec, const std::map<std::string, Tensor*>& params,
    int64_t max_bytes) {
  ASSIGN_OR_RETURN(Source source, OpenSource(spec.path(), max_bytes));
  InitFromReport report{source.path, source.kind};
  std::map<std::string, std::string> loaded;  // Graph name -> source name.
  for (const auto& [name, e] : source.entries) {
    const std::string target = Renamed(spec, name);
    auto p = params.find(target);
    if (p == params.end()) {
      report.unused.push_back({name, TypeOf(e.dtype, e.shape)});
      continue;
    }
    const std::string entry =
        name == target ? "" : absl::StrCat(" (entry '", name, "')");
    if (auto [it, added] = loaded.emplace(target, name); !added) {
      return InitError(absl::StrCat(
          "entries '", it->second, "' and '", name, "' of ", source.path,
          " both rename to parameter '", target, "'"));
    }
    const Tensor& into = *p->second;
    if (!Converts(e, into) || !(e.shape == into.shape())) {
      return InitError(
          absl::StrCat("parameter '", target, "' is ",
                       TypeOf(into.dtype(), into.shape()), " in the graph but ",
                       TypeOf(e.dtype, e.shape), " in ", e.file, entry));
    }
  }
  if (loaded.empty()) return NoMatchError(source, params);
  for (const auto& [name, value] : params) {
    auto it = loaded.find(name);
    const std::string type = TypeOf(value->dtype(), value->shape());
    if (it == loaded.end()) {
      report.fresh.push_back({name, type});
      continue;
    }
    RETURN_IF_ERROR(source.CopyTo(it->second, *value));
    report.loaded.push_back({name, type, it->second == name ? "" : it->second});
  }
  return report;
}

std::string InitSummary(const InitFromReport* report, const FreezePlan& plan,
                        const TrainConfig& config,
                        const std::map<std::string, Tensor*>& params,
                        bool full) {
  std::string out;
  if (report != nullptr) {
    const size_t entries = report->loaded.size() + report->unused.size();
    absl::StrAppend(&out, "init_from ", report->source, " (a ", report->kind,
                    ", ", entries, " entries)\n");
    for (const PrefixRename& r : config.init_from().rename()) {
      absl::StrAppend(&out, "  rename \"", r.from(), "\" -> \"", r.to(),
                      "\"\n");
    }
    AddList("loaded", "", report->loaded, full, "  ", out);
    AddList("newly initialised", "", report->fresh, full, "  ", out);
    AddList("unused from the source", "", report->unused, full, "  ", out);
  }
  if (config.freeze().empty()) return out;
  std::vector<InitEntry> frozen;
  for (const std::string& name : plan.frozen) {
    const Tensor* t = params.at(name);
    frozen.push_back({name, TypeOf(t->dtype(), t->shape())});
  }
  std::vector<std::string> patterns;
  for (const std::string& p : config.freeze()) {
    patterns.push_back(absl::StrCat("\"", p, "\""));
  }
  AddList("frozen",
          absl::StrCat(" (freeze ", absl::StrJoin(patterns, ", "), ")"), frozen,
          full, "", out);
  return out;
}

absl::Status WriteInitSummary(const std::string& dir, const std::string& text) {
  const std::string path = (fs::path(dir) / "init_from.txt").string();
  if (!text.empty()) return WriteFileAtomic(path, text);
  std::error_code ec;
  fs::remove(path, ec);
  return absl::OkStatus();
}

}  // namespace rill
