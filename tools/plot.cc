#include "tools/plot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/quote.h"

namespace rill {
namespace {

constexpr int kPanelHeight = 220;
constexpr int kLeft = 70, kRight = 20, kTop = 30, kBottom = 40;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

// `s` as SVG text: metric names come from the CSV's header.
std::string XmlEscaped(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A step of 1, 2 or 5 times a power of ten giving about `count` ticks.
double TickStep(double span, int count) {
  const double raw = span / count;
  const double power = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void Add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  // Never empty: a flat series gets a span around its value.
  void Widen() {
    if (hi > lo) return;
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
};

void DrawPanel(const PlotPanel& panel, const Range& steps, int top, int width,
               std::string& svg) {
  Range values;
  for (const PlotSeries& s : panel.series) {
    for (const auto& [x, y] : s.points) values.Add(y);
  }
  if (!std::isfinite(values.lo)) values = Range{0, 1};
  values.Widen();
  const double plot_w = width - kLeft - kRight;
  const double plot_h = kPanelHeight - kTop - kBottom;
  auto px = [&](double x) {
    return kLeft + (x - steps.lo) / (steps.hi - steps.lo) * plot_w;
  };
  auto py = [&](double y) {
    return top + kTop + (values.hi - y) / (values.hi - values.lo) * plot_h;
  };
  absl::StrAppendFormat(
      &svg,
      "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s</text>\n"
      "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
      "stroke=\"#888\"/>\n",
      kLeft, top + kTop - 10, XmlEscaped(panel.title), kLeft, top + kTop,
      plot_w, plot_h);
  const double y_step = TickStep(values.hi - values.lo, 4);
  for (double y = std::ceil(values.lo / y_step) * y_step; y <= values.hi;
       y += y_step) {
    absl::StrAppendFormat(
        &svg,
        "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%g"
        "</text>\n",
        kLeft - 5, py(y) + 4, y);
  }
  const double x_step = TickStep(steps.hi - steps.lo, 6);
  for (double x = std::ceil(steps.lo / x_step) * x_step; x <= steps.hi;
       x += x_step) {
    absl::StrAppendFormat(
        &svg,
        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">%g"
        "</text>\n",
        px(x), top + kPanelHeight - kBottom + 15, x);
  }
  for (size_t k = 0; k < panel.series.size(); ++k) {
    const PlotSeries& s = panel.series[k];
    const char* color = kColors[k % std::size(kColors)];
    svg += absl::StrFormat(
        "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" points=\"",
        XmlEscaped(s.name), color);
    for (size_t i = 0; i < s.points.size(); ++i) {
      absl::StrAppendFormat(&svg, "%s%.1f,%.1f", i ? " " : "",
                            px(s.points[i].first), py(s.points[i].second));
    }
    svg += "\"/>\n";
    absl::StrAppendFormat(&svg,
                          "<text x=\"%.0f\" y=\"%d\" fill=\"%s\" "
                          "text-anchor=\"end\" font-size=\"12\">%s</text>\n",
                          kLeft + plot_w - 5, top + kTop + 15 + 15 * int(k),
                          color, XmlEscaped(s.name));
  }
}

}  // namespace

absl::StatusOr<std::vector<PlotPanel>> MetricsPanels(
    absl::string_view text, const std::string& source) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (lines.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": empty"));
  }
  const std::vector<std::string> header = absl::StrSplit(lines[0], ',');
  if (header[0] != "step" || header.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":1: expected a header 'step,<metric>,...', got ",
                     QuoteForMessage(lines[0])));
  }
  std::vector<PlotSeries> columns(header.size());
  for (size_t c = 1; c < header.size(); ++c) columns[c].name = header[c];
  for (size_t l = 1; l < lines.size(); ++l) {
    std::vector<absl::string_view> fields = absl::StrSplit(lines[l], ',');
    double step;
    if (fields.size() != header.size() || !absl::SimpleAtod(fields[0], &step)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ":", l + 1, ": expected ", header.size(),
          " fields starting with a step, got ", QuoteForMessage(lines[l])));
    }
    for (size_t c = 1; c < header.size(); ++c) {
      if (fields[c].empty()) continue;
      double value;
      if (!absl::SimpleAtod(fields[c], &value) || !std::isfinite(value)) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ":", l + 1, ": column ", header[c], ": ",
            QuoteForMessage(fields[c]), " is not a finite number"));
      }
      columns[c].points.push_back({step, value});
    }
  }
  std::vector<PlotPanel> panels;
  std::map<std::string, size_t> panel_of;
  for (size_t c = 1; c < header.size(); ++c) {
    const std::string& name = header[c];
    const std::string base = name.rfind("val_", 0) == 0 ? name.substr(4) : name;
    auto [it, fresh] = panel_of.emplace(base, panels.size());
    if (fresh) panels.push_back({base, {}});
    panels[it->second].series.push_back(std::move(columns[c]));
  }
  return panels;
}

std::string SvgChart(const std::vector<PlotPanel>& panels, int width) {
  Range steps;
  for (const PlotPanel& p : panels) {
    for (const PlotSeries& s : p.series) {
      for (const auto& [x, y] : s.points) steps.Add(x);
    }
  }
  if (!std::isfinite(steps.lo)) steps = Range{0, 1};
  steps.Widen();
  const int height = kPanelHeight * static_cast<int>(panels.size());
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"sans-serif\" font-size=\"13\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      width, height);
  for (size_t i = 0; i < panels.size(); ++i) {
    DrawPanel(panels[i], steps, static_cast<int>(i) * kPanelHeight, width, svg);
  }
  absl::StrAppendFormat(&svg,
                        "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step"
                        "</text>\n</svg>\n",
                        kLeft + (width - kLeft - kRight) / 2, height - 8);
  return svg;
}

}  // namespace rill
