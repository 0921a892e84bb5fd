// The learner's shared state between its gRPC service and its training loop: prompt leases,
// group intake (idempotent, with staleness admission), the queue of groups waiting for training,
// the published weights and the status counters. Every method is thread-safe.
#ifndef DSARL_LEARNER_LEARNER_STATE_H_
#define DSARL_LEARNER_LEARNER_STATE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "learner/intake.h"
#include "learner/scheduler.h"
#include "learner/weights.h"
#include "proto/learner.pb.h"
#include "store/store.h"

namespace dsarl::learner {

class LearnerState {
 public:
  // `store` must outlive this. `clock_ms` returns wall-clock milliseconds (tests inject time).
  // `max_in_flight` bounds prompts leased plus groups waiting for training (0 = unbounded): with
  // it, workers cannot run ahead of the learner and every group is trained at most about
  // max_staleness versions after its policy (use prompts_per_step * (max_staleness + 1)).
  // `max_leases_per_worker` bounds the leases one identity holds at once (0 = unbounded), so one
  // worker cannot starve the others by leasing every slot.
  LearnerState(store::Store* store, uint64_t run_id, std::unique_ptr<PromptScheduler> scheduler,
               int max_staleness, std::function<int64_t()> clock_ms, int max_in_flight = 0,
               int max_leases_per_worker = 0);

  // ---- called by the service ----
  // `worker` is always the caller's authenticated identity (rpc::ServerAuth::Identify), never a
  // name the caller wrote. Lease hands out at most max_prompts (and at most the worker's cap).
  absl::StatusOr<proto::LeaseResponse> Lease(const std::string& worker, int max_prompts);
  // Returns those of `lease_ids` that `worker` holds; how many.
  int ReturnLeases(const std::string& worker, const std::vector<std::string>& lease_ids);
  // Not for the service: a supervisor that saw `worker`'s process end gives back all its leases
  // at once, instead of letting them expire; how many.
  int ReturnAllLeases(const std::string& worker);
  // Outcomes: ACCEPTED (stored durably, queued for training), DUPLICATE (already stored), STALE
  // (too old a policy; the prompt is re-queued), UNKNOWN_LEASE. Errors: PermissionDenied when
  // another worker holds the lease, InvalidArgument for a group that does not match its lease
  // (in both cases the lease stays valid for its holder), or that fails CheckGroup
  // (learner/intake.h; the message names the field and index; the group is kept in the store's
  // quarantine, counted in groups_rejected, and the prompt re-queued for an honest retry), or the
  // store's error (nothing acknowledged). The stored group's worker_id is set to `worker`.
  absl::StatusOr<proto::SubmitGroupResponse> Submit(const std::string& worker,
                                                    const std::string& lease_id,
                                                    proto::Group group);
  std::shared_ptr<const PublishedWeights> Weights() const;
  proto::StatusResponse Status() const;

  // The intake limits every submission is checked against (default: only the model-independent
  // checks; see IntakeLimits). max_policy_version is ignored: Submit uses the current version.
  void SetIntakeLimits(const IntakeLimits& limits);

  // ---- called by the training loop ----
  // Waits until `n` groups are queued (or `stop()` turns true / the deadline passes) and takes
  // up to n of them, oldest first.
  std::vector<proto::Group> TakeGroups(int n, int64_t timeout_ms,
                                       const std::function<bool()>& stop);
  // Puts groups back at the front of the queue (e.g. a step that failed before training).
  void Requeue(std::vector<proto::Group> groups);
  void Publish(std::shared_ptr<const PublishedWeights> weights);
  void SetStep(int64_t step);
  void SetFinished();
  bool finished() const;
  int64_t version() const;
  SchedulerState scheduler_state() const;
  void RestoreScheduler(const SchedulerState& state);
  // Queues groups found in the store at resume (received but not trained), without re-storing.
  void AdmitRecovered(std::vector<proto::Group> groups);

 private:
  static int64_t MinPolicyVersion(const proto::Group& g);
  // CheckGroup against the intake limits at the current version; on failure quarantines the group
  // and re-queues its prompt. OK, InvalidArgument (the check's message), or the store's error.
  absl::Status Admit(const LeaseInfo& lease, proto::Group* group);
  store::Store* store_;
  uint64_t run_id_;
  int max_staleness_;
  std::function<int64_t()> clock_ms_;
  int max_in_flight_;
  int max_leases_per_worker_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<PromptScheduler> scheduler_;
  std::deque<proto::Group> pending_;
  std::shared_ptr<const PublishedWeights> weights_;
  int64_t step_ = 0;
  bool finished_ = false;
  IntakeLimits intake_;                               // guarded by mu_
  int64_t groups_rejected_ = 0;                       // guarded by mu_
  std::map<std::string, int> quarantined_by_worker_;  // intake refusals kept; guarded by mu_
};

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_LEARNER_STATE_H_
