// The typed store API: put/get/scan of environments and prompts, group append (atomic,
// idempotent), scans by run and step, runs, counts, and readers beside a writer.
#include "store/store.h"

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/store/test_util.h"

namespace dsarl::store {
namespace {

using ::dsarl::store::testing::MakeGroup;
using ::dsarl::store::testing::TempDir;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<Store> OpenNew(const std::string& dir) {
  OpenOptions options;
  options.create_if_missing = true;
  auto store = Store::Open(dir, options);
  EXPECT_OK(store.status());
  return store.ok() ? std::move(*store) : nullptr;
}

proto::EnvSpec Env(uint64_t id, const std::string& category) {
  proto::EnvSpec e;
  e.set_id(id);
  e.set_category(category);
  e.set_seed(id * 10);
  (*e.mutable_params())["size"] = std::to_string(id);
  return e;
}

proto::Prompt Prompt(uint64_t id, uint64_t env_id, const std::string& category) {
  proto::Prompt p;
  p.set_id(id);
  p.set_env_id(env_id);
  p.set_category(category);
  p.set_user("task " + std::to_string(id));
  return p;
}

template <typename T>
std::vector<uint64_t> Ids(absl::Status (Store::*scan)(const Visitor<T>&) const, const Store& s) {
  std::vector<uint64_t> ids;
  EXPECT_OK((s.*scan)([&](const T& r) {
    ids.push_back(r.id());
    return true;
  }));
  return ids;
}

std::vector<uint64_t> GroupPrompts(const Store& s, const GroupQuery& q) {
  std::vector<uint64_t> ids;
  EXPECT_OK(s.ScanGroups(q, [&](const proto::Group& g) {
    ids.push_back(g.prompt_id());
    return true;
  }));
  return ids;
}

TEST(StoreTest, EnvsPutGetScanByCategory) {
  TempDir tmp;
  auto store = OpenNew(tmp.path());
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->PutEnv(Env(3, "sorting")));
  ASSERT_OK(store->PutEnv(Env(1, "arithmetic")));
  ASSERT_OK(store->PutEnv(Env(2, "sorting")));
  ASSERT_OK_AND_ASSIGN(proto::EnvSpec e, store->GetEnv(2));
  EXPECT_TRUE(MessageDifferencer::Equals(e, Env(2, "sorting")));
  EXPECT_EQ(store->GetEnv(99).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Ids(&Store::ScanEnvs, *store), ElementsAre(1, 2, 3));

  std::vector<uint64_t> sorting;
  ASSERT_OK(store->ScanEnvsByCategory("sorting", [&](const proto::EnvSpec& e) {
    sorting.push_back(e.id());
    return true;
  }));
  EXPECT_THAT(sorting, ElementsAre(2, 3));

