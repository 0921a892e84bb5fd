// The learner job end to end in one process: a worker on loopback gRPC generates groups with the
// rollout engine for a toy verifiable task (write lowercase letters); the job trains, publishes
// versions, writes metrics and checkpoints, and a second job with the same config resumes with no
// group lost or trained twice. Bad groups found in the store at resume, or slipped into the queue,
// are quarantined and the job trains on.
#include "learner/learner_job.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer.h"
#include "rollout/engine.h"
#include "rollout/worker.h"
#include "tests/base/temp_dir.h"
#include "tests/status_matchers.h"

namespace dsarl::learner {
namespace {

class LetterEpisode : public rollout::Episode {
 public:
  std::optional<std::vector<int>> OnTurnEnd(const rollout::EpisodeRecord&,
                                            const rollout::TurnEnd&) override {
    return std::nullopt;
  }
  void OnFinished(const rollout::EpisodeRecord& r, proto::FinishReason reason) override {
    record = r;
    finish = reason;
  }
  rollout::EpisodeRecord record;
  proto::FinishReason finish;
};

class LetterRunner : public rollout::GroupRunner {
 public:
  std::vector<proto::Group> RunGroups(const std::vector<proto::Lease>& leases,
                                      const model::Transformer& policy, int64_t version,
                                      const std::atomic<bool>& stop) override {
    rollout::EngineOptions o;
    o.max_new_tokens = 6;
    o.policy_version = version;
    rollout::Engine engine(&policy, model::AttentionMode::kSparse, o);
    std::vector<std::vector<std::unique_ptr<LetterEpisode>>> eps(leases.size());
    std::vector<rollout::GroupRequest> reqs;
    for (size_t i = 0; i < leases.size(); ++i) {
      rollout::GroupRequest g;
      g.prompt = {model::kBosId, 'Q', int('0' + leases[i].prompt().id() % 10), ':'};
      g.seed = leases[i].prompt().id() * 131 + leases[i].attempt();
      for (int k = 0; k < 4; ++k) {
        eps[i].push_back(std::make_unique<LetterEpisode>());
        g.episodes.push_back(eps[i].back().get());
      }
      reqs.push_back(g);
    }
    EXPECT_OK(engine.Run(reqs));
    std::vector<proto::Group> out;
    for (size_t i = 0; i < leases.size() && !stop.load(); ++i) {
      proto::Group g;
      g.set_prompt_id(leases[i].prompt().id());
      g.set_attempt(leases[i].attempt());
      for (size_t k = 0; k < eps[i].size(); ++k) {
        const auto& r = eps[i][k]->record;
        proto::Trajectory* t = g.add_trajectories();
        t->set_prompt_id(g.prompt_id());
        t->set_sample_index(k);
        int letters = 0, gen = 0;
        for (size_t j = 0; j < r.tokens.size(); ++j) {
          t->add_token_ids(r.tokens[j]);
          t->add_loss_mask(r.loss_mask[j]);
          t->add_behaviour_logprobs(r.behaviour_logprobs[j]);
          t->add_policy_versions(r.versions[j]);
          if (r.loss_mask[j]) {
            ++gen;
            letters += r.tokens[j] >= 'a' && r.tokens[j] <= 'z';
          }
        }
        t->set_reward(uniform_even && g.prompt_id() % 2 == 0 ? 0.5
                      : gen                                  ? double(letters) / gen
                                                             : 0.0);
        t->set_finish_reason(eps[i][k]->finish);
      }
      out.push_back(g);
    }
    return out;
  }
  bool uniform_even = false;  // even prompts get one reward for every sample: no signal
};

proto::JobConfig Config(const std::string& dir, int steps) {
  proto::JobConfig c;
  c.set_name("job-test");
  c.set_output_dir(dir);
  c.set_seed(3);
  auto* m = c.mutable_model();
  m->set_d_model(32);
  m->set_n_layers(2);
  m->set_n_heads(2);
  m->set_q_lora_rank(16);
  m->set_kv_lora_rank(12);
  m->set_qk_nope_head_dim(8);
  m->set_qk_rope_head_dim(4);
  m->set_v_head_dim(6);
  m->set_index_n_heads(2);
  m->set_index_head_dim(8);
  m->set_index_topk(5);
  m->set_intermediate_size(24);
  m->set_max_position_embeddings(64);
  m->set_initializer_range(0.2);
  auto* l = c.mutable_learner();
  l->set_lr(1e-2);
  l->set_total_steps(steps);
  l->set_warmup_steps(1);
  l->set_prompts_per_step(4);
  l->set_checkpoint_every(2);
  l->set_max_staleness(4);
  c.mutable_cluster()->set_learner_listen("127.0.0.1:0");
  c.mutable_rollout()->set_group_size(4);  // LetterRunner's
  return c;
}

void SeedStore(const std::string& dir) {
  store::OpenOptions o;
  o.create_if_missing = true;
  auto s = store::Store::Open(dir + "/store", o);
  ASSERT_OK(s.status());
  proto::EnvSpec env;
  env.set_id(1);
  env.set_category("letters");
  ASSERT_OK((*s)->PutEnv(env));
  for (uint64_t p = 1; p <= 8; ++p) {
    proto::Prompt pr;
    pr.set_id(p);
    pr.set_env_id(1);
    pr.set_category("letters");
    ASSERT_OK((*s)->PutPrompt(pr));
  }
}

// Runs the job with one worker on loopback until the job returns. The job waits for groups, so
// if the worker stops on its own (an error), or the whole run takes more than five minutes, the
// job is stopped too: the test then fails on what the job did, instead of hanging.
absl::Status RunWithWorker(LearnerJob* job, const model::ModelDims& dims,
                           bool uniform_even = false) {
  std::atomic<bool> stop{false};
  std::jthread worker([&] {
    auto channel = rollout::LearnerClient::Connect(absl::StrCat("127.0.0.1:", job->port()));
    ASSERT_OK(channel.status());
    rollout::LearnerClient client(*channel, "learner", 10);
    model::Transformer policy(dims);
    LetterRunner runner;
    runner.uniform_even = uniform_even;
    rollout::WorkerOptions wo;
    wo.prompts_per_lease = 4;
    rollout::Worker w(&client, &runner, &policy, wo);
    EXPECT_OK(w.Run(stop));
    stop = true;
  });
  std::jthread watchdog([&](std::stop_token done) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, done, std::chrono::minutes(5), [] { return false; });
    if (!done.stop_requested()) {
      ADD_FAILURE() << "the job did not finish within 5 minutes; stopping it";
      stop = true;
    }
  });
  absl::Status s = job->Run(stop);
  stop = true;
  watchdog.request_stop();
  return s;
}

