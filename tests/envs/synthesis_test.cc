// Synthesis: the same seed gives byte-identical environments and tasks whatever the thread count;
// every environment has its ladder; failing tasks are reported and left out; the pass@k filter
// keeps exactly what the policy solves (tests/store/env_writer_test.cc covers the writing).
#include "envs/synthesis.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::envs {
namespace {

SynthesisOptions Small() {
  SynthesisOptions o;
  o.envs_per_category = 2;
  o.tasks_per_env = 10;
  o.seed = 7;
  o.threads = 2;
  return o;
}

Registry Builtins() {
  Registry r;
  RegisterBuiltinCategories(&r);
  return r;
}

std::string Bytes(const google::protobuf::Message& m) {
  std::string s;
  google::protobuf::io::StringOutputStream stream(&s);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return s;
}

TEST(SynthesisTest, SameSeedGivesByteIdenticalOutputWhateverTheThreads) {
  const Registry r = Builtins();
  SynthesisOptions one = Small();
  one.threads = 1;
  ASSERT_OK_AND_ASSIGN(SynthesisResult a, Synthesize(r, one));
  ASSERT_OK_AND_ASSIGN(SynthesisResult b, Synthesize(r, Small()));
  EXPECT_EQ(a.report.digest, b.report.digest);
  ASSERT_EQ(a.envs.size(), b.envs.size());
  ASSERT_EQ(a.prompts.size(), b.prompts.size());
  for (size_t i = 0; i < a.envs.size(); ++i) EXPECT_EQ(Bytes(a.envs[i]), Bytes(b.envs[i]));
  for (size_t i = 0; i < a.prompts.size(); ++i) {
    ASSERT_EQ(Bytes(a.prompts[i]), Bytes(b.prompts[i])) << i;
  }
  SynthesisOptions other = Small();
  other.seed = 8;
  ASSERT_OK_AND_ASSIGN(SynthesisResult c, Synthesize(r, other));
  EXPECT_NE(a.report.digest, c.report.digest);
}

TEST(SynthesisTest, EveryEnvironmentHasItsLadderAndEveryTaskItsSolution) {
  const Registry r = Builtins();
  ASSERT_OK_AND_ASSIGN(SynthesisResult s, Synthesize(r, Small()));
  size_t planned = 0;  // envs_per_category times each category's share
  for (const Category* c : r.All()) planned += 2 * c->envs_factor;
  EXPECT_EQ(s.envs.size(), planned);
  EXPECT_GT(planned, 2 * r.All().size());  // the synthesized category has a larger share
  EXPECT_EQ(s.report.total_failed, 0) << (s.report.failures.empty() ? "" : s.report.failures[0]);
  std::map<uint64_t, std::set<int>> levels;
  std::map<uint64_t, const proto::EnvSpec*> envs;
  for (const proto::EnvSpec& e : s.envs) envs[e.id()] = &e;
  for (size_t i = 0; i < s.prompts.size(); ++i) {
    const proto::Prompt& p = s.prompts[i];
    EXPECT_EQ(p.id(), i + 1);
    ASSERT_TRUE(envs.count(p.env_id()));
    EXPECT_EQ(p.category(), envs[p.env_id()]->category());
    EXPECT_FALSE(p.user().empty());
    EXPECT_FALSE(p.solution_answer().empty()) << p.user();
    for (const proto::SolutionRound& round : p.solution()) {
      EXPECT_GE(round.calls_size(), 1) << p.user();
      for (const proto::ToolCall& call : round.calls()) EXPECT_FALSE(call.name().empty());
    }
    EXPECT_EQ(p.solution_size() > 0, p.tools_size() > 0) << p.user();
    levels[p.env_id()].insert(p.difficulty());
  }
  for (const proto::EnvSpec& e : s.envs) {
    EXPECT_EQ(levels[e.id()], (std::set<int>{0, 1, 2, 3, 4})) << e.category();
  }
  int64_t sum = 0;
  for (const CategoryReport& c : s.report.categories) {
    const int factor = r.Find(c.name)->envs_factor;
    EXPECT_EQ(c.envs, 2 * factor) << c.name;
    EXPECT_EQ(c.tasks, 20 * factor) << c.name;  // 10 per environment
    sum += c.tasks;
  }
  EXPECT_EQ(sum, static_cast<int64_t>(s.prompts.size()));
}

TEST(SynthesisTest, QuickstartLevelsOnly) {
  SynthesisOptions o = Small();
  o.categories = {"arithmetic", "counting", "sorting"};
  o.envs_per_category = 8;
  o.tasks_per_env = 16;
  o.max_level = 0;
  ASSERT_OK_AND_ASSIGN(SynthesisResult s, Synthesize(Builtins(), o));
  EXPECT_EQ(s.envs.size(), 24u);
  EXPECT_EQ(s.prompts.size(), 24u * 16);
  for (const proto::Prompt& p : s.prompts) EXPECT_EQ(p.difficulty(), 0);
  o.categories = {"no_such_category"};
  EXPECT_EQ(Synthesize(Builtins(), o).status().code(), absl::StatusCode::kInvalidArgument);
}

// A category whose reference solution is wrong for every third seed.
class FlakyEnv : public Environment {
 public:
  explicit FlakyEnv(proto::EnvSpec spec) : spec_(std::move(spec)) {}
  const proto::EnvSpec& spec() const override { return spec_; }
  absl::StatusOr<Episode> Reset(uint64_t seed, int level) const override {
    Episode e;
    e.task.user = "say ok #" + std::to_string(seed) + "/" + std::to_string(level);
    e.task.solution.final_answer = seed % 3 == 0 ? "not ok" : "ok";
    e.state = std::make_unique<EpisodeState>();
    return e;
  }
  absl::StatusOr<StepResult> Step(EpisodeState*, absl::Span<const ToolCall> calls) const override {
    return StepResult{std::vector<ToolResult>(calls.size(), ToolResult{"error: none", true})};
  }
  absl::StatusOr<Verdict> Verify(const EpisodeState&, absl::string_view answer) const override {
    return Verdict{answer == "ok" ? 1.0 : 0.0, "expected ok"};
  }

