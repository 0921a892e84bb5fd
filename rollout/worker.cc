#include "rollout/worker.h"

#include <chrono>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "model/checkpoint.h"

namespace dsarl::rollout {
namespace {

bool Transient(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded ||
         s.code() == absl::StatusCode::kResourceExhausted || s.code() == absl::StatusCode::kAborted;
}

}  // namespace

Worker::Worker(LearnerClient* client, GroupRunner* runner, model::Transformer* policy,
               WorkerOptions options)
    : client_(client), runner_(runner), policy_(policy), options_(std::move(options)) {}

template <typename T>
absl::StatusOr<T> Worker::Retry(const std::function<absl::StatusOr<T>()>& fn,
                                const std::atomic<bool>& stop) {
  double backoff = options_.backoff_initial_s;
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    absl::StatusOr<T> r = fn();
    if (r.ok() || !Transient(r.status())) return r;
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (stop.load() || (options_.give_up_after_s > 0 && waited > options_.give_up_after_s)) {
      return r;
    }
    ++stats_.retries;
    DSARL_LOG_WARN("worker {}: {} (retrying in {:.1f} s)", options_.worker_id,
                   std::string(r.status().message()), backoff);
    std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
    backoff = std::min(backoff * 2, options_.backoff_max_s);
  }
}

absl::Status Worker::EnsureWeights(int64_t version, const std::atomic<bool>& stop) {
  if (version == version_) return absl::OkStatus();
  auto img = Retry<WeightsImage>([&] { return client_->PullWeights(); }, stop);
  if (!img.ok()) return img.status();
  if (absl::Status s = model::DeserializeWeightsInto(
          std::move(img->blob), absl::StrCat("weights v", img->version), policy_);
      !s.ok()) {
    return s;
  }
  version_ = img->version;
  ++stats_.weight_pulls;
  DSARL_LOG_INFO("worker {}: now at policy version {}", options_.worker_id, version_);
  return absl::OkStatus();
}

absl::Status Worker::Run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    auto lease = Retry<proto::LeaseResponse>(
        [&] { return client_->Lease(options_.prompts_per_lease); }, stop);
    if (!lease.ok()) return stop.load() ? absl::OkStatus() : lease.status();
    if (lease->finished()) return absl::OkStatus();
    if (absl::Status s = EnsureWeights(lease->policy_version(), stop); !s.ok()) {
      std::vector<std::string> ids;
      for (const auto& l : lease->leases()) ids.push_back(l.lease_id());
      (void)client_->ReturnLeases(ids);
      if (stop.load()) return absl::OkStatus();
      return s;
    }
    if (lease->leases_size() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    std::vector<proto::Lease> leases(lease->leases().begin(), lease->leases().end());
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<proto::Group> groups = runner_->RunGroups(leases, *policy_, version_, stop);
    stats_.seconds_generating +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::set<std::string> done;
    for (const proto::Group& g : groups) {
      std::string lease_id;
      for (const auto& l : leases) {
        if (l.prompt().id() == g.prompt_id() && l.attempt() == g.attempt()) lease_id = l.lease_id();
      }
      if (lease_id.empty()) continue;
      stats_.episodes += g.trajectories_size();
      for (const auto& t : g.trajectories()) {
        for (int m : t.loss_mask()) stats_.tokens += m;
      }
      auto r =
          Retry<proto::SubmitGroupResponse>([&] { return client_->Submit(lease_id, g); }, stop);
      if (!r.ok()) {
        DSARL_LOG_ERROR("worker {}: submitting prompt {} failed: {}", options_.worker_id,
                        g.prompt_id(), std::string(r.status().message()));
        ++stats_.groups_rejected;
        continue;
      }
      done.insert(lease_id);
      switch (r->outcome()) {
        case proto::SubmitGroupResponse::ACCEPTED:
          ++stats_.groups_submitted;
          break;
        case proto::SubmitGroupResponse::DUPLICATE:
          ++stats_.groups_duplicate;
          break;
        case proto::SubmitGroupResponse::STALE:
          ++stats_.groups_stale;
          break;
        default:
          ++stats_.groups_rejected;
          break;
      }
    }
    // One line per batch for operators: throughput and what went wrong.
    int turns = 0, tool_errors = 0, infra = 0, n = 0;
    for (const proto::Group& g : groups) {
      for (const auto& t : g.trajectories()) {
        ++n;
        turns += t.num_turns();
        tool_errors += t.num_tool_errors();
        infra += !t.infra_error().empty();
      }
    }
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    DSARL_LOG_INFO(
        "worker {}: v{} {} groups, {:.1f} episodes/s, {:.0f} tokens/s, {:.2f} turns/episode, "
        "{} tool errors, {} infrastructure errors",
        options_.worker_id, version_, groups.size(), n / std::max(dt, 1e-9),
        stats_.tokens / std::max(stats_.seconds_generating, 1e-9), n ? double(turns) / n : 0.0,
        tool_errors, infra);
    std::vector<std::string> unfinished;
    for (const auto& l : leases) {
      if (!done.count(l.lease_id())) unfinished.push_back(l.lease_id());
    }
    if (!unfinished.empty()) {
      auto n = client_->ReturnLeases(unfinished);
      if (n.ok()) stats_.leases_returned += *n;
    }
  }
  return absl::OkStatus();
}

}  // namespace dsarl::rollout
