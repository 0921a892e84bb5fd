// Checkpoints of a learner run, and resuming from the latest one. A checkpoint is the directory
// OUTPUT_DIR/checkpoints/step_NNNNNN: the policy in the Hugging Face layout (model.safetensors and
// config.json, model/checkpoint.h), the AdamW moments (optimizer.safetensors) and
// learner_state.json (step, policy version, optimizer step, prompt-scheduler cursor). The store
// indexes checkpoints by run; a rerun resumes from the latest one recorded there. Each file is
// written atomically and a checkpoint is recorded only after all of them, so a crash mid-way
// leaves the previous checkpoint the latest.
#ifndef DSARL_LEARNER_CHECKPOINTER_H_
#define DSARL_LEARNER_CHECKPOINTER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "learner/optimizer.h"
#include "model/transformer.h"
#include "proto/data.pb.h"
#include "store/store.h"

namespace dsarl::learner {

// What a checkpoint holds besides the weights and the optimizer's moments.
struct CheckpointState {
  int64_t step = 0;            // learner steps done
  int64_t version = 0;         // policy version of the weights
  int64_t optimizer_step = 0;  // the trainer's optimizer steps (the learning-rate schedule)
  uint64_t cursor = 0;         // the prompt scheduler's cursor (SchedulerState::cursor)
};

// A checkpoint resumed from: its store record and its state.
struct ResumePoint {
  proto::CheckpointRecord record;
  CheckpointState state;
};

class Checkpointer {
 public:
  // Checkpoints of run `run_id` under OUTPUT_DIR/checkpoints, indexed in `store` (which must
  // outlive the checkpointer).
  Checkpointer(std::string output_dir, store::Store* store, uint64_t run_id)
      : output_dir_(std::move(output_dir)), store_(store), run_id_(run_id) {}

  // OUTPUT_DIR/checkpoints/step_NNNNNN (six digits at least).
  std::string DirFor(int64_t step) const;

  // Writes the checkpoint of state.step (the policy, `optimizer`'s moments and `state`) and records
  // it in the store as the run's latest. Returns its directory. Errors: a write's error, naming
  // the file or directory, or the store's; either way the checkpoint is not recorded, and never
  // resumed from.
  absl::StatusOr<std::string> Save(const model::Transformer& policy, const AdamW& optimizer,
                                   const CheckpointState& state) const;

  // The run's latest recorded checkpoint. NotFound when the run has none; the store's error for
  // anything else.
  absl::StatusOr<proto::CheckpointRecord> Latest() const;

  // Loads the checkpoint `record` names into `policy` and `optimizer` and returns its state (a
  // state file without "step" gives the record's step; without "version", the step; without
  // "optimizer_step" or "cursor", 0). Errors, each naming the file: NotFound for a missing file;
  // InvalidArgument (or DataLoss) for a corrupt or truncated one; FailedPrecondition when the
  // checkpoint's model has another size than `policy`. After an error, `policy` and `optimizer`
  // may hold part of the checkpoint.
  absl::StatusOr<CheckpointState> Load(const proto::CheckpointRecord& record,
                                       model::Transformer* policy, AdamW* optimizer) const;

  // Latest, then Load: the checkpoint resumed from, with `policy` and `optimizer` loaded from it;
  // nullopt when the run has no checkpoint (nothing loaded). Errors: those of Latest (other than
  // NotFound) and of Load.
  absl::StatusOr<std::optional<ResumePoint>> LoadLatest(model::Transformer* policy,
                                                        AdamW* optimizer) const;

 private:
  std::string output_dir_;
  store::Store* store_;
  uint64_t run_id_;
};

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_CHECKPOINTER_H_
