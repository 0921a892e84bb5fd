// Intake: each way a submitted group can be poisoned is refused by CheckGroup with a message that
// names the field, and through LearnerState::Submit it is refused with INVALID_ARGUMENT, kept in
// the store's quarantine, counted, never queued for training, and the prompt's honest retry is
// accepted. Huge arrays are refused without a pass over them; oversized groups are not stored.
#include "learner/intake.h"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "learner/learner_state.h"
#include "tests/base/temp_dir.h"
#include "tests/learner/prompt_store.h"
#include "tests/status_matchers.h"

namespace dsarl::learner {
namespace {

using ::testing::HasSubstr;

constexpr int kG = 4;
constexpr int64_t kVersion = 3;

IntakeLimits Limits() {
  IntakeLimits l;
  l.group_size = kG;
  l.vocab = 32;
  l.context = 16;
  l.min_reward = -10;
  l.max_reward = 10;
  l.max_group_bytes = 1 << 20;
  l.max_policy_version = kVersion;
  return l;
}

// G samples of 6 tokens: two of context, four of the policy's, one kept set (with its token).
proto::Group Honest(uint64_t prompt, uint32_t attempt) {
  proto::Group g;
  g.set_prompt_id(prompt);
  g.set_attempt(attempt);
  for (int i = 0; i < kG; ++i) {
    proto::Trajectory* t = g.add_trajectories();
    t->set_prompt_id(prompt);
    t->set_sample_index(i);
    for (int k = 0; k < 6; ++k) {
      const bool policy = k >= 2;
      t->add_token_ids(1 + k + i);
      t->add_loss_mask(policy);
      t->add_behaviour_logprobs(policy ? -0.5f : 0.0f);
      t->add_policy_versions(policy ? kVersion - 1 : 0);
      proto::KeptSet* kept = t->add_kept_sets();
      if (k == 3) {
        kept->add_ids(1 + k + i);
        kept->add_ids(30);
      }
    }
    t->set_reward(i % 2);
    proto::RewardComponent* c = t->add_reward_components();
    c->set_name("verifier");
    c->set_value(i % 2);
    c->set_weight(1);
    c->set_applicable(true);
  }
  return g;
}

proto::Trajectory* T(proto::Group* g, int i) { return g->mutable_trajectories(i); }

struct Poison {
  std::string name;
  std::function<void(proto::Group*)> apply;
  std::string message;  // a part of the refusal's message
};

std::vector<Poison> Poisons() {
  return {
      {"GroupSizeNotG", [](proto::Group* g) { g->mutable_trajectories()->RemoveLast(); },
       "trajectories: 3 trajectories, the group size is 4"},
      {"ThousandTrajectories",
       [](proto::Group* g) {
         for (int i = kG; i < 1000; ++i) {
           proto::Trajectory* t = g->add_trajectories();
           *t = g->trajectories(0);
           t->set_sample_index(i);
         }
       },
       "trajectories: 1000 trajectories"},
      {"SampleIndexTwice", [](proto::Group* g) { T(g, 3)->set_sample_index(1); },
       "trajectories[3].sample_index: 1"},
      {"OtherPromptsTrajectory", [](proto::Group* g) { T(g, 2)->set_prompt_id(99); },
       "trajectories[2].prompt_id: 99"},
      {"TokenOutsideVocab", [](proto::Group* g) { T(g, 2)->set_token_ids(3, 32); },
       "trajectories[2].token_ids: token 32 at 3"},
      {"NegativeToken", [](proto::Group* g) { T(g, 1)->set_token_ids(4, -1); },
       "trajectories[1].token_ids: token -1 at 4"},
      {"MaskShorterThanTokens", [](proto::Group* g) { T(g, 2)->mutable_loss_mask()->RemoveLast(); },
       "trajectories[2].loss_mask: 5 entries for 6 tokens"},
      {"LogProbsLongerThanTokens", [](proto::Group* g) { T(g, 0)->add_behaviour_logprobs(-1); },
       "trajectories[0].behaviour_logprobs: 7 entries for 6 tokens"},
      {"VersionsLongerThanTokens",
       [](proto::Group* g) { T(g, 3)->mutable_policy_versions()->Resize(40, 0); },
       "trajectories[3].policy_versions: 40 entries for 6 tokens"},
      {"KeptSetsShorterThanTokens",
       [](proto::Group* g) { T(g, 1)->mutable_kept_sets()->RemoveLast(); },
       "trajectories[1].kept_sets: 5 entries for 6 tokens"},
      {"RoutedExpertsForADenseModel",
       [](proto::Group* g) { T(g, 0)->add_routed_experts()->add_experts(0); },
       "trajectories[0].routed_experts: 1 records for 6 tokens x 0 MoE layers"},
      {"NanBehaviourLogProb", [](proto::Group* g) { T(g, 2)->set_behaviour_logprobs(4, NAN); },
       "trajectories[2].behaviour_logprobs: nan at 4"},
      {"InfBehaviourLogProb",
       [](proto::Group* g) { T(g, 2)->set_behaviour_logprobs(4, -INFINITY); },
       "trajectories[2].behaviour_logprobs: -inf at 4"},
      {"PositiveBehaviourLogProb",
       [](proto::Group* g) { T(g, 2)->set_behaviour_logprobs(5, 0.5f); },
       "trajectories[2].behaviour_logprobs: 0.5 at 5"},
      {"OneTokenSample",
       [](proto::Group* g) {
         proto::Trajectory* t = T(g, 1);
         t->mutable_token_ids()->Truncate(1);
         t->mutable_loss_mask()->Truncate(1);
         t->mutable_behaviour_logprobs()->Truncate(1);
         t->mutable_policy_versions()->Truncate(1);
         t->mutable_kept_sets()->DeleteSubrange(1, 5);
       },
       "trajectories[1].token_ids: 1 tokens"},
      {"FirstTokenIsPolicys", [](proto::Group* g) { T(g, 0)->set_loss_mask(0, 1); },
       "trajectories[0].loss_mask: 1 at 0"},
      {"MaskValueTwo", [](proto::Group* g) { T(g, 0)->set_loss_mask(3, 2); },
       "trajectories[0].loss_mask: 2 at 3"},
      {"NoPolicyToken",
       [](proto::Group* g) {
         for (int k = 0; k < 6; ++k) T(g, 3)->set_loss_mask(k, 0);
       },
       "trajectories[3].loss_mask: no policy token"},
      {"LongerThanTheContext",
       [](proto::Group* g) {
         proto::Trajectory* t = T(g, 2);
         for (int k = 0; k < 11; ++k) {
           t->add_token_ids(5);
           t->add_loss_mask(1);
           t->add_behaviour_logprobs(-1);
           t->add_policy_versions(kVersion);
           t->add_kept_sets();
         }
       },
       "trajectories[2].token_ids: 17 tokens, more than the context of 16"},
      {"KeptSetWithoutItsToken",
       [](proto::Group* g) { T(g, 1)->mutable_kept_sets(3)->set_ids(0, 7); },
       "trajectories[1].kept_sets: the set at 3 lacks its sampled token 5"},
      {"KeptSetIdOutsideVocab",
       [](proto::Group* g) { T(g, 1)->mutable_kept_sets(3)->set_ids(1, 99); },
       "trajectories[1].kept_sets: id 99 at 3"},
      {"NegativeVersion", [](proto::Group* g) { T(g, 0)->set_policy_versions(4, -2); },
       "trajectories[0].policy_versions: -2 at 4"},
      {"VersionFromTheFuture",
       [](proto::Group* g) { T(g, 0)->set_policy_versions(4, int64_t{1} << 62); },
       "newer than the learner's 3"},
      {"NanReward", [](proto::Group* g) { T(g, 3)->set_reward(NAN); },
       "trajectories[3].reward: nan"},
      {"InfReward", [](proto::Group* g) { T(g, 3)->set_reward(INFINITY); },
       "trajectories[3].reward: inf"},
      {"HugeReward", [](proto::Group* g) { T(g, 0)->set_reward(1e300); },
       "trajectories[0].reward: 1e+300"},
      {"NanRewardComponent",
       [](proto::Group* g) { T(g, 1)->mutable_reward_components(0)->set_value(NAN); },
       "trajectories[1].reward_components: [0] verifier value nan"},
      {"InfComponentWeight",
       [](proto::Group* g) { T(g, 1)->mutable_reward_components(0)->set_weight(INFINITY); },
       "trajectories[1].reward_components"},
  };
}

class PoisonTest : public ::testing::TestWithParam<Poison> {};

TEST(CheckGroup, AcceptsAnHonestGroup) {
  EXPECT_OK(CheckGroup(Honest(1, 0), Limits()));
  // A failed episode (infrastructure error) may be cut short; it is never trained.
  proto::Group g = Honest(1, 0);
  proto::Trajectory* t = T(&g, 2);
  t->clear_token_ids();
  t->clear_loss_mask();
  t->clear_behaviour_logprobs();
  t->clear_policy_versions();
  t->clear_kept_sets();
  t->set_infra_error("environment unreachable");
  EXPECT_OK(CheckGroup(g, Limits()));
}

TEST_P(PoisonTest, CheckGroupNamesTheField) {
  proto::Group g = Honest(1, 0);
  GetParam().apply(&g);
  absl::Status s = CheckGroup(g, Limits());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(GetParam().message));
}

// A learner's intake with four prompts, at version kVersion.
struct Intake {
  dsarl::testing::ScratchDir dir;  // first: outlives the store in it
  std::unique_ptr<store::Store> store;
  std::unique_ptr<LearnerState> state;