// The steps of metrics.jsonl's rows, then those of the store's metrics of `run_id`, in order;
// a row with an "orphan" value (written by a process whose steps were trained again) fails.
std::vector<int64_t> MetricsSteps(const std::string& dir, const store::Store& s, uint64_t run_id) {
  std::vector<int64_t> steps;
  std::ifstream in(dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    absl::StatusOr<Json> row = ParseJson(line);
    EXPECT_TRUE(row.ok()) << row.status() << ": " << line;
    if (!row.ok()) continue;
    EXPECT_EQ(row->Find("orphan"), nullptr) << line;
    EXPECT_NE(row->Find("loss"), nullptr) << line;
    steps.push_back(row->Find("step")->int_value());
  }
  EXPECT_OK(s.ScanStepMetrics(run_id, 0, 1000, [&](const proto::StepMetrics& m) {
    EXPECT_FALSE(m.values().contains("orphan")) << m.step();
    EXPECT_TRUE(m.values().contains("loss")) << m.step();
    steps.push_back(m.step());
    return true;
  }));
  return steps;
}

TEST(LearnerJob, TrainsResumesAndCountsEveryGroupOnce) {
  const dsarl::testing::ScratchDir scratch("job");
  const std::string& dir = scratch.path();
  SeedStore(dir);
  proto::JobConfig c = Config(dir, 3);
  ASSERT_OK_AND_ASSIGN(model::ModelDims dims, model::DimsFromConfig(c.model()));
  {
    ASSERT_OK_AND_ASSIGN(auto job, LearnerJob::Create(c, {}));
    EXPECT_FALSE(job->resumed());
    ASSERT_OK(RunWithWorker(job.get(), dims));
    EXPECT_EQ(job->step(), 3);
    EXPECT_EQ(job->history().size(), 3u);
    EXPECT_THAT(MetricsSteps(dir, *job->store(), job->run_id()),
                ::testing::ElementsAre(1, 2, 3, 1, 2, 3));
    // What a process that trained step 4 and died before checkpointing it would have left.
    proto::StepMetrics orphan;
    orphan.set_run_id(job->run_id());
    orphan.set_step(4);
    (*orphan.mutable_values())["orphan"] = 1;
    ASSERT_OK(job->store()->PutStepMetrics(orphan));
    std::ofstream(dir + "/metrics.jsonl", std::ios::app) << "{\"step\":4,\"orphan\":1}\n";
  }
  // The same job with more steps resumes from its last checkpoint (step 3).
  c.mutable_learner()->set_total_steps(6);
  ASSERT_OK_AND_ASSIGN(auto job, LearnerJob::Create(c, {}));
  EXPECT_TRUE(job->resumed());
  EXPECT_EQ(job->step(), 3);
  ASSERT_OK(RunWithWorker(job.get(), dims));
  EXPECT_EQ(job->step(), 6);
  // Every trained group is stored exactly once, at the step that consumed it.
  std::map<int64_t, int> per_step;
  std::set<std::pair<uint64_t, uint32_t>> keys;
  ASSERT_OK(job->store()->ScanGroups(store::GroupQuery{job->run_id()}, [&](const proto::Group& g) {
    EXPECT_TRUE(keys.insert({g.prompt_id(), g.attempt()}).second);
    per_step[g.step()] += 1;
    return true;
  }));
  for (int s = 1; s <= 6; ++s) EXPECT_EQ(per_step[s], 4) << "step " << s;
  // One metrics row per step in metrics.jsonl and in the store: step 4 is the resumed process's.
  EXPECT_THAT(MetricsSteps(dir, *job->store(), job->run_id()),
              ::testing::ElementsAre(1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6));
  EXPECT_EQ(job->store()->Counts().step_metrics(), 6u);
  EXPECT_TRUE(std::filesystem::exists(dir + "/checkpoints/step_000006/model.safetensors"));
}

