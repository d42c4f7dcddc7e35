#include "ops/shape_fns.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rill {

absl::Status UnchangedShape(InferenceContext& c) {
  c.SetOutput(0, c.input_dtype(0), c.input_shape(0));
  return absl::OkStatus();
}

absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  int rank = std::max(a.rank(), b.rank());
  std::vector<int64_t> out(rank);
  for (int i = 0; i < rank; ++i) {
    int ia = a.rank() - rank + i, ib = b.rank() - rank + i;
    int64_t da = ia >= 0 ? a.dim(ia) : 1;
    int64_t db = ib >= 0 ? b.dim(ib) : 1;
    if (da == 1) {
      out[i] = db;
    } else if (db == 1 || da == db) {
      out[i] = da;
    } else if (da == kSymbolicDim || db == kSymbolicDim) {
      out[i] = da == kSymbolicDim ? db : da;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "shapes ", a.ToString(), " and ", b.ToString(),
          " do not broadcast (dimension ", i, ": ", da, " vs ", db, ")"));
    }
  }
  return Shape(std::move(out));
}

absl::Status CheckBroadcastsTo(const Shape& from, const Shape& to) {
  absl::StatusOr<Shape> both = BroadcastShapes(from, to);
  if (from.rank() > to.rank() || !both.ok() || !ShapesCompatible(*both, to)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shape ", from.ToString(), " does not broadcast to ", to.ToString()));
  }
  return absl::OkStatus();
}

absl::Status BroadcastBinaryShape(InferenceContext& c) {
  ASSIGN_OR_RETURN(Shape out,
                   BroadcastShapes(c.input_shape(0), c.input_shape(1)));
  c.SetOutput(0, c.input_dtype(0), std::move(out));
  return absl::OkStatus();
}

std::string IntListText(const std::vector<int64_t>& v) {
  return absl::StrCat("[", absl::StrJoin(v, ", "), "]");
}

absl::Status AttrListError(const std::string& attr,
                           const std::vector<int64_t>& values,
                           const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("attr '", attr, "' = ", IntListText(values), ": ", why));
}

absl::StatusOr<std::vector<int>> NormalizeAxes(const std::vector<int64_t>& list,
                                               int rank,
                                               const std::string& attr) {
  std::vector<int> axes;
  for (size_t k = 0; k < list.size(); ++k) {
    std::string entry = absl::StrCat(attr, "[", k, "]");
    absl::StatusOr<int> axis = NormalizeAxis(list[k], rank, attr);
    if (!axis.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(axis.status().message(), " at ", entry));
    }
    if (std::count(axes.begin(), axes.end(), *axis)) {
      return AttrListError(attr, list,
                           absl::StrCat("names axis ", *axis, " twice (", entry,
                                        " = ", list[k], ")"));
    }
    axes.push_back(*axis);
  }
  return axes;
}

bool ShapesCompatible(const Shape& a, const Shape& b) {
  if (a.rank() != b.rank()) return false;
  for (int d = 0; d < a.rank(); ++d) {
    if (a.dim(d) != b.dim(d) && a.dim(d) != kSymbolicDim &&
        b.dim(d) != kSymbolicDim) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank,
                                  const std::string& attr_name) {
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attr '", attr_name, "' = ", axis, " is out of range for rank ", rank,
        " (valid: ", -rank, " to ", rank - 1, ")"));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

}  // namespace rill
