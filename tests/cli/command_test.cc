#include "cli/command.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::cli {
namespace {

using ::testing::HasSubstr;

Command Demo(int* calls) {
  return Command{.name = "demo run",
                 .summary = "demo",
                 .positional = {"FILE"},
                 .min_positional = 1,
                 .flags = {{"steps", "steps", "10"},
                           {"set", "override", "", false, true},
                           {"dry", "dry run", "", true}},
                 .run = [calls](const Args& a) -> absl::StatusOr<int> {
                   ++*calls;
                   return a.GetBool("dry") ? 3 : 0;
                 }};
}

TEST(CommandTable, ParsesFlagsDefaultsAndRepeats) {
  int calls = 0;
  CommandTable t;
  Command c = Demo(&calls);
  ASSERT_OK_AND_ASSIGN(Args a, t.Parse(c, {"f.txt", "--set", "a=1", "--set=b=2", "--dry"}));
  EXPECT_EQ(a.positional(), std::vector<std::string>{"f.txt"});
  EXPECT_EQ(a.GetAll("set"), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(a.Get("steps"), "10");
  ASSERT_OK_AND_ASSIGN(int64_t steps, a.GetInt("steps"));
  EXPECT_EQ(steps, 10);
  EXPECT_TRUE(a.GetBool("dry"));
}

TEST(CommandTable, UnknownFlagSuggestsTheNearestOne) {
  int calls = 0;
  CommandTable t;
  auto a = t.Parse(Demo(&calls), {"f", "--stesp", "3"});
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("did you mean --steps?"));
}

TEST(CommandTable, MissingPositionalAndMissingValueAreErrors) {
  int calls = 0;
  CommandTable t;
  EXPECT_FALSE(t.Parse(Demo(&calls), {}).ok());
  EXPECT_FALSE(t.Parse(Demo(&calls), {"f", "--steps"}).ok());
  EXPECT_FALSE(t.Parse(Demo(&calls), {"f", "g"}).ok());
}

TEST(CommandTable, DispatchesAndHandlesHelp) {
  int calls = 0;
  CommandTable t;
  t.Add(Demo(&calls));
  EXPECT_EQ(t.Main({"demo", "run", "f", "--dry"}), 3);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(t.Main({"demo", "run", "--help"}), 0);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(t.Main({"demo"}), 0);  // group overview
  EXPECT_EQ(t.Main({"nothing"}), 2);
  EXPECT_EQ(t.Main({"demo", "run"}), 2);  // missing FILE
  EXPECT_THAT(t.HelpFor(Demo(&calls)), HasSubstr("--steps VALUE"));
}

}  // namespace
}  // namespace dsarl::cli