TEST(LearnerJob, DynamicSamplingTrainsOnlyGroupsWithSignal) {
  const dsarl::testing::ScratchDir scratch("job-dynamic");
  const std::string& dir = scratch.path();
  SeedStore(dir);
  proto::JobConfig c = Config(dir, 3);
  c.mutable_learner()->set_skip_uniform_groups(true);
  ASSERT_OK_AND_ASSIGN(model::ModelDims dims, model::DimsFromConfig(c.model()));
  ASSERT_OK_AND_ASSIGN(auto job, LearnerJob::Create(c, {}));
  ASSERT_OK(RunWithWorker(job.get(), dims, /*uniform_even=*/true));
  EXPECT_EQ(job->step(), 3);
  // Each step consumed prompts_per_step groups with signal, and the all-equal ones drawn meanwhile
  // are stored once, marked with the step, and counted in the metrics.
  std::map<int64_t, int> informative, uniform;
  ASSERT_OK(job->store()->ScanGroups(store::GroupQuery{job->run_id()}, [&](const proto::Group& g) {
    bool equal = true;
    for (const auto& t : g.trajectories()) equal &= t.reward() == g.trajectories(0).reward();
    (equal ? uniform : informative)[g.step()] += 1;
    return true;
  }));
  double skipped = 0;
  for (int s = 1; s <= 3; ++s) {
    EXPECT_EQ(informative[s], 4) << "step " << s;
    EXPECT_EQ(job->history()[s - 1].at("groups/uniform_skipped"), uniform[s]) << "step " << s;
    skipped += uniform[s];
  }
  EXPECT_GE(skipped, 3);
}