  explicit Intake(const std::string& name) : dir("intake-" + name) {
    std::vector<uint64_t> ids;
    store = dsarl::testing::StoreWithPrompts(dir.path(), 4, &ids);
    state = std::make_unique<LearnerState>(store.get(), 1,
                                           std::make_unique<PromptScheduler>(ids, 1, 60000),
                                           // Staleness is answered before intake (STALE: not
                                           // stored either); wide, so intake answers here.
                                           /*max_staleness=*/100, [] { return int64_t{1000}; });
    state->SetIntakeLimits(Limits());
    auto w = std::make_shared<PublishedWeights>();
    w->version = kVersion;
    state->Publish(w);
  }

  proto::Lease LeaseOne() {
    auto r = state->Lease("worker-1", 1);
    EXPECT_OK(r.status());
    return r.ok() && r->leases_size() == 1 ? r->leases(0) : proto::Lease();
  }

  absl::StatusOr<proto::SubmitGroupResponse> Submit(const proto::Lease& l, proto::Group g) {
    return state->Submit("worker-1", l.lease_id(), std::move(g));
  }

  std::vector<proto::QuarantinedGroup> Quarantined() const {
    std::vector<proto::QuarantinedGroup> out;
    EXPECT_OK(store->ScanQuarantine([&](const proto::QuarantinedGroup& q) {
      out.push_back(q);
      return true;
    }));
    return out;
  }
};

TEST_P(PoisonTest, SubmitRefusesQuarantinesAndTakesTheHonestRetry) {
  Intake f(GetParam().name);
  const proto::Lease lease = f.LeaseOne();
  const int queued = f.state->Status().prompts_queued();
  proto::Group bad = Honest(lease.prompt().id(), lease.attempt());
  GetParam().apply(&bad);
  auto r = f.Submit(lease, bad);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(GetParam().message));
  const std::vector<proto::QuarantinedGroup> q = f.Quarantined();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_THAT(q[0].reason(), HasSubstr(GetParam().message));
  EXPECT_EQ(q[0].source(), "intake");
  EXPECT_EQ(q[0].group().prompt_id(), lease.prompt().id());
  EXPECT_EQ(f.store->Counts().groups(), 0u);
  EXPECT_EQ(f.store->Counts().quarantined(), 1u);
  proto::StatusResponse st = f.state->Status();
  EXPECT_EQ(st.groups_pending(), 0);
  EXPECT_EQ(st.groups_rejected(), 1);
  EXPECT_EQ(st.prompts_queued(), queued + 1);  // the prompt waits for a new attempt
  // The honest retry of the same prompt is accepted and queued for training.
  const proto::Lease again = f.LeaseOne();
  EXPECT_EQ(again.prompt().id(), lease.prompt().id());
  ASSERT_OK_AND_ASSIGN(auto ok, f.Submit(again, Honest(again.prompt().id(), again.attempt())));
  EXPECT_EQ(ok.outcome(), proto::SubmitGroupResponse::ACCEPTED);
  EXPECT_EQ(f.state->Status().groups_pending(), 1);
  EXPECT_EQ(f.store->Counts().groups(), 1u);
}

