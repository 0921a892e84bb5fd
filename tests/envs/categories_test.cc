// Every built-in category, at every level: a scripted solver that follows the reference solution
// scores 1, a wrong answer scores 0, malformed tool calls get error observations (never a Status
// error or a crash), the same seed gives the same task, and one environment serves concurrent
// episodes.
#include <thread>

#include "absl/strings/numbers.h"
#include "envs/episode.h"
#include "envs/registry.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::envs {
namespace {

// Protobuf maps serialize in hash order unless asked otherwise.
std::string DeterministicBytes(const google::protobuf::Message& m) {
  std::string s;
  google::protobuf::io::StringOutputStream stream(&s);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return s;
}

proto::EnvSpec SpecFor(const Category& c, uint64_t seed) {
  proto::EnvSpec spec;
  spec.set_id(seed);
  spec.set_category(c.name);
  spec.set_seed(seed);
  spec.set_difficulty(c.top_level);
  if (c.sample_params) {
    Rng rng(seed);
    for (const auto& [k, v] : c.sample_params(rng)) (*spec.mutable_params())[k] = v;
  }
  return spec;
}

// Plays the solution's rounds, then `answer`.
Policy SolutionThen(std::string answer, bool play_rounds = true) {
  return [answer, play_rounds](const Task& task, const std::vector<Turn>& turns) {
    Action a;
    if (play_rounds && turns.size() < task.solution.rounds.size()) {
      a.calls = task.solution.rounds[turns.size()];
    } else {
      a.final_answer = answer;
    }
    return absl::StatusOr<Action>(a);
  };
}

class CategoryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    RegisterBuiltinCategories(&registry_);
    category_ = registry_.Find(GetParam());
    ASSERT_NE(category_, nullptr);
  }
  Registry registry_;
  const Category* category_ = nullptr;
};

TEST_P(CategoryTest, ReferenceSolverScoresOneAndWrongAnswersZero) {
  for (uint64_t env_seed : {11, 12}) {
    ASSERT_OK_AND_ASSIGN(auto env, category_->build(SpecFor(*category_, env_seed)));
    for (int level = 0; level <= category_->top_level; ++level) {
      for (uint64_t seed = 1; seed <= 3; ++seed) {
        SCOPED_TRACE(::testing::Message()
                     << "env seed " << env_seed << " level " << level << " seed " << seed);
        const EpisodeRecord good = RunEpisode(*env, seed, level, ReferencePolicy());
        ASSERT_TRUE(good.ok()) << good.infra_error;
        EXPECT_EQ(good.verdict.score, 1.0) << good.verdict.details << "\n" << good.task.user;
        EXPECT_EQ(good.num_tool_errors, 0);
        EXPECT_EQ(good.turns.size(), good.task.solution.rounds.size());

        auto it = good.task.reference.find("answer");
        if (it != good.task.reference.end()) {
          // A wrong answer after the right tool calls scores 0; so does an off-by-one number.
          const EpisodeRecord wrong = RunEpisode(*env, seed, level, SolutionThen("wrong answer"));
          ASSERT_TRUE(wrong.ok()) << wrong.infra_error;
          EXPECT_EQ(wrong.verdict.score, 0.0) << wrong.verdict.details;
          int64_t n = 0;
          if (absl::SimpleAtoi(it->second, &n)) {
            const EpisodeRecord off =
                RunEpisode(*env, seed, level, SolutionThen(std::to_string(n + 1)));
            EXPECT_EQ(off.verdict.score, 0.0) << off.verdict.details;
          }
        }
        if (good.task.reference.at("verifier") != "answer") {
          // Verified by the final database: the right answer without the changes scores 0.
          const EpisodeRecord lazy =
              RunEpisode(*env, seed, level, SolutionThen(good.task.solution.final_answer, false));
          ASSERT_TRUE(lazy.ok()) << lazy.infra_error;
          EXPECT_EQ(lazy.verdict.score, 0.0) << lazy.verdict.details;
        }
      }
    }
  }
}

TEST_P(CategoryTest, MalformedToolCallsGetErrorObservations) {
  ASSERT_OK_AND_ASSIGN(auto env, category_->build(SpecFor(*category_, 21)));
  const int level = category_->top_level;
  ASSERT_OK_AND_ASSIGN(Episode ep, env->Reset(5, level));
  std::vector<ToolCall> bad = {{"no_such_tool", {}}, {"", {{"x", "1"}}}};
  for (const proto::ToolSpec& tool : ep.task.tools) {
    ToolCall extra{tool.name(), {{"no_such_parameter", "1"}}};
    bad.push_back(extra);
    bool has_required = false;
    for (const proto::ToolParameter& p : tool.parameters()) has_required |= p.required();
    if (has_required) bad.push_back({tool.name(), {}});  // missing a required parameter
    if (tool.parameters_size() > 0) {
      ToolCall twice{tool.name(), {}};
      for (const proto::ToolParameter& p : tool.parameters()) {
        twice.arguments.emplace_back(p.name(), "7");
        twice.arguments.emplace_back(p.name(), "7");
      }
      bad.push_back(twice);
    }
    for (const proto::ToolParameter& p : tool.parameters()) {
      if (p.type() != "integer") continue;
      ToolCall not_int{tool.name(), {}};
      for (const proto::ToolParameter& q : tool.parameters()) {
        not_int.arguments.emplace_back(q.name(), q.name() == p.name() ? "seven" : "1");
      }
      bad.push_back(not_int);
    }
  }
  ASSERT_OK_AND_ASSIGN(StepResult r, env->Step(ep.state.get(), bad));
  ASSERT_EQ(r.results.size(), bad.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_TRUE(r.results[i].is_error) << bad[i].name << " -> " << r.results[i].output;
    EXPECT_EQ(r.results[i].output.rfind("error: ", 0), 0u) << r.results[i].output;
  }
  // The episode is still fine: the reference solution still solves it.
  for (const auto& round : ep.task.solution.rounds) {
    ASSERT_OK_AND_ASSIGN(StepResult ok, env->Step(ep.state.get(), round));
    for (const ToolResult& t : ok.results) EXPECT_FALSE(t.is_error) << t.output;
  }
  ASSERT_OK_AND_ASSIGN(Verdict v, env->Verify(*ep.state, ep.task.solution.final_answer));
  EXPECT_EQ(v.score, 1.0) << v.details;
}

