// The learner service over an in-process gRPC channel: leases with deadlines and re-issue, group
// intake that is idempotent and refuses stale work, checksummed weights, status.
#include "learner/service.h"

#include "base/crc32c.h"
#include "gtest/gtest.h"
#include "rollout/learner_client.h"
#include "tests/base/temp_dir.h"
#include "tests/learner/prompt_store.h"
#include "tests/status_matchers.h"

namespace dsarl::learner {
namespace {

struct Fixture {
  dsarl::testing::ScratchDir dir;  // first: outlives the store in it
  std::unique_ptr<store::Store> store;
  std::unique_ptr<LearnerState> state;
  std::unique_ptr<LearnerServer> server;
  std::unique_ptr<rollout::LearnerClient> client;
  int64_t now = 1000;

  explicit Fixture(const std::string& name, int max_staleness = 1) : dir("service-" + name) {
    std::vector<uint64_t> ids;
    store = dsarl::testing::StoreWithPrompts(dir.path(), 4, &ids);
    state = std::make_unique<LearnerState>(store.get(), 1,
                                           std::make_unique<PromptScheduler>(ids, 1, 5000),
                                           max_staleness, [this] { return now; });
    server = std::move(LearnerServer::Start("127.0.0.1:0", state.get()).value());
    client = std::make_unique<rollout::LearnerClient>(server->InProcessChannel(), "in-process", 5);
  }
};

proto::Group GroupFor(const proto::Lease& l, int64_t version, int G = 2) {
  proto::Group g;
  g.set_prompt_id(l.prompt().id());
  g.set_attempt(l.attempt());
  for (int i = 0; i < G; ++i) {
    proto::Trajectory* t = g.add_trajectories();
    t->set_prompt_id(l.prompt().id());
    t->set_sample_index(i);
    for (int k = 0; k < 4; ++k) {
      t->add_token_ids(k);
      t->add_loss_mask(k >= 2);
      t->add_behaviour_logprobs(k >= 2 ? -1.0f : 0.0f);
      t->add_policy_versions(k >= 2 ? version : 0);
    }
    t->set_reward(i);
  }
  return g;
}

TEST(LearnerService, LeaseSubmitDuplicateAndUnknown) {
  Fixture f("basic");
  ASSERT_OK_AND_ASSIGN(auto leases, f.client->Lease(3));
  ASSERT_EQ(leases.leases_size(), 3);
  EXPECT_EQ(leases.leases(0).env().category(), "arithmetic");
  EXPECT_FALSE(leases.leases(0).prompt().user().empty());
  ASSERT_OK_AND_ASSIGN(
      auto r, f.client->Submit(leases.leases(0).lease_id(), GroupFor(leases.leases(0), 0)));
  EXPECT_EQ(r.outcome(), proto::SubmitGroupResponse::ACCEPTED);
  // A retry of the same submission (e.g. the reply was lost) is a duplicate, not a second group.
  ASSERT_OK_AND_ASSIGN(
      r, f.client->Submit(leases.leases(0).lease_id(), GroupFor(leases.leases(0), 0)));
  EXPECT_EQ(r.outcome(), proto::SubmitGroupResponse::DUPLICATE);
  ASSERT_OK_AND_ASSIGN(
      r, f.client->Submit("0123456789abcdef0123456789abcdef", GroupFor(leases.leases(1), 0)));
  EXPECT_EQ(r.outcome(), proto::SubmitGroupResponse::UNKNOWN_LEASE);
  EXPECT_EQ(f.store->Counts().groups(), 1u);
  ASSERT_OK_AND_ASSIGN(auto st, f.client->Status());
  EXPECT_EQ(st.groups_pending(), 1);
  EXPECT_EQ(st.prompts_leased(), 2);
  // A group that does not match its lease is refused, and the lease stays for the right group.
  proto::Group wrong = GroupFor(leases.leases(1), 0);
  wrong.set_attempt(7);
  EXPECT_EQ(f.client->Submit(leases.leases(1).lease_id(), wrong).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(
      r, f.client->Submit(leases.leases(1).lease_id(), GroupFor(leases.leases(1), 0)));
  EXPECT_EQ(r.outcome(), proto::SubmitGroupResponse::ACCEPTED);
}

TEST(LearnerService, ExpiredLeasesAreReissuedAndLateResultsRefused) {
  Fixture f("expiry");
  ASSERT_OK_AND_ASSIGN(auto first, f.client->Lease(1));
  f.now += 6000;  // past the 5 s lease
  ASSERT_OK_AND_ASSIGN(auto again, f.client->Lease(1));
  EXPECT_EQ(again.leases(0).prompt().id(), first.leases(0).prompt().id());
  EXPECT_EQ(again.leases(0).attempt(), first.leases(0).attempt() + 1);
  ASSERT_OK_AND_ASSIGN(auto late,
                       f.client->Submit(first.leases(0).lease_id(), GroupFor(first.leases(0), 0)));
  EXPECT_EQ(late.outcome(), proto::SubmitGroupResponse::UNKNOWN_LEASE);
  ASSERT_OK_AND_ASSIGN(auto ok,
                       f.client->Submit(again.leases(0).lease_id(), GroupFor(again.leases(0), 0)));
  EXPECT_EQ(ok.outcome(), proto::SubmitGroupResponse::ACCEPTED);
  ASSERT_OK_AND_ASSIGN(int back, f.client->ReturnLeases({again.leases(0).lease_id()}));
  EXPECT_EQ(back, 0);  // already completed
}

TEST(LearnerService, StaleGroupsAreRefusedAndRequeued) {
  Fixture f("stale", /*max_staleness=*/1);
  auto w = std::make_shared<PublishedWeights>();
  w->version = 3;
  f.state->Publish(w);
  ASSERT_OK_AND_ASSIGN(auto l, f.client->Lease(2));
  EXPECT_EQ(l.policy_version(), 3);
  ASSERT_OK_AND_ASSIGN(auto r, f.client->Submit(l.leases(0).lease_id(), GroupFor(l.leases(0), 1)));
  EXPECT_EQ(r.outcome(), proto::SubmitGroupResponse::STALE);
  ASSERT_OK_AND_ASSIGN(r, f.client->Submit(l.leases(1).lease_id(), GroupFor(l.leases(1), 2)));
  EXPECT_EQ(r.outcome(), proto::SubmitGroupResponse::ACCEPTED);
  ASSERT_OK_AND_ASSIGN(auto st, f.client->Status());
  EXPECT_EQ(st.prompts_queued(), 1);  // the stale prompt waits for a new attempt
}

TEST(LearnerService, WeightsArriveWholeAndChecked) {
  Fixture f("weights");
  auto w = std::make_shared<PublishedWeights>();
  w->version = 5;
  for (int i = 0; i < 3'000'000; ++i) w->blob.push_back(char(i * 7));
  w->crc32c = Crc32c(w->blob);
  f.state->Publish(w);
  ASSERT_OK_AND_ASSIGN(auto img, f.client->PullWeights());
  EXPECT_EQ(img.version, 5);
  EXPECT_EQ(img.blob, w->blob);
  EXPECT_EQ(f.client->PullWeights(4).status().code(), absl::StatusCode::kNotFound);
  // A corrupted image (checksum of other bytes) is refused.
  auto bad = std::make_shared<PublishedWeights>(*w);
  bad->crc32c ^= 1;
  f.state->Publish(bad);
  EXPECT_EQ(f.client->PullWeights().status().code(), absl::StatusCode::kDataLoss);
}

TEST(LearnerService, TrainingLoopTakesGroupsAndFinishes) {
  Fixture f("take");
  ASSERT_OK_AND_ASSIGN(auto l, f.client->Lease(2));
  for (const auto& lease : l.leases()) {
    ASSERT_OK(f.client->Submit(lease.lease_id(), GroupFor(lease, 0)).status());
  }
  auto groups = f.state->TakeGroups(2, 1000, [] { return false; });
  EXPECT_EQ(groups.size(), 2u);
  f.state->SetFinished();
  ASSERT_OK_AND_ASSIGN(auto done, f.client->Lease(2));
  EXPECT_TRUE(done.finished());
  EXPECT_EQ(done.leases_size(), 0);
}

}  // namespace
}  // namespace dsarl::learner