// A group no intake of this version would take: tokens outside the vocabulary and a NaN
// behaviour log-prob (as an older dsarl could have stored), unconsumed, for `prompt`.
proto::Group PoisonedGroup(uint64_t run_id, uint64_t prompt, uint32_t attempt) {
  proto::Group g;
  g.set_run_id(run_id);
  g.set_step(-1);
  g.set_prompt_id(prompt);
  g.set_attempt(attempt);
  for (int i = 0; i < 4; ++i) {
    proto::Trajectory* t = g.add_trajectories();
    t->set_prompt_id(prompt);
    t->set_sample_index(i);
    for (int k = 0; k < 6; ++k) {
      t->add_token_ids(k < 3 ? 'a' : 100000);
      t->add_loss_mask(k >= 3);
      t->add_behaviour_logprobs(k == 4 ? NAN : -1.0f);
      t->add_policy_versions(0);
    }
    t->set_reward(i);
  }
  return g;
}

std::vector<proto::QuarantinedGroup> Quarantined(const store::Store& s) {
  std::vector<proto::QuarantinedGroup> out;
  EXPECT_OK(s.ScanQuarantine([&](const proto::QuarantinedGroup& q) {
    out.push_back(q);
    return true;
  }));
  return out;
}

TEST(LearnerJob, ResumeQuarantinesBadStoredGroupsAndTrainsOn) {
  const dsarl::testing::ScratchDir scratch("job-poisoned");
  const std::string& dir = scratch.path();
  SeedStore(dir);
  proto::JobConfig c = Config(dir, 1);
  ASSERT_OK_AND_ASSIGN(model::ModelDims dims, model::DimsFromConfig(c.model()));
  uint64_t run_id = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto job, LearnerJob::Create(c, {}));
    ASSERT_OK(RunWithWorker(job.get(), dims));
    run_id = job->run_id();
    // Stored as trainable by a learner that did not check: every resume used to fail on it.
    ASSERT_OK_AND_ASSIGN(bool written, job->store()->AppendGroup(PoisonedGroup(run_id, 2, 900)));
    ASSERT_TRUE(written);
  }
  c.mutable_learner()->set_total_steps(3);
  ASSERT_OK_AND_ASSIGN(auto job, LearnerJob::Create(c, {}));
  EXPECT_TRUE(job->resumed());
  EXPECT_EQ(job->store()->GetGroup(2, 900).status().code(), absl::StatusCode::kNotFound);
  std::vector<proto::QuarantinedGroup> q = Quarantined(*job->store());
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].source(), "resume");
  EXPECT_THAT(q[0].reason(), ::testing::HasSubstr("trajectories[0].token_ids: token 100000"));
  EXPECT_EQ(q[0].group().trajectories_size(), 4);
  // One slips into the queue past intake: the step that draws it quarantines it and trains on
  // a full batch of good groups.
  ASSERT_OK_AND_ASSIGN(bool written, job->store()->AppendGroup(PoisonedGroup(run_id, 3, 901)));
  ASSERT_TRUE(written);
  job->state()->Requeue({job->store()->GetGroup(3, 901).value()});  // next to be drawn
  ASSERT_OK(RunWithWorker(job.get(), dims));
  EXPECT_EQ(job->step(), 3);
  q = Quarantined(*job->store());
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[1].source(), "trainer");
  EXPECT_THAT(q[1].reason(), ::testing::HasSubstr("token 100000"));
  EXPECT_EQ(job->store()->Counts().quarantined(), 2u);
  std::map<int64_t, int> per_step;
  ASSERT_OK(job->store()->ScanGroups(store::GroupQuery{run_id}, [&](const proto::Group& g) {
    // (Honest attempts of prompt 2 continue after the stored 900: they are trained.)
    EXPECT_FALSE(g.prompt_id() == 2 && g.attempt() == 900);
    EXPECT_FALSE(g.prompt_id() == 3 && g.attempt() == 901);
    per_step[g.step()] += 1;
    return true;
  }));
  for (int s = 1; s <= 3; ++s) EXPECT_EQ(per_step[s], 4) << "step " << s;
  double dropped = 0;
  for (const auto& m : job->history()) dropped += m.at("groups/dropped");
  EXPECT_EQ(dropped, 2);  // the one found at resume and the one drawn
  EXPECT_EQ(job->history().back().at("groups/rejected"), 0);
}

TEST(LearnerJob, RefusesAStoreWithoutPrompts) {
  const dsarl::testing::ScratchDir scratch("job-empty");
  auto job = LearnerJob::Create(Config(scratch.path(), 1), {});
  EXPECT_EQ(job.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace dsarl::learner