TEST_P(CategoryTest, SameSeedSameTaskAndLevelsAreChecked) {
  ASSERT_OK_AND_ASSIGN(auto a, category_->build(SpecFor(*category_, 31)));
  ASSERT_OK_AND_ASSIGN(auto b, category_->build(SpecFor(*category_, 31)));
  for (int level = 0; level <= category_->top_level; ++level) {
    ASSERT_OK_AND_ASSIGN(Episode x, a->Reset(99, level));
    ASSERT_OK_AND_ASSIGN(Episode y, b->Reset(99, level));
    EXPECT_EQ(DeterministicBytes(TaskToPrompt(x.task, a->spec(), 99, level)),
              DeterministicBytes(TaskToPrompt(y.task, b->spec(), 99, level)));
  }
  EXPECT_EQ(a->Reset(1, category_->top_level + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a->Reset(1, -1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(CategoryTest, OneEnvironmentServesConcurrentEpisodes) {
  ASSERT_OK_AND_ASSIGN(auto env, category_->build(SpecFor(*category_, 41)));
  std::vector<double> scores(8, -1);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      EpisodeRecord r =
          RunEpisode(*env, 100 + t, t % (category_->top_level + 1), ReferencePolicy());
      scores[t] = r.ok() ? r.verdict.score : -2;
    });
  }
  for (std::thread& t : threads) t.join();
  for (double s : scores) EXPECT_EQ(s, 1.0);
}

std::vector<std::string> BuiltinNames() {
  Registry r;
  RegisterBuiltinCategories(&r);
  std::vector<std::string> names;
  for (const Category* c : r.All()) names.push_back(c->name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Builtin, CategoryTest, ::testing::ValuesIn(BuiltinNames()),
                         [](const auto& info) { return info.param; });

TEST(RegistryTest, HasTheFamiliesTheIssueAsksFor) {
  Registry r;
  RegisterBuiltinCategories(&r);
  int reasoning = 0, agent = 0, search = 0, code = 0;
  for (const Category* c : r.All()) {
    reasoning += c->kind == CategoryKind::kReasoning;
    agent += c->kind == CategoryKind::kAgent;
    search += c->kind == CategoryKind::kSearch;
    code += c->kind == CategoryKind::kCode;
  }
  EXPECT_GE(reasoning, 12);
  EXPECT_GE(agent, 5);
  EXPECT_GE(search, 1);
  EXPECT_GE(code, 1);
  for (const char* quickstart : {"arithmetic", "counting", "sorting"}) {
    EXPECT_NE(r.Find(quickstart), nullptr) << quickstart;
  }
  Category dup;
  dup.name = "arithmetic";
  dup.build = r.Find("arithmetic")->build;
  EXPECT_EQ(r.Add(dup).code(), absl::StatusCode::kAlreadyExists);
}

TEST(RegistryTest, QuickstartLevelZeroAnswersAreShort) {
  // The quickstart trains a tiny byte-level model on these: answers must stay a few bytes.
  Registry r;
  RegisterBuiltinCategories(&r);
  for (const char* name : {"arithmetic", "counting", "sorting"}) {
    ASSERT_OK_AND_ASSIGN(auto env, r.Find(name)->build(SpecFor(*r.Find(name), 3)));
    for (uint64_t seed = 0; seed < 50; ++seed) {
      ASSERT_OK_AND_ASSIGN(Episode ep, env->Reset(seed, 0));
      EXPECT_LE(ep.task.solution.final_answer.size(), 8u) << name << ": " << ep.task.user;
      EXPECT_LE(ep.task.user.size(), 60u) << name << ": " << ep.task.user;
    }
  }
}

TEST(AgentTest, EpisodesDoNotSeeEachOthersChanges) {
  Registry r;
  RegisterBuiltinCategories(&r);
  const Category* c = r.Find("shop_inventory");
  ASSERT_OK_AND_ASSIGN(auto env, c->build(SpecFor(*c, 5)));
  // Find a task verified by state, run its solution in one episode, and check that a second
  // episode of the same task still starts from the original database.
  for (uint64_t seed = 0; seed < 20; ++seed) {
    ASSERT_OK_AND_ASSIGN(Episode a, env->Reset(seed, 3));
    if (a.task.reference.at("verifier") == "answer") continue;
    ASSERT_OK_AND_ASSIGN(Episode b, env->Reset(seed, 3));
    for (const auto& round : a.task.solution.rounds) ASSERT_OK(env->Step(a.state.get(), round));
    ASSERT_OK_AND_ASSIGN(Verdict va, env->Verify(*a.state, a.task.solution.final_answer));
    ASSERT_OK_AND_ASSIGN(Verdict vb, env->Verify(*b.state, b.task.solution.final_answer));
    EXPECT_EQ(va.score, 1.0) << va.details;
    EXPECT_EQ(vb.score, 0.0) << vb.details;
    return;
  }
  FAIL() << "no state-verified task found";
}

}  // namespace
}  // namespace dsarl::envs
