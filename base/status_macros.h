// Status helpers our Abseil (20220623) lacks: RETURN_IF_ERROR and ASSIGN_OR_RETURN for product
// code. Test matchers live in tests/status_matchers.h so product code never pulls in gtest.
#ifndef DSARL_BASE_STATUS_MACROS_H_
#define DSARL_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#define DSARL_STATUS_CONCAT_INNER_(a, b) a##b
#define DSARL_STATUS_CONCAT_(a, b) DSARL_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the calling function if it is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status dsarl_status_ = (expr);         \
    if (!dsarl_status_.ok()) return dsarl_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(lhs, expr)`: evaluates `expr` (an absl::StatusOr<T>); on error returns its
// status, otherwise moves the value into `lhs` (which may be a declaration, e.g. `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  DSARL_ASSIGN_OR_RETURN_IMPL_(DSARL_STATUS_CONCAT_(dsarl_statusor_, __LINE__), lhs, expr)

#define DSARL_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)  \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace dsarl {

// Prefixes the message of a non-OK status with `context` ("loading x.safetensors: ..."), keeping
// its code, so errors read from the outermost operation inward.
inline absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

}  // namespace dsarl

#endif  // DSARL_BASE_STATUS_MACROS_H_
