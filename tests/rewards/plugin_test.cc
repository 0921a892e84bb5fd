// Reward plugins over the C ABI: the example plugin built from examples/rewards/, and plugins that
// break the contract in every way the host must survive (failing, throwing, hanging past the
// deadline, emitting more than a remote reply may carry).
#include "rewards/plugin.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "base/reply_limits.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "rewards/composer.h"
#include "tests/rewards/test_util.h"

namespace dsarl::rewards {
namespace {

using testing::Answer;
using testing::Get;
using testing::Task;

// Calls that return do so in microseconds; this leaves room for a loaded machine.
constexpr absl::Duration kTimeout = absl::Seconds(30);

std::string TestPlugin(int mode) {
  return absl::StrCat(TEST_PLUGIN_DIR, "/libdsarl_test_reward_plugin_", mode, ".so");
}

TEST(PluginTest, ExamplePluginThroughTheComposer) {
  proto::RewardsConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      absl::StrReplaceAll(R"pb(
                            components { name: "verifier" weight: 1 }
                            components {
                              name: "keywords"
                              weight: 0.5
                              params { key: "type" value: "plugin" }
                              params { key: "plugin_path" value: "PLUGIN" }
                              params { key: "keywords" value: "Paris,France" }
                            }
                          )pb",
                          {{"PLUGIN", KEYWORD_PLUGIN}}),
      &config));
  ASSERT_OK_AND_ASSIGN(auto composer, Composer::Create(config, BuiltinRegistry()));
  const auto r = composer->ScoreGroup(
      Task(), {Answer("Paris, the capital of France", 1), Answer("paris", 0), Answer("Rome", 1)});
  ASSERT_EQ(r.size(), 3u);
  for (const ScoredSample& s : r) ASSERT_EQ(s.infra_error, "");
  EXPECT_DOUBLE_EQ(r[0].reward, 1 + 0.5 * 1);
  EXPECT_DOUBLE_EQ(r[1].reward, 0 + 0.5 * 0.5);  // case-insensitive by default
  EXPECT_DOUBLE_EQ(r[2].reward, 1 + 0);
  EXPECT_EQ(r[2].components[1].name(), "keywords");
  EXPECT_EQ(r[2].components[1].details(), "missing paris,france");
  EXPECT_EQ(r[2].components[2].name(), "keywords.missing");
  EXPECT_EQ(r[2].components[2].value(), 2);
  EXPECT_EQ(r[2].components[2].weight(), 0);
}

TEST(PluginTest, ExamplePluginSeesTheWholeSample) {
  ASSERT_OK_AND_ASSIGN(
      auto fn, LoadPluginReward(KEYWORD_PLUGIN, {{"keywords", "Tool"}, {"case_sensitive", "true"}},
                                kTimeout));
  Sample s = Answer("used a Tool");
  s.messages.back().tool_calls.push_back(ToolCall{.name = "t", .arguments = {{"a", "b"}}});
  ASSERT_OK_AND_ASSIGN(std::vector<Components> r, fn->ScoreGroup(Task(), {s, Answer("tool")}));
  EXPECT_EQ(Get(r[0]).value, 1);
  EXPECT_EQ(Get(r[1]).value, 0);
}

TEST(PluginTest, CreateErrorsCarryThePluginsMessage) {
  absl::Status s = LoadPluginReward(KEYWORD_PLUGIN, {}, kTimeout).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'keywords' (comma-separated) is required"), absl::string_view::npos)
      << s;
  s = LoadPluginReward(KEYWORD_PLUGIN, {{"keywords", "a"}, {"colour", "red"}}, kTimeout).status();
  EXPECT_NE(s.message().find("unknown param 'colour'"), absl::string_view::npos) << s;
}

