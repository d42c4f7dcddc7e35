#ifndef RILL_TOOLS_PLOT_H_
#define RILL_TOOLS_PLOT_H_

// `rill plot`: a training run's metrics.csv drawn as an SVG of line charts,
// one panel per quantity (loss and val_loss share one), step on the x axis.
// SVG is text a few kilobytes long that every browser shows, so nothing
// beyond the standard library is needed to write it.

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace rill {

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (step, value).
};

struct PlotPanel {
  std::string title;
  std::vector<PlotSeries> series;
};

// The panels of a metrics.csv `text`: its header names the columns, step
// first; every other column is a series, and a column named val_<x> joins
// the panel of <x>. Empty fields are missing points (val_loss between
// evaluations). Errors name `source`, the line and the column.
absl::StatusOr<std::vector<PlotPanel>> MetricsPanels(absl::string_view text,
                                                     const std::string& source);

// The panels stacked in one SVG image `width` pixels wide.
std::string SvgChart(const std::vector<PlotPanel>& panels, int width = 720);

}  // namespace rill

#endif  // RILL_TOOLS_PLOT_H_