  // Replacing env 3 with another category moves its index entry; the count does not change.
  ASSERT_OK(store->PutEnv(Env(3, "arithmetic")));
  sorting.clear();
  ASSERT_OK(store->ScanEnvsByCategory("sorting", [&](const proto::EnvSpec& e) {
    sorting.push_back(e.id());
    return true;
  }));
  EXPECT_THAT(sorting, ElementsAre(2));
  EXPECT_EQ(store->Counts().envs(), 3u);
  EXPECT_EQ(store->PutEnv(Env(4, std::string("a\0b", 3))).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(StoreTest, PromptsByEnvironmentAndCategory) {
  TempDir tmp;
  auto store = OpenNew(tmp.path());
  ASSERT_NE(store, nullptr);
  std::vector<proto::Prompt> prompts;
  for (uint64_t id = 1; id <= 30; ++id) {
    prompts.push_back(Prompt(id, id % 3, id % 2 ? "odd" : "even"));
  }
  ASSERT_OK(store->PutPrompts(prompts));
  EXPECT_EQ(store->Counts().prompts(), 30u);
  ASSERT_OK_AND_ASSIGN(proto::Prompt p, store->GetPrompt(7));
  EXPECT_EQ(p.user(), "task 7");

  std::vector<uint64_t> env1;
  ASSERT_OK(store->ScanPromptsByEnv(1, [&](const proto::Prompt& p) {
    EXPECT_EQ(p.env_id(), 1u);
    env1.push_back(p.id());
    return true;
  }));
  EXPECT_THAT(env1, ElementsAre(1, 4, 7, 10, 13, 16, 19, 22, 25, 28));

  int odd = 0;
  ASSERT_OK(store->ScanPromptsByCategory("odd", [&](const proto::Prompt& p) {
    EXPECT_EQ(p.id() % 2, 1u);
    ++odd;
    return true;
  }));
  EXPECT_EQ(odd, 15);

  // Stopping early: the visitor's false ends the scan.
  int seen = 0;
  ASSERT_OK(store->ScanPrompts([&](const proto::Prompt&) { return ++seen < 4; }));
  EXPECT_EQ(seen, 4);

  // Moving prompt 4 to env 2 (twice in one batch) leaves one index entry, under env 2.
  ASSERT_OK(store->PutPrompts({Prompt(4, 0, "even"), Prompt(4, 2, "even")}));
  env1.clear();
  ASSERT_OK(store->ScanPromptsByEnv(1, [&](const proto::Prompt& p) {
    env1.push_back(p.id());
    return true;
  }));
  EXPECT_THAT(env1, ::testing::Not(::testing::Contains(4)));
  std::vector<uint64_t> env0;
  ASSERT_OK(store->ScanPromptsByEnv(0, [&](const proto::Prompt& p) {
    env0.push_back(p.id());
    return true;
  }));
  EXPECT_THAT(env0, ::testing::Not(::testing::Contains(4)));
  EXPECT_EQ(store->Counts().prompts(), 30u);
}

TEST(StoreTest, AppendGroupIsIdempotentAndWhole) {
  TempDir tmp;
  auto store = OpenNew(tmp.path());
  ASSERT_NE(store, nullptr);
  const proto::Group g = MakeGroup(42, 0, 1, -1);
  ASSERT_OK_AND_ASSIGN(bool written, store->AppendGroup(g));
  EXPECT_TRUE(written);
  // The same (prompt, attempt) again, even with different content, is not written.
  proto::Group retry = MakeGroup(42, 0, 1, 5, 4);
  ASSERT_OK_AND_ASSIGN(written, store->AppendGroup(retry));
  EXPECT_FALSE(written);
  ASSERT_OK_AND_ASSIGN(written, store->AppendGroup(MakeGroup(42, 1, 1, -1)));
  EXPECT_TRUE(written);

  ASSERT_OK_AND_ASSIGN(proto::Group back, store->GetGroup(42, 0));
  EXPECT_EQ(back.num_trajectories(), 8u);
  proto::Group expected = g;
  expected.set_num_trajectories(8);
  EXPECT_TRUE(MessageDifferencer::Equals(back, expected));
  ASSERT_OK_AND_ASSIGN(proto::Group header, store->GetGroup(42, 0, false));
  EXPECT_EQ(header.trajectories_size(), 0);
  EXPECT_EQ(header.num_trajectories(), 8u);
  EXPECT_EQ(store->GetGroup(43, 0).status().code(), absl::StatusCode::kNotFound);

  const proto::StoreCounts c = store->Counts();
  EXPECT_EQ(c.groups(), 2u);
  EXPECT_EQ(c.trajectories(), 16u);
  EXPECT_EQ(c.trajectory_tokens(), 16u * 64);
}

TEST(StoreTest, AppendGroupRejectsMalformedGroups) {
  TempDir tmp;
  auto store = OpenNew(tmp.path());
  ASSERT_NE(store, nullptr);
  proto::Group empty;
  empty.set_prompt_id(1);
  EXPECT_EQ(store->AppendGroup(empty).status().code(), absl::StatusCode::kInvalidArgument);
  proto::Group dup = MakeGroup(1, 0, 1, -1, 3);
  dup.mutable_trajectories(2)->set_sample_index(0);
  EXPECT_THAT(store->AppendGroup(dup).status().message(), HasSubstr("sample indexes"));
  proto::Group other = MakeGroup(1, 0, 1, -1, 3);
  other.mutable_trajectories(1)->set_prompt_id(2);
  EXPECT_EQ(store->AppendGroup(other).status().code(), absl::StatusCode::kInvalidArgument);
  // Nothing of the rejected groups was stored; prompt_id 0 on a trajectory means "the group's".
  EXPECT_EQ(store->Counts().groups(), 0u);
  proto::Group unset = MakeGroup(1, 0, 1, -1, 2);
  unset.mutable_trajectories(0)->set_prompt_id(0);
  ASSERT_OK(store->AppendGroup(unset));
  ASSERT_OK_AND_ASSIGN(proto::Group back, store->GetGroup(1, 0));
  EXPECT_EQ(back.trajectories(0).prompt_id(), 1u);
}

TEST(StoreTest, GroupsScanByRunAndStepRange) {
  TempDir tmp;
  auto store = OpenNew(tmp.path());
  ASSERT_NE(store, nullptr);
  // Run 1: prompts 100+s at step s for s in 0..299; run 2: a few; plus unconsumed groups.
  for (int64_t s = 0; s < 300; ++s) {
    ASSERT_OK(store->AppendGroup(MakeGroup(100 + s, 0, 1, s, 2, 8)));
  }
  ASSERT_OK(store->AppendGroup(MakeGroup(5000, 0, 2, 150, 2, 8)));
  ASSERT_OK(store->AppendGroup(MakeGroup(6000, 0, 1, -1, 2, 8)));

  GroupQuery q;
  q.run_id = 1;
  q.step_from = 100;
  q.step_to = 200;
  std::vector<uint64_t> ids = GroupPrompts(*store, q);
  ASSERT_EQ(ids.size(), 101u);
  EXPECT_EQ(ids.front(), 200u);
  EXPECT_EQ(ids.back(), 300u);

  q.step_from = -1;
  q.step_to = -1;  // the unconsumed groups of run 1
  EXPECT_THAT(GroupPrompts(*store, q), ElementsAre(6000));

  GroupQuery all_runs;
  all_runs.step_from = 150;
  all_runs.step_to = 150;
  all_runs.with_trajectories = false;
  EXPECT_THAT(GroupPrompts(*store, all_runs), ElementsAre(250, 5000));

  // Consuming moves the group: it leaves step -1 and appears at its step, once.
  ASSERT_OK(store->SetGroupStep(6000, 0, 400));
  EXPECT_THAT(GroupPrompts(*store, q), ElementsAre());
  q.step_from = 400;
  q.step_to = 400;
  EXPECT_THAT(GroupPrompts(*store, q), ElementsAre(6000));
  ASSERT_OK_AND_ASSIGN(proto::Group moved, store->GetGroup(6000, 0));
  EXPECT_EQ(moved.step(), 400);
  EXPECT_EQ(moved.trajectories_size(), 2);
  EXPECT_OK(store->SetGroupStep(6000, 0, 400));
  EXPECT_EQ(store->SetGroupStep(6001, 0, 1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Counts().groups(), 302u);
}

TEST(StoreTest, RunsMetricsAndCheckpoints) {
  TempDir tmp;
  auto store = OpenNew(tmp.path());
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(uint64_t first, store->NextRunId());
  EXPECT_EQ(first, 1u);
  proto::RunRecord run;
  run.set_run_id(1);
  run.set_name("quickstart");
  run.mutable_config()->set_name("quickstart");
  ASSERT_OK(store->PutRun(run));
  run.set_run_id(4);
  ASSERT_OK(store->PutRun(run));
  ASSERT_OK_AND_ASSIGN(uint64_t next, store->NextRunId());
  EXPECT_EQ(next, 5u);
  ASSERT_OK_AND_ASSIGN(proto::RunRecord back, store->GetRun(1));
  EXPECT_EQ(back.config().name(), "quickstart");

  for (int64_t step = 0; step < 50; ++step) {
    proto::StepMetrics m;
    m.set_run_id(1);
    m.set_step(step);
    (*m.mutable_values())["loss"] = 1.0 / (step + 1);
    ASSERT_OK(store->PutStepMetrics(m));
    if (step % 10 == 0) {
      proto::CheckpointRecord c;
      c.set_run_id(1);
      c.set_step(step);
      c.set_path("ckpt/" + std::to_string(step));
      ASSERT_OK(store->PutCheckpoint(c));
    }
  }
  std::vector<int64_t> steps;
  ASSERT_OK(store->ScanStepMetrics(1, 10, 14, [&](const proto::StepMetrics& m) {
    steps.push_back(m.step());
    return true;
  }));
  EXPECT_THAT(steps, ElementsAre(10, 11, 12, 13, 14));
  ASSERT_OK_AND_ASSIGN(proto::CheckpointRecord latest, store->LatestCheckpoint(1));
  EXPECT_EQ(latest.step(), 40);
  EXPECT_EQ(store->LatestCheckpoint(4).status().code(), absl::StatusCode::kNotFound);
  const proto::StoreCounts c = store->Counts();
  EXPECT_EQ(c.runs(), 2u);
  EXPECT_EQ(c.step_metrics(), 50u);
  EXPECT_EQ(c.checkpoints(), 5u);
}

TEST(StoreTest, EverythingSurvivesReopen) {
  TempDir tmp;
  {
    auto store = OpenNew(tmp.path());
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->PutEnv(Env(1, "a")));
    ASSERT_OK(store->PutPrompt(Prompt(1, 1, "a")));
    ASSERT_OK(store->AppendGroup(MakeGroup(1, 0, 1, -1)));
    ASSERT_OK(store->Close());
    EXPECT_EQ(store->GetEnv(1).status().code(), absl::StatusCode::kFailedPrecondition);
  }
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(tmp.path(), OpenOptions()));
  ASSERT_OK(store->GetEnv(1));
  ASSERT_OK(store->GetPrompt(1));
  ASSERT_OK(store->GetGroup(1, 0));
  const proto::StoreCounts c = store->Counts();
  EXPECT_EQ(c.envs(), 1u);
  EXPECT_EQ(c.prompts(), 1u);
  EXPECT_EQ(c.groups(), 1u);
  EXPECT_EQ(store->db().meta().schema_version(), kSchemaVersion);
}

// Many threads append at once (group commit), each group submitted twice by different threads:
// every group is written exactly once, whole, and the counts agree.
TEST(StoreTest, ConcurrentAppendsAreEachWrittenOnce) {
  TempDir tmp;
  OpenOptions options;
  options.create_if_missing = true;
  options.config.set_sync_writes(true);  // the case group commit is for
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(tmp.path(), options));
  constexpr int kThreads = 8, kGroups = 400;
  std::atomic<int> written{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Thread t submits groups t, t+4, t+8, ... so each group comes from two threads.
      for (int id = 1 + t % (kThreads / 2); id <= kGroups; id += kThreads / 2) {
        auto w = store->AppendGroup(MakeGroup(id, 0, 1, -1, 4, 16));
        ASSERT_OK(w);
        if (*w) ++written;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(written.load(), kGroups);
  EXPECT_EQ(store->Counts().groups(), static_cast<uint64_t>(kGroups));
  EXPECT_EQ(store->Counts().trajectories(), static_cast<uint64_t>(kGroups) * 4);
  int scanned = 0;
  ASSERT_OK(store->ScanGroups(GroupQuery(), [&](const proto::Group& g) {
    EXPECT_EQ(g.trajectories_size(), 4);
    ++scanned;
    return true;
  }));
  EXPECT_EQ(scanned, kGroups);
}

// Reader threads scan and look up groups while the writer appends: every group they see is
// whole, counts never go backwards, and every acknowledged group is visible.
TEST(StoreTest, ReadersRunWhileTheWriterWrites) {
  TempDir tmp;
  auto store = OpenNew(tmp.path());
  ASSERT_NE(store, nullptr);
  constexpr int kGroups = 1500;
  std::atomic<int64_t> acked{0};
  std::atomic<bool> done{false};
  std::atomic<int> scans{0};
  int scans_at_half = 0;
  std::thread writer([&] {
    for (int i = 1; i <= kGroups; ++i) {
      if (i == kGroups / 2) {
        // Halfway, wait (up to a minute) for the readers to have scanned twice, so reading
        // overlaps writing however the threads are scheduled.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (scans.load() < 2 && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        scans_at_half = scans.load();
      }
      auto w = store->AppendGroup(MakeGroup(i, 0, 1, i / 10, 8, 32));
      EXPECT_OK(w);
      if (!w.ok()) break;  // and still end the readers
      acked = i;
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      uint64_t last_count = 0;
      while (!done) {
        const int64_t known = acked.load();
        if (known > 0) {
          auto g = store->GetGroup(known, 0);
          ASSERT_OK(g);
          ASSERT_EQ(g->trajectories_size(), 8);
        }
        std::set<uint64_t> seen;
        GroupQuery q;
        q.run_id = 1;
        ASSERT_OK(store->ScanGroups(q, [&](const proto::Group& g) {
          EXPECT_EQ(g.trajectories_size(), 8);
          EXPECT_TRUE(seen.insert(g.prompt_id()).second);
          return true;
        }));
        ASSERT_GE(seen.size(), static_cast<size_t>(known));
        const uint64_t count = store->Counts().groups();
        ASSERT_GE(count, last_count);
        last_count = count;
        ++scans;
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(store->Counts().groups(), static_cast<uint64_t>(kGroups));
  EXPECT_GE(scans_at_half, 2) << "the readers never scanned while the writer wrote";
}

// A read-only store (another process's view, here in-process) opens beside the live writer, sees
// a whole state, and catches up with what the writer adds later.
TEST(StoreTest, ReadOnlyReaderBesideTheWriter) {
  TempDir tmp;
  auto writer = OpenNew(tmp.path());
  ASSERT_NE(writer, nullptr);
  for (int i = 1; i <= 20; ++i) ASSERT_OK(writer->AppendGroup(MakeGroup(i, 0, 1, -1)));
  OpenOptions ro;
  ro.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto reader, Store::Open(tmp.path(), ro));
  EXPECT_EQ(reader->Counts().groups(), 20u);
  ASSERT_OK(reader->GetGroup(20, 0));
  EXPECT_EQ(reader->AppendGroup(MakeGroup(99, 0, 1, -1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  for (int i = 21; i <= 30; ++i) ASSERT_OK(writer->AppendGroup(MakeGroup(i, 0, 1, -1)));
  EXPECT_EQ(reader->GetGroup(30, 0).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(writer->db().Flush());  // the reader now finds them in SST files, not the WAL
  ASSERT_OK(reader->CatchUp());
  EXPECT_EQ(reader->Counts().groups(), 30u);
  ASSERT_OK_AND_ASSIGN(proto::Group g, reader->GetGroup(30, 0));
  EXPECT_EQ(g.trajectories_size(), 8);
  EXPECT_EQ(writer->CatchUp().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace dsarl::store
