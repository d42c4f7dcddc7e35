// The README's `rill dot GRAPH | dot -Tsvg > g.svg`, run as it is written:
// Graphviz (installed by ./dev) must lay the DOT text out as an SVG that
// names the graph's nodes.

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace rill {
namespace {

TEST(DotSvg, TheReadmePipelineDrawsTheGraph) {
  const std::string pipeline =
      "rill dot examples/gated_mlp.pbtxt | dot -Tsvg > g.svg";
  ASSERT_NE(ReadTestFile("README.md").find(pipeline), std::string::npos)
      << "the README no longer shows: " << pipeline;
  ASSERT_EQ(std::system("command -v dot > /dev/null"), 0)
      << "Graphviz's dot is missing (./dev installs the graphviz package)";
  const std::string svg = TestTempPath("g.svg");
  const std::string command =
      "set -o pipefail; export XDG_CACHE_HOME=" + TestTempPath("cache") +
      "; tools/rill dot examples/gated_mlp.pbtxt | dot -Tsvg "
      "> " +
      svg;
  ASSERT_EQ(std::system(("bash -c '" + command + "'").c_str()), 0);
  const std::string text = ReadTestFile(svg);
  EXPECT_NE(text.find("<svg"), std::string::npos) << text;
  EXPECT_NE(text.find("</svg>"), std::string::npos);
  // The first node's name, as the text of its box.
  const std::string graph = ReadTestFile("examples/gated_mlp.pbtxt");
  const size_t at = graph.find("name: \"");
  ASSERT_NE(at, std::string::npos);
  const std::string node =
      graph.substr(at + 7, graph.find('"', at + 7) - at - 7);
  EXPECT_NE(text.find(">" + node + "</text>"), std::string::npos) << node;
}

}  // namespace
}  // namespace rill
