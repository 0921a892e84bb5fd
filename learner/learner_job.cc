#include "learner/learner_job.h"

#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "learner/convert.h"
#include "model/checkpoint.h"
#include "proto/config_loader.h"

namespace dsarl::learner {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool PromptSelected(const proto::Prompt& p, const proto::JobConfig& c) {
  if (p.heldout()) return false;
  if (p.difficulty() < c.envs().min_difficulty() || p.difficulty() > c.envs().max_difficulty()) {
    return false;
  }
  if (c.envs().categories_size() == 0) return true;
  for (const auto& cat : c.envs().categories()) {
    if (cat == p.category()) return true;
  }
  return false;
}

// True when the group's usable trajectories all have the same reward: zero advantage, no signal.
bool AllRewardsEqual(const proto::Group& g) {
  bool seen = false;
  double first = 0;
  for (const proto::Trajectory& t : g.trajectories()) {
    if (!t.infra_error().empty()) continue;
    if (!seen) {
      first = t.reward();
      seen = true;
    } else if (t.reward() != first) {
      return false;
    }
  }
  return true;
}

// Adds a trained step (its report, the groups trained and those skipped) to `totals`.
void AddToTotals(const StepReport& r, const std::vector<proto::Group>& groups,
                 const std::vector<proto::Group>& uniform, TrainingTotals* totals) {
  ++totals->steps;
  totals->tokens += r.tokens;
  totals->uniform_groups += uniform.size();
  for (const auto* set : {&groups, &uniform}) {
    for (const proto::Group& g : *set) {
      ++totals->groups;
      for (const proto::Trajectory& t : g.trajectories()) {
        ++totals->episodes;
        if (t.infra_error().empty() && t.finish_reason() != proto::FINISH_INFRA_ERROR) continue;
        ++totals->infra_errors;
        if (totals->example_infra_error.empty()) {
          totals->example_infra_error = t.infra_error().empty() ? "(no message)" : t.infra_error();
        }
      }
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<LearnerJob>> LearnerJob::Create(const proto::JobConfig& config,
                                                               LearnerJobOptions options) {
  std::unique_ptr<LearnerJob> job(new LearnerJob());
  job->config_ = config;
  job->options_ = std::move(options);
  if (!job->options_.progress) {
    job->options_.progress = [](const std::string& line) {
      std::fprintf(stderr, "%s\n", line.c_str());
    };
  }
  const proto::JobConfig& c = job->config_;
  RETURN_IF_ERROR(job->OpenRun());
  ASSIGN_OR_RETURN(std::vector<uint64_t> prompts, job->TrainingPrompts());
  const size_t n_prompts = prompts.size();
  RETURN_IF_ERROR(job->StartTraining(std::move(prompts)));
  RETURN_IF_ERROR(job->Resume());
  RETURN_IF_ERROR(job->SyncRanks());
  RETURN_IF_ERROR(job->weights_->Publish(job->version_));
  // One row per step in metrics.jsonl and the store: those after the checkpoint are trained again.
  const MetricsOptions mo{
      .resume_step = job->step_, .store = job->store_.get(), .run_id = job->run_id_};
  ASSIGN_OR_RETURN(job->metrics_, MetricsWriter::Open(c.output_dir(), mo));
  const std::string listen =
      job->options_.listen.empty() ? c.cluster().learner_listen() : job->options_.listen;
  ASSIGN_OR_RETURN(job->server_,
                   LearnerServer::Start(listen, job->state_.get(), job->options_.security));
  DSARL_LOG_INFO("learner: run {} {} at step {}, {} training prompts, listening on port {}",
                 job->run_id_, job->resumed_ ? "resumed" : "started", job->step_, n_prompts,
                 job->server_->port());
  return job;
}

LearnerJob::~LearnerJob() {
  if (server_) server_->Shutdown();
}

absl::Status LearnerJob::OpenRun() {
  const proto::JobConfig& c = config_;
  store::OpenOptions so;
  so.create_if_missing = true;
  so.config = c.store();
  ASSIGN_OR_RETURN(store_, store::Store::Open(c.output_dir() + "/store", so));
  // The run: the latest one with this job's name resumes; otherwise a new one.
  uint64_t existing = 0;
  RETURN_IF_ERROR(store_->ScanRuns([&](const proto::RunRecord& r) {
    if (r.name() == c.name()) existing = r.run_id();
    return true;
  }));
  if (existing != 0) {
    run_id_ = existing;
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(run_id_, store_->NextRunId());
  proto::RunRecord run;
  run.set_run_id(run_id_);
  run.set_name(c.name());
  run.set_created_unix_ms(NowMs());
  *run.mutable_config() = proto::WithDefaultsMaterialized(c);
  return store_->PutRun(run);
}

absl::StatusOr<std::vector<uint64_t>> LearnerJob::TrainingPrompts() const {
  std::vector<uint64_t> prompts;
  RETURN_IF_ERROR(store_->ScanPrompts([&](const proto::Prompt& p) {
    if (PromptSelected(p, config_)) prompts.push_back(p.id());
    return true;
  }));
  if (prompts.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(config_.output_dir(),
                     "/store has no training prompts for the configured categories and "
                     "difficulties; synthesize environments first (dsarl envs synthesize)"));
  }
  return prompts;
}

absl::Status LearnerJob::StartTraining(std::vector<uint64_t> prompts) {
  const proto::JobConfig& c = config_;
  ASSIGN_OR_RETURN(policy_, InitialModel(c));
  std::unique_ptr<model::Transformer> reference;
  if (c.learner().kl_coef() > 0) {
    ASSIGN_OR_RETURN(reference, InitialModel(c));
  }
  trainer_ =
      std::make_unique<Trainer>(policy_.get(), std::move(reference), LearnerTrainerOptions(c));
  trainer_->set_communicator(options_.comm);
  intake_ = IntakeLimitsFromConfig(c, policy_->dims());
  auto scheduler = std::make_unique<PromptScheduler>(
      prompts, c.seed(), static_cast<int64_t>(c.learner().lease_timeout_s() * 1000));
  // A worker asks for max_batch / group_size prompts per call; by default it may hold two calls'.
  const int per_worker = c.cluster().max_leases_per_worker() > 0
                             ? c.cluster().max_leases_per_worker()
                             : 2 * std::max(1, c.rollout().max_batch() / c.rollout().group_size());
  state_ = std::make_unique<LearnerState>(
      store_.get(), run_id_, std::move(scheduler), c.learner().max_staleness(), NowMs,
      static_cast<int>(std::min<int64_t>(
          std::numeric_limits<int>::max(),
          int64_t{c.learner().prompts_per_step()} * (c.learner().max_staleness() + 1))),
      per_worker);
  state_->SetIntakeLimits(intake_);
  checkpointer_ = std::make_unique<Checkpointer>(c.output_dir(), store_.get(), run_id_);
  weights_ = std::make_unique<WeightsPublisher>(policy_.get(), state_.get());
  return absl::OkStatus();
}

absl::Status LearnerJob::Resume() {
  ASSIGN_OR_RETURN(std::optional<ResumePoint> from,
                   checkpointer_->LoadLatest(policy_.get(), &trainer_->optimizer()));
  int64_t ckpt_step = -1;
  if (from.has_value()) {
    step_ = from->state.step;
    version_ = from->state.version;
    trainer_->set_step(from->state.optimizer_step);
    SchedulerState sched;
    sched.cursor = from->state.cursor;
    state_->SetStep(step_);
    ckpt_step = from->record.step();
    resumed_ = true;
    RETURN_IF_ERROR(ContinueAttempts(&sched));
    state_->RestoreScheduler(sched);
    DSARL_LOG_INFO("learner: resumed from {} (step {}, version {})", from->record.path(), step_,
                   version_);
  }
  return QueueUntrainedGroups(ckpt_step);
}

absl::Status LearnerJob::ContinueAttempts(SchedulerState* sched) const {
  return store_->ScanGroups(store::GroupQuery{run_id_, std::numeric_limits<int64_t>::min(),
                                              std::numeric_limits<int64_t>::max(), false},
                            [&](const proto::Group& g) {
                              uint32_t& next = sched->next_attempt[g.prompt_id()];
                              next = std::max(next, g.attempt() + 1);
                              return true;
                            });
}

absl::Status LearnerJob::QueueUntrainedGroups(int64_t checkpoint_step) {
  std::vector<proto::Group> recovered;
  RETURN_IF_ERROR(store_->ScanGroups(store::GroupQuery{run_id_, std::numeric_limits<int64_t>::min(),
                                                       std::numeric_limits<int64_t>::max(), true},
                                     [&](const proto::Group& g) {
                                       if (g.step() < 0 || g.step() > checkpoint_step)
                                         recovered.push_back(g);
                                       return true;
                                     }));
  std::vector<proto::Group> admitted;
  for (proto::Group& g : recovered) {
    if (absl::Status bad = CheckGroup(g, intake_); !bad.ok()) {
      RETURN_IF_ERROR(QuarantineStored(g, std::string(bad.message()), kQuarantineResume));
      continue;
    }
    if (g.step() >= 0) RETURN_IF_ERROR(store_->SetGroupStep(g.prompt_id(), g.attempt(), -1));
    admitted.push_back(std::move(g));
  }
  recovered = std::move(admitted);
  if (!recovered.empty()) {
    DSARL_LOG_INFO("learner: {} stored groups not yet trained are queued", recovered.size());
  }
  state_->AdmitRecovered(std::move(recovered));
  return absl::OkStatus();
}

absl::Status LearnerJob::QuarantineStored(const proto::Group& g, const std::string& reason,
                                          const char* source) {
  DSARL_LOG_WARN("learner: group prompt={} attempt={} quarantined ({}): {}", g.prompt_id(),
                 g.attempt(), source, reason);
  ++step_dropped_;
  const proto::QuarantinedGroup record = MakeQuarantineRecord(g, reason, source, NowMs());
  absl::Status moved = store_->Quarantine(record, /*remove_stored=*/true);
  // Every queued group is stored; should one not be, it is still kept, and still not trained.
  if (absl::IsNotFound(moved)) return store_->Quarantine(record, /*remove_stored=*/false);
  return moved;
}

absl::StatusOr<int> LearnerJob::DropInvalid(std::vector<proto::Group>* groups) {
  std::vector<proto::Group> kept;
  int dropped = 0;
  for (proto::Group& g : *groups) {
    if (absl::Status bad = CheckGroup(g, intake_); !bad.ok()) {
      RETURN_IF_ERROR(QuarantineStored(g, std::string(bad.message()), kQuarantineTrainer));
      ++dropped;
    } else {
      kept.push_back(std::move(g));
    }
  }
  *groups = std::move(kept);
  return dropped;
}

absl::StatusOr<std::vector<TrainGroup>> LearnerJob::Convert(std::vector<proto::Group>* groups,
                                                            ConvertStats* stats,
                                                            std::vector<size_t>* source) {
  std::vector<TrainGroup> train;
  std::vector<proto::Group> kept;
  for (proto::Group& g : *groups) {
    absl::StatusOr<std::optional<TrainGroup>> tg = ToTrainGroup(g, policy_->dims(), stats);
    if (!tg.ok()) {
      RETURN_IF_ERROR(QuarantineStored(g, std::string(tg.status().message()), kQuarantineTrainer));
      continue;
    }
    if (tg->has_value()) {
      train.push_back(std::move(**tg));
      source->push_back(kept.size());
    }
    kept.push_back(std::move(g));
  }
  *groups = std::move(kept);
  return train;
}

absl::StatusOr<StepReport> LearnerJob::TrainStep(std::vector<proto::Group>* groups,
                                                 ConvertStats* stats) {
  std::vector<size_t> source;
  ASSIGN_OR_RETURN(std::vector<TrainGroup> train, Convert(groups, stats, &source));
  if (train.empty()) return StepReport{};
  if (link_) RETURN_IF_ERROR(link_->SendStep(step_ + 1, train));
  ASSIGN_OR_RETURN(StepReport report, trainer_->GrpoStep(train));
  for (int r : report.resynced_ranks) {
    DSARL_LOG_WARN(
        "learner: step {}: rank {}'s weights had drifted from rank 0's (a CPU that "
        "rounds differently?); it took rank 0's",
        step_ + 1, r);
  }
  if (report.dropped.empty()) return report;
  std::vector<bool> drop(groups->size(), false);
  for (const DroppedGroup& d : report.dropped) {
    const proto::Group& g = (*groups)[source[d.group]];
    RETURN_IF_ERROR(QuarantineStored(g, d.reason, kQuarantineTrainer));
    drop[source[d.group]] = true;
  }
  std::vector<proto::Group> kept;
  for (size_t i = 0; i < groups->size(); ++i) {
    if (!drop[i]) kept.push_back(std::move((*groups)[i]));
  }
  *groups = std::move(kept);
  return report;
}

absl::Status LearnerJob::Checkpoint() {
  const CheckpointState st{step_, version_, trainer_->step(), state_->scheduler_state().cursor};
  return checkpointer_->Save(*policy_, trainer_->optimizer(), st).status();
}

void LearnerJob::Report(const StepReport& r, const std::vector<proto::Group>& groups,
                        const std::vector<proto::Group>& uniform, double seconds,
                        int64_t oldest_version) {
  std::map<std::string, double> m;
  const GrpoStats& g = r.grpo;
  m["reward/trained_mean"] = g.reward_mean;
  m["groups/uniform_skipped"] = double(uniform.size());
  m["reward/std"] = g.reward_std;
  m["advantage/std"] = g.advantage_std;
  m["groups/all_equal_fraction"] = g.frac_groups_all_equal;
  m["policy/clip_fraction"] = g.clip_fraction;
  m["policy/masked_fraction"] = g.masked_fraction;
  m["policy/kl"] = g.kl;
  m["policy/mean_log_ratio"] = g.mean_log_ratio;
  m["policy/entropy"] = r.entropy;
  m["length/mean"] = g.mean_length;
  m["staleness"] = double(version_ - 1 - oldest_version);
  double loss = 0, gn = 0, lr = 0;
  int skipped = 0;
  for (const auto& mb : r.minibatches) {
    loss += mb.loss / r.minibatches.size();
    gn = std::max(gn, mb.grad_norm);
    lr = mb.lr;
    skipped += mb.skipped;
  }
  m["loss"] = loss;
  m["grad_norm"] = gn;
  m["lr"] = lr;
  m["steps_skipped"] = skipped;
  m["time/step_s"] = seconds;
  // Groups refused at intake since this process started, and those quarantined by this step.
  m["groups/rejected"] = double(state_->Status().groups_rejected());
  m["groups/dropped"] = double(step_dropped_);
  m["throughput/train_tokens_per_s"] = r.tokens / std::max(seconds, 1e-9);
  // Pass rate: share of trajectories whose verifier component (or whole reward) reached 1.
  int pass = 0, n = 0;
  double reward_sum = 0;
  std::map<std::string, std::pair<double, int>> components;
  // Over every drawn group, skipped ones included: the policy's reward, not the trained subset's.
  for (const auto* set : {&groups, &uniform}) {
    for (const proto::Group& grp : *set) {
      for (const proto::Trajectory& t : grp.trajectories()) {
        ++n;
        reward_sum += t.reward();
        double verifier = t.reward();
        for (const auto& c : t.reward_components()) {
          if (!c.applicable()) continue;
          components[c.name()].first += c.value();
          components[c.name()].second += 1;
          if (c.name() == "verifier") verifier = c.value();
        }
        pass += verifier >= 1.0 - 1e-9;
      }
    }
  }
  m["reward/pass_rate"] = n > 0 ? double(pass) / n : 0.0;
  m["reward/mean"] = n > 0 ? reward_sum / n : g.reward_mean;
  for (const auto& [name, v] : components) m["reward/component/" + name] = v.first / v.second;
  history_.push_back(m);
  if (absl::Status s = metrics_->Write(step_, m); !s.ok()) {
    DSARL_LOG_ERROR("learner: metrics: {}", std::string(s.message()));
  }
  total_seconds_ += seconds;
  const double eta = (config_.learner().total_steps() - step_) * total_seconds_ /
                     std::max<double>(history_.size(), 1);
  options_.progress(absl::StrFormat(
      "step %d/%d  reward %.3f  pass %.1f%%  kl %.4f  masked %.1f%%  clip %.1f%%  %.0f tok/s  "
      "ETA %.0fs",
      step_, config_.learner().total_steps(), m["reward/mean"], 100 * m["reward/pass_rate"], g.kl,
      100 * g.masked_fraction, 100 * g.clip_fraction, m["throughput/train_tokens_per_s"], eta));
}

bool LearnerJob::DrawGroups(std::vector<proto::Group>* groups, std::vector<proto::Group>* uniform,
                            const std::function<bool()>& stopping) {
  const proto::LearnerConfig& lc = config_.learner();
  const int want = lc.prompts_per_step();
  if (!lc.skip_uniform_groups()) {
    *groups = state_->TakeGroups(want, 1000, stopping);
    return static_cast<int>(groups->size()) == want;
  }
  const size_t cap = size_t(want) * lc.max_draw_factor();
  while (static_cast<int>(groups->size()) < want && groups->size() + uniform->size() < cap) {
    if (stopping()) return false;
    const int n = std::min<size_t>(want - groups->size(), cap - groups->size() - uniform->size());
    for (proto::Group& g : state_->TakeGroups(n, 1000, stopping)) {
      (AllRewardsEqual(g) ? uniform : groups)->push_back(std::move(g));
    }
  }
  return true;
}

absl::Status LearnerJob::SyncRanks() {
  dist::Communicator* comm = options_.comm;
  if (comm == nullptr || comm->world_size() == 1) return absl::OkStatus();
  // Rank 0 may wait for rollouts this long between messages; the others wait for one at most the
  // collective timeout.
  const double timeout_ms = config_.cluster().collective_timeout_s() * 1000;
  link_ = std::make_unique<RankLink>(comm, std::chrono::milliseconds(int64_t(timeout_ms / 4)));
  RETURN_IF_ERROR(link_->SendState(step_));
  return link_->SyncState(policy_.get(), trainer_->reference(), trainer_.get());
}

absl::Status LearnerJob::Run(const std::atomic<bool>& stop) {
  absl::Status s = RunSteps(stop);
  if (link_ && link_error_.ok()) {
    // The other ranks stop with this one: failed, when it failed.
    absl::Status told = link_->SendStop(
        s.ok() ? (stop.load() ? "stopped" : "finished") : std::string(s.message()), !s.ok());
    if (s.ok() && !told.ok()) s = told;
  }
  return s;
}

absl::Status LearnerJob::RunSteps(const std::atomic<bool>& stop) {
  const proto::LearnerConfig& lc = config_.learner();
  // While rank 0 waits for rollouts the other ranks hear from it at least every timeout / 4.
  const auto stopping = [&] {
    if (link_ && link_error_.ok()) link_error_ = link_->MaybeKeepAlive(step_);
    return stop.load() || !link_error_.ok();
  };
  while (step_ < lc.total_steps() && !stopping()) {
    std::vector<proto::Group> groups, uniform;
    if (!DrawGroups(&groups, &uniform, stopping)) {
      for (auto& g : uniform) groups.push_back(std::move(g));
      state_->Requeue(std::move(groups));
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    // Defence in depth: whatever path a group came by, a bad one is quarantined, and the step
    // draws again for a full batch of good ones.
    ASSIGN_OR_RETURN(int bad, DropInvalid(&groups));
    ASSIGN_OR_RETURN(int bad_uniform, DropInvalid(&uniform));
    if (bad + bad_uniform > 0) {
      for (auto& g : uniform) groups.push_back(std::move(g));
      state_->Requeue(std::move(groups));
      continue;
    }
    int64_t oldest = version_;
    for (const proto::Group& g : groups) {
      for (const auto& t : g.trajectories()) {
        const int n = std::min(t.policy_versions_size(), t.loss_mask_size());
        for (int i = 0; i < n; ++i) {
          if (t.loss_mask(i)) oldest = std::min<int64_t>(oldest, t.policy_versions(i));
        }
      }
    }
    ConvertStats cs;
    auto trained = TrainStep(&groups, &cs);
    if (!trained.ok()) {
      for (auto& g : uniform) groups.push_back(std::move(g));
      state_->Requeue(std::move(groups));
      return Annotate(trained.status(), absl::StrCat("learner step ", step_ + 1));
    }
    StepReport report = std::move(*trained);
    ++step_;
    ++version_;
    RETURN_IF_ERROR(weights_->Publish(version_));
    for (const auto* set : {&groups, &uniform}) {
      for (const proto::Group& g : *set) {
        RETURN_IF_ERROR(store_->SetGroupStep(g.prompt_id(), g.attempt(), step_));
      }
    }
    state_->SetStep(step_);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Report(report, groups, uniform, secs, oldest);
    AddToTotals(report, groups, uniform, &totals_);
    step_dropped_ = 0;
    if (cs.infra_errors > 0) {
      DSARL_LOG_WARN("learner: step {}: {} trajectories with infrastructure errors left out", step_,
                     cs.infra_errors);
    }
    if (lc.checkpoint_every() > 0 && step_ % lc.checkpoint_every() == 0)
      RETURN_IF_ERROR(Checkpoint());
  }
  if (!link_error_.ok()) {
    // A rank is gone: what was trained is checkpointed, and the job fails naming the rank.
    (void)Checkpoint();
    return link_error_;
  }
  auto last = checkpointer_->Latest();
  if (!last.ok() || last->step() != step_) RETURN_IF_ERROR(Checkpoint());
  if (step_ >= lc.total_steps()) state_->SetFinished();
  return absl::OkStatus();
}

absl::Status LearnerJob::CheckLearned() const {
  const TrainingTotals& t = totals_;
  if (t.steps == 0 || t.tokens > 0) return absl::OkStatus();
  std::string why;
  if (t.episodes > 0 && t.infra_errors == t.episodes) {
    why = absl::StrFormat(
        "every one of the %d episodes was an infrastructure error (the environments, the "
        "rewards or the model's context failed them, not the policy); e.g.: %s",
        t.episodes, t.example_infra_error);
  } else {
    why = absl::StrFormat(
        "%d of %d episodes (%.1f%%) were infrastructure errors%s; %d of %d groups "
        "had all-equal rewards and were skipped (learner.skip_uniform_groups)",
        t.infra_errors, t.episodes, 100.0 * t.infra_errors / std::max<int64_t>(t.episodes, 1),
        t.example_infra_error.empty() ? "" : " (e.g.: " + t.example_infra_error + ")",
        t.uniform_groups, t.groups);
  }
  return absl::FailedPreconditionError(
      absl::StrCat("learner: trained 0 tokens in ", t.steps, " steps: ", why));
}

}  // namespace dsarl::learner