INSTANTIATE_TEST_SUITE_P(EveryPoison, PoisonTest, ::testing::ValuesIn(Poisons()),
                         [](const auto& info) { return info.param.name; });

// A worker's refusals are kept up to its allowance; later ones are refused and counted the same
// but not stored. Another worker's refusal is still kept.
TEST(Quarantine, KeepsAtMostTheAllowanceOfRefusalsPerWorker) {
  Intake f("allowance");
  IntakeLimits l = Limits();
  l.max_quarantined_per_worker = 2;
  f.state->SetIntakeLimits(l);
  auto refuse = [&](const std::string& worker) {
    auto leased = f.state->Lease(worker, 1);
    ASSERT_OK(leased.status());
    ASSERT_EQ(leased->leases_size(), 1);
    const proto::Lease& lease = leased->leases(0);
    proto::Group bad = Honest(lease.prompt().id(), lease.attempt());
    T(&bad, 1)->set_token_ids(2, -1);
    EXPECT_EQ(f.state->Submit(worker, lease.lease_id(), bad).status().code(),
              absl::StatusCode::kInvalidArgument);
  };
  for (int i = 0; i < 4; ++i) refuse("mallory");
  EXPECT_EQ(f.state->Status().groups_rejected(), 4);
  EXPECT_EQ(f.store->Counts().quarantined(), 2u);
  refuse("eve");
  EXPECT_EQ(f.state->Status().groups_rejected(), 5);
  const std::vector<proto::QuarantinedGroup> q = f.Quarantined();
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].group().worker_id(), "mallory");
  EXPECT_EQ(q[1].group().worker_id(), "mallory");
  EXPECT_EQ(q[2].group().worker_id(), "eve");
}

