// The bounded readers: whole files up to a limit, lines up to a limit, devices and pipes included.
#include "base/file.h"

#include <fstream>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/file_test_" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(ReadFileBounded, ReadsUpToTheLimitAndRefusesBeyondIt) {
  const std::string path = Write("small", "abc");
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFileBounded(path, 3, "config file"));
  EXPECT_EQ(text, "abc");
  EXPECT_THAT(std::string(ReadFileBounded(path, 2, "config file").status().message()),
              HasSubstr("config file of 3 bytes is larger than the limit"));
  EXPECT_THAT(std::string(ReadFileBounded("/dev/zero", 1 << 20, "x").status().message()),
              HasSubstr("larger than the limit of 1 MiB"));
  EXPECT_EQ(ReadFileBounded(path + ".missing", 10, "x").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadFileBounded(::testing::TempDir(), 10, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ForEachLine, GivesEveryLineWithItsNumberAndStopsAtTheFirstError) {
  const std::string path = Write("lines", "one\n\nthree\nlast without newline");
  std::vector<std::pair<std::string, int64_t>> seen;
  ASSERT_OK(ForEachLine(path, 100, "x", [&](absl::string_view l, int64_t n) {
    seen.emplace_back(std::string(l), n);
    return absl::OkStatus();
  }));
  EXPECT_THAT(seen, ElementsAre(std::pair<std::string, int64_t>{"one", 1},
                                std::pair<std::string, int64_t>{"", 2},
                                std::pair<std::string, int64_t>{"three", 3},
                                std::pair<std::string, int64_t>{"last without newline", 4}));
  int calls = 0;
  const absl::Status s = ForEachLine(path, 100, "x", [&](absl::string_view, int64_t n) {
    ++calls;
    return n == 2 ? absl::InvalidArgumentError("stop") : absl::OkStatus();
  });
  EXPECT_EQ(s.message(), "stop");
  EXPECT_EQ(calls, 2);
}

TEST(ForEachLine, RefusesALineBeyondTheLimitNamingIt) {
  const std::string path = Write("long", "ok\n" + std::string(200000, 'x') + "\n");
  const absl::Status s = ForEachLine(path, 100000, "corpus",
                                     [](absl::string_view, int64_t) { return absl::OkStatus(); });
  EXPECT_THAT(std::string(s.message()), HasSubstr(path + ":2: a line of this corpus is longer"));
  const absl::Status zero =
      ForEachLine("/dev/zero", 1 << 20, "input file",
                  [](absl::string_view, int64_t) { return absl::OkStatus(); });
  EXPECT_THAT(std::string(zero.message()), HasSubstr("/dev/zero:1: a line of this input file"));
  EXPECT_EQ(ForEachLine(path + ".missing", 10, "x",
                        [](absl::string_view, int64_t) { return absl::OkStatus(); })
                .code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace dsarl
