// `rill plot`: a run's metrics.csv as SVG line charts (tools/plot.h).

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file_io.h"
#include "tools/commands.h"
#include "tools/plot.h"

namespace rill {
namespace {

// The flags of `rill plot`.
struct {
  std::string output;
} flags;

constexpr int64_t kMaxMetricsBytes = int64_t{1} << 30;

}  // namespace

std::vector<Flag> PlotFlags() {
  return {OutputFlag(&flags.output, "Where to write the charts (.svg).")};
}

absl::Status CheckPlotFlags(const Operands&) {
  if (flags.output.empty()) {
    return absl::InvalidArgumentError("name the output file with -o OUT.svg");
  }
  if (!absl::EndsWith(flags.output, ".svg")) {
    return absl::InvalidArgumentError(
        absl::StrCat("-o ", flags.output,
                     ": the charts are written as SVG, so the name "
                     "must end in .svg"));
  }
  return absl::OkStatus();
}

absl::Status RunPlot(const Operands& operands) {
  const std::string& csv = operands[0];
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(csv, kMaxMetricsBytes));
  ASSIGN_OR_RETURN(std::vector<PlotPanel> panels, MetricsPanels(text, csv));
  RETURN_IF_ERROR(WriteFileAtomic(flags.output, SvgChart(panels)));
  std::printf("%s: %zu panels from %s\n", flags.output.c_str(), panels.size(),
              csv.c_str());
  return absl::OkStatus();
}

}  // namespace rill
