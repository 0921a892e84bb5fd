// Plugins: the example C plugin (examples/plugin) works like a built-in category end to end
// (factory, synthesis, episodes); a plugin that throws, hangs, returns garbage or more than a
// remote reply may carry fails only the episode it was serving, with the reason, while other
// episodes go on.
#include "envs/plugin.h"

#include <thread>

#include "base/reply_limits.h"
#include "envs/episode.h"
#include "envs/factory.h"
#include "envs/synthesis.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::envs {
namespace {

using ::testing::HasSubstr;

proto::EnvSpec Spec(const std::string& category, uint64_t seed, int difficulty) {
  proto::EnvSpec spec;
  spec.set_id(seed);
  spec.set_category(category);
  spec.set_seed(seed);
  spec.set_difficulty(difficulty);
  return spec;
}

TEST(PluginTest, ExamplePluginWorksLikeABuiltinCategory) {
  proto::EnvsConfig config;
  config.add_plugin_paths(WORD_SUM_PLUGIN);
  ASSERT_OK_AND_ASSIGN(auto factory, EnvFactory::Create(config));
  const Category* c = factory->registry().Find("word_sum");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->top_level, 2);
  EXPECT_EQ(c->backend, std::string("plugin:") + WORD_SUM_PLUGIN);

  SynthesisOptions o;
  o.categories = {"word_sum"};
  o.envs_per_category = 3;
  o.tasks_per_env = 9;
  ASSERT_OK_AND_ASSIGN(SynthesisResult s, Synthesize(factory->registry(), o));
  EXPECT_EQ(s.report.total_failed, 0);
  EXPECT_EQ(s.prompts.size(), 27u);
  ASSERT_EQ(s.envs[0].backend(), c->backend);

  // Rebuilt from the stored spec alone, through its backend.
  ASSERT_OK_AND_ASSIGN(auto env, factory->Make(s.envs[0]));
  for (int level = 0; level <= 2; ++level) {
    EpisodeRecord good = RunEpisode(*env, 5, level, ReferencePolicy());
    ASSERT_TRUE(good.ok()) << good.infra_error;
    EXPECT_EQ(good.verdict.score, 1.0) << good.verdict.details;
    EXPECT_EQ(good.num_tool_calls, level + 1);
    EpisodeRecord wrong = RunEpisode(*env, 5, level, [](const Task&, const std::vector<Turn>&) {
      return absl::StatusOr<Action>(Action{{}, "-1"});
    });
    ASSERT_TRUE(wrong.ok());
    EXPECT_EQ(wrong.verdict.score, 0.0);
  }
  ASSERT_OK_AND_ASSIGN(Episode ep, env->Reset(1, 0));
  ASSERT_OK_AND_ASSIGN(StepResult r, env->Step(ep.state.get(), {{"nope", {}}, {"value", {}}}));
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_TRUE(r.results[0].is_error);
  EXPECT_TRUE(r.results[1].is_error);
  env->Close(ep.state.get());
}

TEST(PluginTest, LoadErrorsAreClear) {
  EXPECT_EQ(PluginLibrary::Load("/no/such/plugin.so").status().code(), absl::StatusCode::kNotFound);
  // A file that is not a shared library.
  auto s = PluginLibrary::Load(std::string(DSARL_SOURCE_DIR) + "/envs/plugin_abi.h");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
}

class FaultyPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(auto lib, PluginLibrary::Load(FAULTY_PLUGIN));
    // Every call that returns does so in microseconds; 5 s leaves room for a loaded machine to
    // schedule the call's thread, and bounds how long the hanging call holds the test.
    ASSERT_OK_AND_ASSIGN(env_, MakePluginEnvironment(lib, Spec("faulty", 1, 0), absl::Seconds(5)));
  }
  // An episode that calls `tool` in its one round.
  EpisodeRecord Run(uint64_t seed, const std::string& tool, const std::string& answer = "") {
    return RunEpisode(
        *env_, seed, 0, [tool, answer](const Task& task, const std::vector<Turn>& turns) {
          Action a;
          if (turns.empty() && !tool.empty()) {
            a.calls = {tool == "echo" ? task.solution.rounds[0][0] : ToolCall{tool, {}}};
          } else {
            a.final_answer = answer.empty() ? task.solution.final_answer : answer;
          }
          return absl::StatusOr<Action>(a);
        });
  }
  std::unique_ptr<Environment> env_;
};

