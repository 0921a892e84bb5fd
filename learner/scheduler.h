// Prompt leases (DESIGN: "a lease has a deadline; an expired lease goes back to the queue, so a
// dead worker loses nothing") and staleness admission. Pure bookkeeping with an injected clock, so
// tests drive time; the gRPC service calls it under one mutex. A lease id is 128 random bits, and a
// lease belongs to the identity that took it (DESIGN "Trust boundary"): only it may complete or
// return the lease. Lease ids are never persisted: a resumed scheduler starts with no leases.
#ifndef DSARL_LEARNER_SCHEDULER_H_
#define DSARL_LEARNER_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dsarl::learner {

struct LeaseInfo {
  std::string lease_id;  // 32 hex characters from the CSPRNG
  uint64_t prompt_id = 0;
  uint32_t attempt = 0;  // with prompt_id, the idempotency key of the group
  std::string worker;    // the authenticated identity holding the lease
  int64_t deadline_ms = 0;
};

struct SchedulerState {
  uint64_t cursor = 0;                        // slots handed out from the prompt order
  std::map<uint64_t, uint32_t> next_attempt;  // per prompt
};

class PromptScheduler {
 public:
  // `prompts`: the training prompt ids; each epoch visits them in a fresh order drawn from
  // (seed, epoch). `lease_timeout_ms`: how long a worker holds a prompt.
  PromptScheduler(std::vector<uint64_t> prompts, uint64_t seed, int64_t lease_timeout_ms);

  // Up to `n` leases for `worker`: expired or returned prompts first (with a new attempt), then
  // new slots. Empty when there are no prompts.
  std::vector<LeaseInfo> Lease(const std::string& worker, int n, int64_t now_ms);
  // Ends a lease when the group for (prompt_id, attempt) arrives from `worker`. NotFound when the
  // lease is unknown (never issued, already completed, or expired and re-issued); PermissionDenied
  // when another identity holds it, InvalidArgument when the prompt or attempt differ from the
  // lease's: in both cases the lease stays with its holder.
  absl::StatusOr<LeaseInfo> Complete(const std::string& lease_id, const std::string& worker,
                                     uint64_t prompt_id, uint32_t attempt);
  // Gives back those of `lease_ids` that `worker` holds (it will not finish them); returns how
  // many were returned. Leases of other identities are left alone.
  int Return(const std::string& worker, const std::vector<std::string>& lease_ids);
  // Gives back every lease `worker` holds (its process is known to be gone); how many.
  int ReturnAll(const std::string& worker);
  // Puts a prompt back in the retry queue (e.g. its group was refused as stale).
  void Requeue(uint64_t prompt_id);
  // Moves leases whose deadline passed back to the retry queue; returns how many.
  int ExpireLeases(int64_t now_ms);

  int queued() const { return retry_.size(); }
  int leased() const { return leases_.size(); }
  // Leases `worker` holds now.
  int leased_by(const std::string& worker) const;
  SchedulerState state() const { return state_; }
  // Restores the position and attempt counters (resume); drops outstanding leases.
  void Restore(const SchedulerState& state);

 private:
  // The order in which epoch `epoch` visits the prompts (cached for the current epoch).
  const std::vector<uint64_t>& EpochOrder(uint64_t epoch);
  std::vector<uint64_t> prompts_;
  uint64_t seed_;
  std::vector<uint64_t> order_;  // EpochOrder(order_epoch_)
  uint64_t order_epoch_ = 0;
  int64_t timeout_ms_;
  SchedulerState state_;
  std::deque<uint64_t> retry_;               // prompts waiting for a new attempt
  std::map<std::string, LeaseInfo> leases_;  // by lease id
};

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_SCHEDULER_H_
