#include "tools/plot.h"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

constexpr char kCsv[] =
    "step,loss,lr,grad_norm,val_loss\n"
    "1,4,0.1,2,\n"
    "2,3,0.1,1.5,3.5\n"
    "3,2,0.05,1,\n"
    "4,1,0.05,0.5,2.5\n";

TEST(PlotTest, PanelsGroupValidationWithItsMetric) {
  absl::StatusOr<std::vector<PlotPanel>> panels =
      MetricsPanels(kCsv, "metrics.csv");
  ASSERT_TRUE(panels.ok()) << panels.status();
  ASSERT_EQ(panels->size(), 3u);
  EXPECT_EQ((*panels)[0].title, "loss");
  ASSERT_EQ((*panels)[0].series.size(), 2u);
  EXPECT_EQ((*panels)[0].series[1].name, "val_loss");
  // Only the rows that measured it.
  EXPECT_EQ((*panels)[0].series[1].points,
            (std::vector<std::pair<double, double>>{{2, 3.5}, {4, 2.5}}));
  EXPECT_EQ((*panels)[1].title, "lr");
  EXPECT_EQ((*panels)[2].title, "grad_norm");
}

// The polyline of `name`'s series as (x, y) pixel pairs.
std::vector<std::pair<double, double>> Polyline(const std::string& svg,
                                                const std::string& name) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(
      svg, m, std::regex("class=\"" + name + "\"[^>]*points=\"([^\"]*)\"")))
      << name;
  std::vector<std::pair<double, double>> points;
  for (absl::string_view p : absl::StrSplit(m[1].str(), ' ')) {
    std::pair<std::string, std::string> xy = absl::StrSplit(p, ',');
    points.push_back({std::stod(xy.first), std::stod(xy.second)});
  }
  return points;
}

TEST(PlotTest, SvgMapsStepsAndValuesOntoEachPanel) {
  const std::string svg = SvgChart(*MetricsPanels(kCsv, "metrics.csv"), 720);
  // Steps 1..4 span the plot area's width (x 70 to 700); the loss, 4 down
  // to 1, spans the first panel's height (y 30 to 180).
  auto loss = Polyline(svg, "loss");
  ASSERT_EQ(loss.size(), 4u);
  EXPECT_DOUBLE_EQ(loss.front().first, 70);
  EXPECT_DOUBLE_EQ(loss.back().first, 700);
  EXPECT_DOUBLE_EQ(loss.front().second, 30);
  EXPECT_DOUBLE_EQ(loss.back().second, 180);
  auto val = Polyline(svg, "val_loss");
  ASSERT_EQ(val.size(), 2u);
  EXPECT_DOUBLE_EQ(val[0].first, 70 + 630.0 / 3);
  EXPECT_DOUBLE_EQ(val[0].second, 30 + 150 * (4 - 3.5) / 3);
  // The second panel starts 220 pixels down.
  EXPECT_DOUBLE_EQ(Polyline(svg, "lr").front().second, 220 + 30);
  // Well-formed, as an XML parser that is not ours sees it.
  const std::string path = TestTempPath("curves.svg");
  std::ofstream(path) << svg;
  EXPECT_EQ(std::system(("/usr/bin/python3 -c 'import sys, xml.etree."
                         "ElementTree as E; E.parse(sys.argv[1])' " +
                         path)
                            .c_str()),
            0);
}

TEST(PlotTest, NamesAreEscapedAndBadRowsNamed) {
  const std::string svg =
      SvgChart(*MetricsPanels("step,a<b\n1,2\n2,3\n", "m.csv"));
  EXPECT_THAT(svg, HasSubstr("a&lt;b"));
  EXPECT_THAT(MetricsPanels("step,loss\n1,2\n2\n", "m.csv").status().message(),
              HasSubstr("m.csv:3: expected 2 fields"));
  EXPECT_THAT(MetricsPanels("step,loss\n1,nan\n", "m.csv").status().message(),
              HasSubstr("m.csv:2: column loss: 'nan' is not a finite number"));
  EXPECT_THAT(MetricsPanels("loss,step\n", "m.csv").status().message(),
              HasSubstr("m.csv:1: expected a header"));
}

}  // namespace
}  // namespace rill