TEST(CheckGroup, RoutedExpertsMatchTheModel) {
  IntakeLimits l = Limits();
  l.moe_layers = 2;
  l.experts_per_token = 2;
  l.n_routed_experts = 4;
  proto::Group g = Honest(1, 0);
  for (proto::Trajectory& t : *g.mutable_trajectories()) {
    for (int r = 0; r < t.token_ids_size() * l.moe_layers; ++r) {
      proto::RoutedExperts* e = t.add_routed_experts();
      e->add_experts(r % 4);
      e->add_experts((r + 1) % 4);
    }
  }
  EXPECT_OK(CheckGroup(g, l));
  proto::Group missing = Honest(1, 0);
  EXPECT_THAT(std::string(CheckGroup(missing, l).message()),
              HasSubstr("trajectories[0].routed_experts: 0 records for 6 tokens x 2 MoE layers"));
  proto::Group wide = g;
  T(&wide, 1)->mutable_routed_experts(5)->add_experts(3);
  EXPECT_THAT(std::string(CheckGroup(wide, l).message()),
              HasSubstr("trajectories[1].routed_experts: record 5 has 3 experts"));
  proto::Group out = g;
  T(&out, 2)->mutable_routed_experts(7)->set_experts(0, 4);
  EXPECT_THAT(std::string(CheckGroup(out, l).message()),
              HasSubstr("trajectories[2].routed_experts: record 7: expert 4"));
  proto::Group twice = g;
  T(&twice, 3)->mutable_routed_experts(0)->set_experts(1, 0);
  EXPECT_THAT(std::string(CheckGroup(twice, l).message()), HasSubstr("expert 0 repeated"));
}

