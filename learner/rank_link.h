// What rank 0 of the learner tells its other ranks, and what they do with it. Rank 0 alone leases
// prompts, accepts groups, writes the store and serves weights; each step it broadcasts the
// step's batch (every rank needs all of it to make the same decisions, learner/data_parallel.h),
// and while it waits for rollouts a keep-alive, so that the others can bound every wait by the
// collective timeout. At the start (and at resume) it broadcasts its weights, reference,
// optimizer moments and step counters, so every rank starts from rank 0's state: checkpoints are
// rank 0's alone.
#ifndef DSARL_LEARNER_RANK_LINK_H_
#define DSARL_LEARNER_RANK_LINK_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "learner/dist/communicator.h"
#include "learner/trainer.h"
#include "proto/config.pb.h"
#include "proto/dist.pb.h"

namespace dsarl::learner {

// The wire form of a batch, and back. FromRankGroups fails (InvalidArgument naming the group and
// sample) on a message whose vectors disagree in length.
void ToRankGroups(const std::vector<TrainGroup>& batch, proto::RankControl* out);
absl::StatusOr<std::vector<TrainGroup>> FromRankGroups(const proto::RankControl& in);

class RankLink {
 public:
  // `keepalive` is how long rank 0 may stay silent between messages.
  RankLink(dist::Communicator* comm, std::chrono::milliseconds keepalive)
      : comm_(comm), keepalive_(keepalive) {}

  // Rank 0.
  absl::Status SendStep(int64_t step, const std::vector<TrainGroup>& batch);
  // Tells the others that SyncState follows.
  absl::Status SendState(int64_t step);
  // A keep-alive when nothing was sent for `keepalive`; OK without sending otherwise.
  absl::Status MaybeKeepAlive(int64_t step);
  absl::Status SendStop(const std::string& reason, bool failed);
  // The other ranks: the next message.
  absl::StatusOr<proto::RankControl> Receive();

  // Every rank, at the same point: rank 0's policy and reference weights (reference may be null
  // when kl_coef is 0), the optimizer's moments and the trainer's step, into every rank.
  // FailedPrecondition naming both sizes when a rank's model differs from rank 0's.
  absl::Status SyncState(model::Transformer* policy, model::Transformer* reference,
                         Trainer* trainer);

 private:
  absl::Status Send(const proto::RankControl& m);
  // Broadcasts `floats` floats of `data` from rank 0 after checking every rank has as many.
  absl::Status BroadcastFloats(float* data, size_t floats, const char* what);

  dist::Communicator* comm_;
  std::chrono::milliseconds keepalive_;
  std::chrono::steady_clock::time_point last_sent_ = std::chrono::steady_clock::now();
};

// A rank other than 0 for the whole job: builds the model and trainer as rank 0 does, takes rank
// 0's state, then trains each step rank 0 sends until it says stop. OK when rank 0 stopped cleanly;
// the first failure otherwise (a collective's, naming the rank that stopped; or Aborted when rank
// 0 reported its own failure).
absl::Status RunFollowerRank(const proto::JobConfig& config, dist::Communicator* comm,
                             const std::function<void(const std::string&)>& progress);

// The policy (and reference) a job starts from: model.checkpoint, or a seeded initialization.
absl::StatusOr<std::unique_ptr<model::Transformer>> InitialModel(const proto::JobConfig& c);
// The trainer's options as the learner job uses them (the schedule counts mini-batch steps).
TrainerOptions LearnerTrainerOptions(const proto::JobConfig& c);

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_RANK_LINK_H_