 private:
  proto::EnvSpec spec_;
};

TEST(SynthesisTest, FailingTasksAreReportedAndLeftOut) {
  Registry r;
  Category c;
  c.name = "flaky";
  c.top_level = 1;
  c.build = [](const proto::EnvSpec& spec) -> absl::StatusOr<std::unique_ptr<Environment>> {
    return std::make_unique<FlakyEnv>(spec);
  };
  ASSERT_OK(r.Add(c));
  ASSERT_OK_AND_ASSIGN(SynthesisResult s, Synthesize(r, Small()));
  EXPECT_GT(s.report.total_failed, 0);
  ASSERT_FALSE(s.report.failures.empty());
  EXPECT_NE(s.report.failures[0].find("the reference solution scores 0"), std::string::npos)
      << s.report.failures[0];
  EXPECT_EQ(s.report.total_tasks, 20);  // the quota is still met, from other seeds
  for (const proto::Prompt& p : s.prompts) EXPECT_NE(p.task_seed() % 3, 0u);
}

TEST(SynthesisTest, PassAtKFilterKeepsWhatThePolicySolves) {
  const Registry r = Builtins();
  SynthesisOptions o = Small();
  o.categories = {"arithmetic", "trip_planning"};
  ASSERT_OK_AND_ASSIGN(SynthesisResult s, Synthesize(r, o));
  const size_t before = s.prompts.size();
  int calls = 0;
  std::mutex mu;
  // Solves a task on the second try only when its seed is even; otherwise answers wrong.
  auto policy_for = [&](const proto::Prompt& p, int attempt) -> Policy {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++calls;
    }
    if (p.task_seed() % 2 == 0 && attempt == 1) return ReferencePolicy();
    return [](const Task&, const std::vector<Turn>&) {
      return absl::StatusOr<Action>(Action{{}, "wrong"});
    };
  };
  ASSERT_OK_AND_ASSIGN(FilterReport f, FilterSolvable(r, policy_for, 2, 2, &s));
  EXPECT_EQ(f.kept + f.removed, static_cast<int64_t>(before));
  EXPECT_GT(f.kept, 0);
  EXPECT_GT(f.removed, 0);
  for (const proto::Prompt& p : s.prompts) EXPECT_EQ(p.task_seed() % 2, 0u);
  EXPECT_EQ(s.report.total_tasks, f.kept);
  EXPECT_EQ(calls, static_cast<int>(f.kept * 2 + f.removed * 2));
}

}  // namespace
}  // namespace dsarl::envs