// A group with 40M policy_versions entries (the array that crashed LearnerJob::Run) is refused by
// its length alone: no pass over the entries.
TEST(CheckGroup, FortyMillionPolicyVersionsAreRefusedAtOnce) {
  proto::Group g = Honest(1, 0);
  T(&g, 1)->mutable_policy_versions()->Resize(40'000'000, 0);
  const auto t0 = std::chrono::steady_clock::now();
  absl::Status s = CheckGroup(g, Limits());
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("trajectories[1].policy_versions: 40000000 entries for 6 tokens"));
  EXPECT_LT(ms, 5.0) << "CheckGroup took " << ms << " ms";
  // Through Submit: refused, and the record keeps the header alone (too big to keep whole).
  Intake f("forty-million");
  const proto::Lease lease = f.LeaseOne();
  g.set_prompt_id(lease.prompt().id());
  g.set_attempt(lease.attempt());
  for (proto::Trajectory& t : *g.mutable_trajectories()) t.set_prompt_id(lease.prompt().id());
  auto r = f.Submit(lease, std::move(g));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  const auto q = f.Quarantined();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_TRUE(q[0].trajectories_dropped());
  EXPECT_EQ(q[0].group().trajectories_size(), 0);
  EXPECT_EQ(q[0].group().num_trajectories(), uint32_t{kG});
  EXPECT_GT(q[0].group_bytes(), 40'000'000u);
}

// A group over the size cap (here a 65 MiB reward detail under the default 64 MiB cap) is refused
// and not stored whole anywhere.
TEST(CheckGroup, OversizedGroupIsRefusedAndNotStored) {
  IntakeLimits l = Limits();
  l.max_group_bytes = IntakeLimits().max_group_bytes;
  proto::Group g = Honest(1, 0);
  T(&g, 0)->mutable_reward_components(0)->set_details(std::string(65 << 20, 'x'));
  EXPECT_THAT(std::string(CheckGroup(g, l).message()),
              HasSubstr("bytes, more than the cap of 67108864 (learner.max_group_mb)"));
  Intake f("oversized");
  f.state->SetIntakeLimits(l);
  const proto::Lease lease = f.LeaseOne();
  g.set_prompt_id(lease.prompt().id());
  g.set_attempt(lease.attempt());
  for (proto::Trajectory& t : *g.mutable_trajectories()) t.set_prompt_id(lease.prompt().id());
  EXPECT_EQ(f.Submit(lease, std::move(g)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.store->Counts().groups(), 0u);
  EXPECT_EQ(f.store->Counts().trajectory_tokens(), 0u);
  const auto q = f.Quarantined();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_TRUE(q[0].trajectories_dropped());
  EXPECT_GT(q[0].group_bytes(), uint64_t{65} << 20);
}

TEST(IntakeLimits, ComeFromTheConfigAndTheModel) {
  proto::JobConfig c;
  c.mutable_rollout()->set_group_size(6);
  c.mutable_learner()->set_min_reward(-2);
  c.mutable_learner()->set_max_reward(3);
  c.mutable_learner()->set_max_group_mb(16);
  model::ModelDims d;
  d.vocab = 500;
  d.max_pos = 128;
  d.n_layers = 4;
  d.n_routed = 8;
  d.experts_per_tok = 2;
  d.first_k_dense = 1;
  const IntakeLimits l = IntakeLimitsFromConfig(c, d);
  EXPECT_EQ(l.group_size, 6);
  EXPECT_EQ(l.vocab, 500);
  EXPECT_EQ(l.context, 128);
  EXPECT_EQ(l.moe_layers, 3);
  EXPECT_EQ(l.experts_per_token, 2);
  EXPECT_EQ(l.n_routed_experts, 8);
  EXPECT_EQ(l.min_reward, -2);
  EXPECT_EQ(l.max_reward, 3);
  EXPECT_EQ(l.max_group_bytes, uint64_t{16} << 20);
  EXPECT_FALSE(l.max_policy_version.has_value());
  // The defaults: rewards within +-1e6, groups up to 64 MiB.
  const IntakeLimits dflt = IntakeLimitsFromConfig(proto::JobConfig(), d);
  EXPECT_EQ(dflt.min_reward, -1e6);
  EXPECT_EQ(dflt.max_reward, 1e6);
  EXPECT_EQ(dflt.max_group_bytes, uint64_t{64} << 20);
}

}  // namespace
}  // namespace dsarl::learner