TEST(PluginTest, LoadErrors) {
  EXPECT_EQ(LoadPluginReward("/nonexistent/libnothing.so", {}, kTimeout).status().code(),
            absl::StatusCode::kNotFound);
  // A real shared library that is not a reward plugin.
  const absl::Status not_plugin = LoadPluginReward("libm.so.6", {}, kTimeout).status();
  EXPECT_EQ(not_plugin.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(not_plugin.message().find("dsarl_reward_plugin_get"), absl::string_view::npos);
  const absl::Status wrong = LoadPluginReward(TestPlugin(1), {}, kTimeout).status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.message().find("version 99"), absl::string_view::npos) << wrong;
  EXPECT_EQ(LoadPluginReward(TestPlugin(2), {}, kTimeout).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PluginTest, ScoreFailuresBecomeErrorsNotCrashes) {
  for (auto [mode, expected] :
       {std::pair{3, "score returned 3: model server exploded"}, std::pair{4, "threw boom"},
        std::pair{5, "invalid emit (sample 2"}}) {
    ASSERT_OK_AND_ASSIGN(auto fn, LoadPluginReward(TestPlugin(mode), {}, kTimeout));
    const absl::Status s = fn->ScoreGroup(Task(), {Answer("a"), Answer("b")}).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << mode;
    EXPECT_NE(s.message().find(expected), absl::string_view::npos) << s;
  }
}

TEST(PluginTest, FailureIsAnInfraErrorInTheComposer) {
  proto::RewardsConfig config;
  auto* c = config.add_components();
  c->set_name("p");
  (*c->mutable_params())["type"] = "plugin";
  (*c->mutable_params())["plugin_path"] = TestPlugin(4);
  ASSERT_OK_AND_ASSIGN(auto composer, Composer::Create(config, BuiltinRegistry()));
  const auto r = composer->ScoreGroup(Task(), {Answer("a")});
  EXPECT_NE(r[0].infra_error.find("threw boom"), std::string::npos) << r[0].infra_error;
  EXPECT_EQ(r[0].reward, 0);
}

TEST(PluginTest, HostSerializesAPluginThatIsNotThreadSafe) {
  ASSERT_OK_AND_ASSIGN(auto fn, LoadPluginReward(TestPlugin(6), {}, kTimeout));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        absl::StatusOr<std::vector<Components>> r = fn->ScoreGroup(Task(), {Answer("a")});
        if (!r.ok() || Get((*r)[0]).value != 1) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A plugin that sleeps 3 s against a 0.3 s deadline: the call comes back at the deadline as
// DeadlineExceeded, the next call is refused at once while the first is still running, and once it
// has returned the plugin is called again.
TEST(PluginTest, AHungPluginIsCutOffAtItsDeadline) {
  ASSERT_OK_AND_ASSIGN(
      auto fn, LoadPluginReward(TestPlugin(6), {{"sleep_ms", "3000"}}, absl::Milliseconds(300)));
  auto start = std::chrono::steady_clock::now();
  absl::Status s = fn->ScoreGroup(Task(), {Answer("a")}).status();
  const double cut_off = SecondsSince(start);
  std::printf("a score call sleeping 3 s came back after %.3f s (deadline 0.3 s)\n", cut_off);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_NE(s.message().find("reward plugin test_plugin (" + TestPlugin(6) +
                             "): score did not return within 300ms"),
            absl::string_view::npos)
      << s;
  EXPECT_GE(cut_off, 0.3);
  EXPECT_LT(cut_off, 2.0);  // well before the plugin returns; a loaded machine adds little here

  start = std::chrono::steady_clock::now();
  s = fn->ScoreGroup(Task(), {Answer("a")}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("still running past its deadline"), absl::string_view::npos) << s;
  EXPECT_LT(SecondsSince(start), 0.3);

  // The first call returns about 3 s after it started; then calls reach the plugin again (and,
  // sleeping as before, miss their deadline).
  start = std::chrono::steady_clock::now();
  do {
    s = fn->ScoreGroup(Task(), {Answer("a")}).status();
    if (s.code() == absl::StatusCode::kUnavailable) absl::SleepFor(absl::Milliseconds(100));
  } while (s.code() == absl::StatusCode::kUnavailable && SecondsSince(start) < 60);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
}

// rewards.call_timeout_s is the deadline of plugin entries as of remote ones; the overrun is an
// infrastructure error on every sample, not a 0.
TEST(PluginTest, TheConfigsCallTimeoutAppliesToPlugins) {
  proto::RewardsConfig config;
  config.set_call_timeout_s(0.3);
  auto* c = config.add_components();
  c->set_name("slow");
  (*c->mutable_params())["type"] = "plugin";
  (*c->mutable_params())["plugin_path"] = TestPlugin(6);
  (*c->mutable_params())["sleep_ms"] = "3000";
  ASSERT_OK_AND_ASSIGN(auto composer, Composer::Create(config, BuiltinRegistry()));
  const auto start = std::chrono::steady_clock::now();
  const auto r = composer->ScoreGroup(Task(), {Answer("a"), Answer("b")});
  EXPECT_LT(SecondsSince(start), 2.0);
  ASSERT_EQ(r.size(), 2u);
  for (const ScoredSample& s : r) {
    EXPECT_NE(s.infra_error.find("did not return within 300ms"), std::string::npos)
        << s.infra_error;
    EXPECT_NE(s.infra_error.find("reward 'slow'"), std::string::npos) << s.infra_error;
  }
}

// What one score call emits has the bound of one remote reply (4 MiB): past it the call is an
// error naming the plugin and the size, and nothing it emitted is kept.
TEST(PluginTest, AnOutputOverTheReplyBoundIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto small,
                       LoadPluginReward(TestPlugin(6), {{"details_bytes", "1048576"}}, kTimeout));
  ASSERT_OK_AND_ASSIGN(std::vector<Components> ok, small->ScoreGroup(Task(), {Answer("a")}));
  EXPECT_EQ(Get(ok[0]).details.size(), 1048576u);

  const std::string over = std::to_string(kMaxReplyBytes + 1);
  ASSERT_OK_AND_ASSIGN(auto big,
                       LoadPluginReward(TestPlugin(6), {{"details_bytes", over}}, kTimeout));
  const absl::Status s = big->ScoreGroup(Task(), {Answer("a")}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_NE(s.message().find("reward plugin test_plugin"), absl::string_view::npos) << s;
  // The size counts the details and the value (8 bytes).
  EXPECT_NE(s.message().find(absl::StrCat("its output of ", kMaxReplyBytes + 1 + 8,
                                          " bytes is over the 4 MiB bound on one reply")),
            absl::string_view::npos)
      << s;
}

}  // namespace
}  // namespace dsarl::rewards
