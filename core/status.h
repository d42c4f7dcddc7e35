#ifndef RILL_CORE_STATUS_H_
#define RILL_CORE_STATUS_H_

// Abseil 20220623 has Status and StatusOr but not the propagation macros.

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define RILL_CONCAT_INNER_(a, b) a##b
#define RILL_CONCAT_(a, b) RILL_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` yields a non-OK Status.
#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status rill_status_ = (expr);        \
    if (!rill_status_.ok()) return rill_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr());` declares x from the value, or
// returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  RILL_ASSIGN_OR_RETURN_IMPL_(RILL_CONCAT_(rill_statusor_, __LINE__), lhs, expr)

#define RILL_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)   \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace rill {

// "field: why" as an InvalidArgument error: what is wrong with one field of
// a config or spec. Callers that know the file prefix it (Annotate).
inline absl::Status FieldError(const std::string& field,
                               const std::string& why) {
  return absl::InvalidArgumentError(field + ": " + why);
}

// "field = value: rule" as an InvalidArgument error: a number out of range.
inline absl::Status FieldError(const std::string& field, double value,
                               const std::string& rule) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " = ", value, ": ", rule));
}

// Prefixes a non-OK status message with `context` ("file:3:1: node 'x'").
inline absl::Status Annotate(const absl::Status& status,
                             const std::string& context) {
  if (status.ok() || context.empty()) return status;
  return absl::Status(status.code(),
                      context + ": " + std::string(status.message()));
}

}  // namespace rill

#endif  // RILL_CORE_STATUS_H_
