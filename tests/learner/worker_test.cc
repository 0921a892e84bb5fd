// The worker against a real learner service (in-process channel): it pulls weights for the
// leased version, submits one group per lease, returns leases it did not finish when stopped, and
// retries then gives up while the learner is unreachable.
#include "rollout/worker.h"

#include <chrono>
#include <thread>

#include "base/crc32c.h"
#include "gtest/gtest.h"
#include "learner/service.h"
#include "model/checkpoint.h"
#include "tests/base/closed_port.h"
#include "tests/base/temp_dir.h"
#include "tests/learner/prompt_store.h"
#include "tests/model/model_test_util.h"
#include "tests/status_matchers.h"

namespace dsarl::rollout {
namespace {

// Produces a fixed group per lease; optionally stops after `limit` groups (simulating SIGTERM).
class FakeRunner : public GroupRunner {
 public:
  std::vector<proto::Group> RunGroups(const std::vector<proto::Lease>& leases,
                                      const model::Transformer&, int64_t version,
                                      const std::atomic<bool>& stop) override {
    std::vector<proto::Group> out;
    for (const auto& l : leases) {
      if (stop.load()) break;
      proto::Group g;
      g.set_prompt_id(l.prompt().id());
      g.set_attempt(l.attempt());
      for (int i = 0; i < 2; ++i) {
        auto* t = g.add_trajectories();
        t->set_sample_index(i);
        t->add_token_ids(1);
        t->add_loss_mask(0);
        t->add_behaviour_logprobs(0);
        t->add_policy_versions(0);
        t->add_token_ids(2);
        t->add_loss_mask(1);
        t->add_behaviour_logprobs(-1);
        t->add_policy_versions(version);
      }
      out.push_back(g);
      if (++count == stop_after && stop_flag != nullptr) stop_flag->store(true);
    }
    return out;
  }
  int count = 0, stop_after = -1;
  std::atomic<bool>* stop_flag = nullptr;
};

struct LearnerFixture {
  dsarl::testing::ScratchDir dir;  // first: outlives the store in it
  std::unique_ptr<store::Store> store;
  std::unique_ptr<learner::LearnerState> state;
  std::unique_ptr<learner::LearnerServer> server;
  model::ModelDims dims = model::testing::TinyTestDims(false, model::AttentionMode::kSparse);
  std::unique_ptr<model::Transformer> learner_model;

  explicit LearnerFixture(const std::string& name) : dir("worker-" + name) {
    std::vector<uint64_t> ids;
    store = dsarl::testing::StoreWithPrompts(dir.path(), 6, &ids);
    state = std::make_unique<learner::LearnerState>(
        store.get(), 1, std::make_unique<learner::PromptScheduler>(ids, 1, 60000), 1,
        [] { return int64_t(0); });
    learner_model = std::make_unique<model::Transformer>(dims);
    learner_model->InitRandom(42);
    auto w = std::make_shared<learner::PublishedWeights>();
    w->version = 2;
    w->blob = model::SerializeWeights(*learner_model, {}).value();
    w->crc32c = Crc32c(w->blob);
    state->Publish(w);
    server = std::move(learner::LearnerServer::Start("127.0.0.1:0", state.get()).value());
  }
};

TEST(Worker, PullsWeightsSubmitsGroupsAndStopsWhenFinished) {
  LearnerFixture f("basic");
  LearnerClient client(f.server->InProcessChannel(), "in-process", 5);
  model::Transformer policy(f.dims);  // zeros until the pull
  FakeRunner runner;
  WorkerOptions o;
  o.prompts_per_lease = 2;
  Worker worker(&client, &runner, &policy, o);
  std::atomic<bool> stop{false};
  // Finishes the run once all 6 groups are stored, or after a minute (failing): either way the
  // worker's Run returns. A jthread, so an early return from the test still joins it.
  std::jthread finisher([&](std::stop_token cancel) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (f.store->Counts().groups() < 6 && !cancel.stop_requested()) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "only " << f.store->Counts().groups() << " of 6 groups after 60 s";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    f.state->SetFinished();
  });
  ASSERT_OK(worker.Run(stop));
  finisher.join();
  EXPECT_EQ(worker.version(), 2);
  EXPECT_EQ(std::memcmp(policy.params(), f.learner_model->params(),
                        policy.table().total_floats() * sizeof(float)),
            0);
  EXPECT_GE(worker.stats().groups_submitted, 6);
  EXPECT_EQ(worker.stats().weight_pulls, 1);
}

TEST(Worker, StopReturnsUnfinishedLeases) {
  LearnerFixture f("stop");
  LearnerClient client(f.server->InProcessChannel(), "in-process", 5);
  model::Transformer policy(f.dims);
  std::atomic<bool> stop{false};
  FakeRunner runner;
  runner.stop_after = 1;
  runner.stop_flag = &stop;
  WorkerOptions o;
  o.prompts_per_lease = 4;
  Worker worker(&client, &runner, &policy, o);
  ASSERT_OK(worker.Run(stop));
  EXPECT_EQ(worker.stats().groups_submitted, 1);
  EXPECT_EQ(worker.stats().leases_returned, 3);
  ASSERT_OK_AND_ASSIGN(auto st, client.Status());
  EXPECT_EQ(st.prompts_leased(), 0);
  EXPECT_EQ(st.prompts_queued(), 3);
}

TEST(Worker, GivesUpWhenTheLearnerStaysAway) {
  const dsarl::testing::ClosedPort closed;  // held for the test: refuses connections
  ASSERT_GT(closed.port(), 0);
  ASSERT_OK_AND_ASSIGN(auto channel, LearnerClient::Connect(closed.address()));
  LearnerClient client(channel, closed.address(), 0.2);
  model::Transformer policy(model::testing::TinyTestDims(false, model::AttentionMode::kSparse));
  FakeRunner runner;
  WorkerOptions o;
  o.backoff_initial_s = 0.05;
  o.give_up_after_s = 1;  // room for several retries (after 50, 100, 200, 400 ms) even under load
  Worker worker(&client, &runner, &policy, o);
  std::atomic<bool> stop{false};
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = worker.Run(stop);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_GT(worker.stats().retries, 1);
  EXPECT_GE(waited, o.give_up_after_s) << "gave up before give_up_after_s";
}

}  // namespace
}  // namespace dsarl::rollout
