// Reward plugins over the C ABI: the example plugin built from examples/rewards/, and plugins that
// break the contract in every way the host must survive.
#include "rewards/plugin.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_replace.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "rewards/composer.h"
#include "tests/rewards/test_util.h"

namespace dsarl::rewards {
namespace {

using testing::Answer;
using testing::Get;
using testing::Task;

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
  ASSERT_OK_AND_ASSIGN(auto fn, LoadPluginReward(KEYWORD_PLUGIN, {{"keywords", "Tool"},
                                                                  {"case_sensitive", "true"}}));
  Sample s = Answer("used a Tool");
  s.messages.back().tool_calls.push_back(ToolCall{.name = "t", .arguments = {{"a", "b"}}});
  ASSERT_OK_AND_ASSIGN(std::vector<Components> r, fn->ScoreGroup(Task(), {s, Answer("tool")}));
  EXPECT_EQ(Get(r[0]).value, 1);
  EXPECT_EQ(Get(r[1]).value, 0);
}

TEST(PluginTest, CreateErrorsCarryThePluginsMessage) {
  absl::Status s = LoadPluginReward(KEYWORD_PLUGIN, {}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'keywords' (comma-separated) is required"), absl::string_view::npos)
      << s;
  s = LoadPluginReward(KEYWORD_PLUGIN, {{"keywords", "a"}, {"colour", "red"}}).status();
  EXPECT_NE(s.message().find("unknown param 'colour'"), absl::string_view::npos) << s;
}

TEST(PluginTest, LoadErrors) {
  EXPECT_EQ(LoadPluginReward("/nonexistent/libnothing.so", {}).status().code(),
            absl::StatusCode::kNotFound);
  // A real shared library that is not a reward plugin.
  const absl::Status not_plugin = LoadPluginReward("libm.so.6", {}).status();
  EXPECT_EQ(not_plugin.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(not_plugin.message().find("dsarl_reward_plugin_get"), absl::string_view::npos);
  const absl::Status wrong = LoadPluginReward(TestPlugin(1), {}).status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.message().find("version 99"), absl::string_view::npos) << wrong;
  EXPECT_EQ(LoadPluginReward(TestPlugin(2), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PluginTest, ScoreFailuresBecomeErrorsNotCrashes) {
  for (auto [mode, expected] :
       {std::pair{3, "score returned 3: model server exploded"}, std::pair{4, "threw boom"},
        std::pair{5, "invalid emit (sample 2"}}) {
    ASSERT_OK_AND_ASSIGN(auto fn, LoadPluginReward(TestPlugin(mode), {}));
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
  ASSERT_OK_AND_ASSIGN(auto fn, LoadPluginReward(TestPlugin(6), {}));
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

}  // namespace
}  // namespace dsarl::rewards
