// From the stored/submitted form of a group (proto::Group, token-in token-out) to what the trainer
// takes. Trajectories that failed for infrastructure reasons are left out, never scored 0.
#ifndef DSARL_LEARNER_CONVERT_H_
#define DSARL_LEARNER_CONVERT_H_

#include <optional>

#include "absl/status/statusor.h"
#include "learner/trainer.h"
#include "model/dims.h"
#include "proto/data.pb.h"

namespace dsarl::learner {

struct ConvertStats {
  int infra_errors = 0;    // trajectories left out
  int groups_dropped = 0;  // groups left with fewer than 2 trajectories
};

// One trajectory. InvalidArgument (naming prompt and sample) when its per-token arrays disagree
// in length, or its routed experts do not match the model.
absl::StatusOr<TrainSample> ToTrainSample(const proto::Trajectory& t, const model::ModelDims& dims);

// The trainable form of one group: its trajectories without infrastructure errors, or nullopt
// (counted in `stats`) when fewer than 2 remain. InvalidArgument from ToTrainSample.
absl::StatusOr<std::optional<TrainGroup>> ToTrainGroup(const proto::Group& group,
                                                       const model::ModelDims& dims,
                                                       ConvertStats* stats);

// Every usable group of `groups`; counts what was left out in `stats`.
absl::StatusOr<std::vector<TrainGroup>> ToTrainGroups(const std::vector<proto::Group>& groups,
                                                      const model::ModelDims& dims,
                                                      ConvertStats* stats);

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_CONVERT_H_
