// ASSERT_OK / EXPECT_OK / ASSERT_OK_AND_ASSIGN for tests: failures print the status message.
#ifndef DSARL_TESTS_STATUS_MATCHERS_H_
#define DSARL_TESTS_STATUS_MATCHERS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace dsarl::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace dsarl::testing

#define EXPECT_OK(expr)                                                        \
  do {                                                                         \
    const auto dsarl_v_ = (expr); /* by value: expr may be a temporary */      \
    const absl::Status& dsarl_s_ = ::dsarl::testing::GetStatus(dsarl_v_);      \
    EXPECT_TRUE(dsarl_s_.ok()) << #expr << " failed: " << dsarl_s_.ToString(); \
  } while (0)

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    const auto dsarl_v_ = (expr); /* by value: expr may be a temporary */      \
    const absl::Status& dsarl_s_ = ::dsarl::testing::GetStatus(dsarl_v_);      \
    ASSERT_TRUE(dsarl_s_.ok()) << #expr << " failed: " << dsarl_s_.ToString(); \
  } while (0)

#define DSARL_TEST_CONCAT_INNER_(a, b) a##b
#define DSARL_TEST_CONCAT_(a, b) DSARL_TEST_CONCAT_INNER_(a, b)

#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  DSARL_ASSERT_OK_AND_ASSIGN_IMPL_(DSARL_TEST_CONCAT_(dsarl_sor_, __LINE__), lhs, expr)
#define DSARL_ASSERT_OK_AND_ASSIGN_IMPL_(sor, lhs, expr)                    \
  auto sor = (expr);                                                        \
  ASSERT_TRUE(sor.ok()) << #expr << " failed: " << sor.status().ToString(); \
  lhs = std::move(sor).value()

#endif  // DSARL_TESTS_STATUS_MATCHERS_H_
