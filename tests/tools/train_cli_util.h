#ifndef RILL_TESTS_TOOLS_TRAIN_CLI_UTIL_H_
#define RILL_TESTS_TOOLS_TRAIN_CLI_UTIL_H_

// Configs for the `rill train` end-to-end tests: variants of the sine MLP
// example, written beside copies of its graph and data.

#include <string>
#include <utility>
#include <vector>

namespace rill {

// examples/train/sine_mlp.train.pbtxt with each (old, new) text replaced
// (each old must occur), plus `extra` appended, written as `name` in a
// temporary directory that also holds the graph and the data; returns its
// path.
std::string WriteSineConfig(
    const std::string& name,
    const std::vector<std::pair<std::string, std::string>>& replacements,
    const std::string& extra = "");

// The data rows of a metrics.csv, split into fields.
std::vector<std::vector<std::string>> CsvRows(const std::string& csv);

}  // namespace rill

#endif  // RILL_TESTS_TOOLS_TRAIN_CLI_UTIL_H_