TEST_F(FaultyPluginTest, FaultsFailTheirEpisodeWithTheReasonAndOthersGoOn) {
  struct Case {
    uint64_t seed;
    std::string tool, answer, reason;  // reason "" means the episode must succeed
  };
  const std::vector<Case> cases = {
      {1, "echo", "", ""},
      {2, "boom", "", "threw an exception: tool boom exploded"},
      {3, "hang", "", "did not return within"},
      {4, "garbage", "", "returned garbage: 0 results for 1 calls"},
      {5, "bad_utf8", "", "returned garbage: tool output is not valid UTF-8"},
      {6, "echo", "score7", "returned garbage: score 7 is not in [0, 1]"},
      {666, "", "", "threw an exception: reset exploded"},
      {777, "", "", "failed: (the plugin reported no error message)"},
      {8, "echo", "", ""},
  };
  std::vector<EpisodeRecord> records(cases.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < cases.size(); ++i) {
    threads.emplace_back(
        [&, i] { records[i] = Run(cases[i].seed, cases[i].tool, cases[i].answer); });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].tool + " seed " + std::to_string(cases[i].seed));
    if (cases[i].reason.empty()) {
      EXPECT_TRUE(records[i].ok()) << records[i].infra_error;
      EXPECT_EQ(records[i].verdict.score, 1.0);
    } else {
      EXPECT_THAT(records[i].infra_error, HasSubstr(cases[i].reason));
      EXPECT_THAT(records[i].infra_error, HasSubstr("plugin faulty"));
    }
  }
  // The environment is still healthy after all that.
  EpisodeRecord after = Run(9, "echo");
  EXPECT_TRUE(after.ok()) << after.infra_error;
  EXPECT_EQ(after.verdict.score, 1.0);
}

TEST_F(FaultyPluginTest, ABrokenEpisodeRefusesFurtherCalls) {
  ASSERT_OK_AND_ASSIGN(Episode ep, env_->Reset(3, 0));
  EXPECT_EQ(env_->Step(ep.state.get(), {{"garbage", {}}}).status().code(),
            absl::StatusCode::kDataLoss);
  auto again = env_->Step(ep.state.get(), {{"echo", {{"text", "x"}}}});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("failed earlier"));
}

// A tool output has the bound of one remote reply: 300 MiB (what a probe once saw accepted) is
// refused with the plugin's name and the size, and the episode is broken; 1 MiB is fine.
TEST_F(FaultyPluginTest, AnOutputOverTheReplyBoundIsRefused) {
  ASSERT_OK_AND_ASSIGN(Episode ok, env_->Reset(10, 0));
  ASSERT_OK_AND_ASSIGN(StepResult r,
                       env_->Step(ok.state.get(), {{"huge", {{"bytes", "1048576"}}}}));
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_EQ(r.results[0].output.size(), 1048576u);

  ASSERT_OK_AND_ASSIGN(Episode ep, env_->Reset(11, 0));
  const std::string bytes = std::to_string(size_t{300} << 20);
  absl::Status s = env_->Step(ep.state.get(), {{"huge", {{"bytes", bytes}}}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_THAT(s.message(), HasSubstr("plugin faulty"));
  EXPECT_THAT(s.message(), HasSubstr("its output of " + bytes + " bytes is over the 4 MiB bound"));
  EXPECT_EQ(env_->Step(ep.state.get(), {{"echo", {{"text", "x"}}}}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Just over the bound is over it.
  ASSERT_OK_AND_ASSIGN(Episode over, env_->Reset(12, 0));
  s = env_->Step(over.state.get(), {{"huge", {{"bytes", std::to_string(kMaxReplyBytes + 1)}}}})
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
}

}  // namespace
}  // namespace dsarl::envs
