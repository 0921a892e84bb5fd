// Leases: every prompt is handed out once per epoch; an expired or returned lease comes back with
// a new attempt; a completed lease cannot complete twice; state restores.
#include "learner/scheduler.h"

#include <set>

#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::learner {
namespace {

TEST(Scheduler, EpochsVisitEveryPromptOnceInASeededOrder) {
  PromptScheduler s({10, 11, 12, 13, 14}, 7, 1000);
  auto a = s.Lease("w", 5, 0);
  std::set<uint64_t> seen;
  for (const auto& l : a) seen.insert(l.prompt_id);
  EXPECT_EQ(seen.size(), 5u);
  auto b = s.Lease("w", 5, 0);
  PromptScheduler s2({10, 11, 12, 13, 14}, 7, 1000);
  auto a2 = s2.Lease("w", 10, 0);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(a[i].prompt_id, a2[i].prompt_id);
    EXPECT_EQ(b[i].prompt_id, a2[5 + i].prompt_id);
    EXPECT_EQ(b[i].attempt, 1u);  // second epoch: second attempt of each prompt
  }
}

TEST(Scheduler, ExpiredAndReturnedLeasesComeBackWithANewAttempt) {
  PromptScheduler s({1, 2, 3}, 1, 1000);
  auto l = s.Lease("w1", 2, 0);
  EXPECT_EQ(s.leased(), 2);
  EXPECT_EQ(s.Return("w2", {l[0].lease_id}), 0);  // not w2's lease
  EXPECT_EQ(s.Return("w1", {l[0].lease_id}), 1);
  auto again = s.Lease("w2", 1, 10);
  EXPECT_EQ(again[0].prompt_id, l[0].prompt_id);
  EXPECT_EQ(again[0].attempt, l[0].attempt + 1);
  // l[1] expires at 1000.
  EXPECT_EQ(s.ExpireLeases(999), 0);
  auto late = s.Lease("w3", 1, 1000);
  EXPECT_EQ(late[0].prompt_id, l[1].prompt_id);
  // expired: the late result is not taken
  EXPECT_FALSE(s.Complete(l[1].lease_id, "w1", l[1].prompt_id, l[1].attempt).ok());
  ASSERT_OK_AND_ASSIGN(LeaseInfo done,
                       s.Complete(late[0].lease_id, "w3", late[0].prompt_id, late[0].attempt));
  EXPECT_EQ(done.prompt_id, l[1].prompt_id);
  EXPECT_FALSE(s.Complete(late[0].lease_id, "w3", late[0].prompt_id, late[0].attempt).ok());
}

TEST(Scheduler, ReturnAllGivesBackEveryLeaseOfOneWorkerOnly) {
  PromptScheduler s({1, 2, 3, 4}, 1, 1000);
  auto dead = s.Lease("w1", 2, 0);
  auto alive = s.Lease("w2", 1, 0);
  EXPECT_EQ(s.ReturnAll("w1"), 2);
  EXPECT_EQ(s.leased_by("w1"), 0);
  EXPECT_EQ(s.leased_by("w2"), 1);
  EXPECT_EQ(s.ReturnAll("w1"), 0);
  // The returned prompts come first, long before their leases would have expired.
  auto next = s.Lease("w1", 2, 10);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(std::set<uint64_t>({next[0].prompt_id, next[1].prompt_id}),
            std::set<uint64_t>({dead[0].prompt_id, dead[1].prompt_id}));
  EXPECT_TRUE(s.Complete(alive[0].lease_id, "w2", alive[0].prompt_id, alive[0].attempt).ok());
}

TEST(Scheduler, RestoreContinuesTheOrder) {
  PromptScheduler s({1, 2, 3, 4}, 3, 1000);
  auto first = s.Lease("w", 3, 0);
  SchedulerState st = s.state();
  auto next = s.Lease("w", 2, 0);
  PromptScheduler r({1, 2, 3, 4}, 3, 1000);
  r.Restore(st);
  auto resumed = r.Lease("w", 2, 0);
  EXPECT_EQ(resumed[0].prompt_id, next[0].prompt_id);
  EXPECT_EQ(resumed[1].attempt, next[1].attempt);
  EXPECT_NE(resumed[0].lease_id, next[0].lease_id);
}

TEST(Scheduler, LeaseIdsAreUnguessableAndBoundToTheirHolder) {
  PromptScheduler s({1, 2, 3, 4}, 3, 1000);
  auto a = s.Lease("alice", 2, 0);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].lease_id.size(), 32u);  // 128 random bits in hex
  EXPECT_NE(a[0].lease_id, a[1].lease_id);
  EXPECT_EQ(s.leased_by("alice"), 2);
  EXPECT_EQ(s.leased_by("mallory"), 0);
  // Another identity can neither complete nor return alice's lease, and trying leaves it hers.
  EXPECT_EQ(s.Complete(a[0].lease_id, "mallory", a[0].prompt_id, a[0].attempt).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.Return("mallory", {a[0].lease_id}), 0);
  // A group for another prompt does not cancel the lease either.
  EXPECT_EQ(s.Complete(a[0].lease_id, "alice", a[0].prompt_id + 100, a[0].attempt).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.leased(), 2);
  EXPECT_OK(s.Complete(a[0].lease_id, "alice", a[0].prompt_id, a[0].attempt).status());
  EXPECT_EQ(s.Return("alice", {a[1].lease_id}), 1);
  EXPECT_EQ(s.leased(), 0);
}

}  // namespace
}  // namespace dsarl::learner
