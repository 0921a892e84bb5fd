// The typed store of a job: environments, prompts, groups with their trajectories, and runs (job
// config, per-step metrics, checkpoint index), with record counts. This is the API the rest of
// dsarl uses; the key layout is in keys.h and docs/store.md, RocksDB itself in db.h.
//
// Every write is one atomic RocksDB WriteBatch, in the WAL before it returns OK. Writes are
// serialized inside the Store, except that concurrent AppendGroup calls are committed together
// (group commit: one WAL write and, with sync_writes, one fsync for all of them; each group still
// lands whole or not at all). Reads may run from any number of threads while it writes, and a scan
// sees one consistent state (a snapshot) from start to end.
#ifndef DSARL_STORE_STORE_H_
#define DSARL_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/data.pb.h"
#include "store/db.h"
#include "store/group_commit.h"

namespace dsarl::store {

// A scan visitor: return true to continue, false to stop.
template <typename T>
using Visitor = std::function<bool(const T&)>;

// Which groups a group scan visits.
struct GroupQuery {
  std::optional<uint64_t> run_id;                           // all runs when empty
  int64_t step_from = std::numeric_limits<int64_t>::min();  // inclusive
  int64_t step_to = std::numeric_limits<int64_t>::max();    // inclusive
  // Fill Group.trajectories (in sample order); when false the visitor gets headers only
  // (num_trajectories set, trajectories empty).
  bool with_trajectories = true;
};

class Store {
 public:
  // Opens (or with options.create_if_missing creates) the store in `dir`. Errors are those of
  // Database::Open, each naming `dir`; also DataLoss when the counts record is unreadable.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& dir,
                                                     const OpenOptions& options);
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Closes the database; returns RocksDB's close error, if any. Idempotent; afterwards reads and
  // writes return FailedPrecondition (Counts keeps its last value).
  absl::Status Close() { return db_->Close(); }

  const std::string& dir() const { return db_->dir(); }
  Database& db() { return *db_; }
  const Database& db() const { return *db_; }

  // Every write below returns, besides what it lists: FailedPrecondition on a read-only store,
  // ResourceExhausted when the disk is full (nothing of the write is stored), other I/O errors
  // (Unavailable, DataLoss). Reads return DataLoss when a stored value does not parse.

  // ---- environments --------------------------------------------------------------------------
  // Inserts or replaces the environment with env.id (moving its category index entry if the
  // category changed). InvalidArgument when the category contains a NUL byte.
  absl::Status PutEnv(const proto::EnvSpec& env);
  // The environment with `env_id`; NotFound when there is none.
  absl::StatusOr<proto::EnvSpec> GetEnv(uint64_t env_id) const;
  // Visits every environment in id order / those of `category` in id order. OK or a read error.
  absl::Status ScanEnvs(const Visitor<proto::EnvSpec>& visit) const;
  absl::Status ScanEnvsByCategory(const std::string& category,
                                  const Visitor<proto::EnvSpec>& visit) const;

  // ---- prompts -------------------------------------------------------------------------------
  // Inserts or replaces prompts by id, all in one atomic write (a later duplicate id in `prompts`
  // wins). InvalidArgument when a category contains a NUL byte (nothing is written).
  absl::Status PutPrompts(absl::Span<const proto::Prompt> prompts);
  absl::Status PutPrompt(const proto::Prompt& prompt) { return PutPrompts({&prompt, 1}); }
  // The prompt with `prompt_id`; NotFound when there is none.
  absl::StatusOr<proto::Prompt> GetPrompt(uint64_t prompt_id) const;
  // Visits every prompt in id order; those of environment `env_id`; those of `category`.
  absl::Status ScanPrompts(const Visitor<proto::Prompt>& visit) const;
  absl::Status ScanPromptsByEnv(uint64_t env_id, const Visitor<proto::Prompt>& visit) const;
  absl::Status ScanPromptsByCategory(const std::string& category,
                                     const Visitor<proto::Prompt>& visit) const;

  // ---- groups --------------------------------------------------------------------------------
  // Stores the group's header and all its trajectories in one atomic write, keyed by
  // (run_id, step, prompt_id, attempt). Idempotent by (prompt_id, attempt): returns true when
  // the group was written, false when a group with that id is already stored (the stored one is
  // kept unchanged, whatever this one holds). InvalidArgument when a trajectory's prompt_id
  // differs from the group's (0 is taken as the group's), or the sample indexes are not exactly
  // 0..n-1 in some order, or there are no trajectories. Thread-safe; concurrent calls share one
  // write (see the top of this file).
  absl::StatusOr<bool> AppendGroup(const proto::Group& group);
  // Moves a stored group to learner step `step` (the step that consumed it). OK also when it is
  // already there; NotFound when no group (prompt_id, attempt) is stored.
  absl::Status SetGroupStep(uint64_t prompt_id, uint32_t attempt, int64_t step);
  // The group (prompt_id, attempt), with its trajectories when asked; NotFound when there is none;
  // DataLoss when its trajectories are not all there.
  absl::StatusOr<proto::Group> GetGroup(uint64_t prompt_id, uint32_t attempt,
                                        bool with_trajectories = true) const;
  // Visits the groups `query` selects, ordered by (run, step, prompt, attempt). DataLoss when a
  // group's trajectories are not all there.
  absl::Status ScanGroups(const GroupQuery& query, const Visitor<proto::Group>& visit) const;
  // Visits stored trajectories in key order (prompt, attempt, sample), without group context.
  absl::Status ScanTrajectories(const Visitor<proto::Trajectory>& visit) const;

  // ---- quarantine ----------------------------------------------------------------------------
  // Keeps `record` (a group the learner refused, with why and when) under a new key: records are
  // never replaced, so several refusals of the same (prompt_id, attempt) are all kept, in order.
  // With `remove_stored`, the stored group (record.group's prompt_id, attempt) is removed from the
  // groups and trajectories in the same atomic write (a bad group found at resume or in training),
  // and NotFound (nothing written) when no such group is stored. The caller trims what it keeps
  // (learner/intake.h MakeQuarantineRecord).
  absl::Status Quarantine(const proto::QuarantinedGroup& record, bool remove_stored);
  // Visits the quarantined groups in the order they were quarantined. OK or a read error.
  absl::Status ScanQuarantine(const Visitor<proto::QuarantinedGroup>& visit) const;

  // ---- runs ----------------------------------------------------------------------------------
  // Inserts or replaces the run record with run.run_id.
  absl::Status PutRun(const proto::RunRecord& run);
  // The run `run_id`; NotFound when there is none.
  absl::StatusOr<proto::RunRecord> GetRun(uint64_t run_id) const;
  // Visits every run in id order.
  absl::Status ScanRuns(const Visitor<proto::RunRecord>& visit) const;
  // One more than the largest stored run id (1 for an empty store).
  absl::StatusOr<uint64_t> NextRunId() const;
  // Inserts or replaces the metrics of (metrics.run_id, metrics.step).
  absl::Status PutStepMetrics(const proto::StepMetrics& metrics);
  // Visits the metrics of `run_id` with step_from <= step <= step_to, in step order.
  absl::Status ScanStepMetrics(uint64_t run_id, int64_t step_from, int64_t step_to,
                               const Visitor<proto::StepMetrics>& visit) const;
  // Removes the metrics of `run_id` at steps after `step`, all in one atomic write, and returns
  // how many there were (0: nothing written). For a learner that resumes from its checkpoint at
  // `step`: the steps after it were trained by a process that stopped before its next checkpoint;
  // they are trained again, and their metrics written again.
  absl::StatusOr<uint64_t> DeleteStepMetricsAfter(uint64_t run_id, int64_t step);
  // Inserts or replaces the checkpoint record of (record.run_id, record.step).
  absl::Status PutCheckpoint(const proto::CheckpointRecord& record);
  // Visits the checkpoints of `run_id` in step order.
  absl::Status ScanCheckpoints(uint64_t run_id,
                               const Visitor<proto::CheckpointRecord>& visit) const;
  // The checkpoint of `run_id` with the largest step; NotFound when the run has none.
  absl::StatusOr<proto::CheckpointRecord> LatestCheckpoint(uint64_t run_id) const;

  // ---- counts --------------------------------------------------------------------------------
  // Record counts as of the last acknowledged write (the writer) or of Open / CatchUp (a reader).
  proto::StoreCounts Counts() const;
  // Reader only: picks up the writer's new records (Database::CatchUp) and reloads the counts.
  absl::Status CatchUp();

 private:
  explicit Store(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  struct PendingGroup;
  absl::Status LoadCounts();
  // Adds to `batch` the deletes of the stored group (prompt_id, attempt) and subtracts it from
  // `counts`. NotFound when it is not stored. Call with write_mu_ held.
  absl::Status RemoveGroupInto(uint64_t prompt_id, uint32_t attempt, rocksdb::WriteBatch* batch,
                               proto::StoreCounts* counts);
  // Writes the groups of one group commit in one batch (the GroupCommitter's CommitFn).
  void CommitGroups(const std::vector<GroupCommitter::Request*>& requests);
  // Adds the counts record to `batch`, writes it, and on success makes `counts` current.
  // Call with write_mu_ held.
  absl::Status CommitWithCounts(rocksdb::WriteBatch* batch, const proto::StoreCounts& counts);
  // Inserts or replaces one record, counting it with `count_new` when the key is new.
  absl::Status PutCounted(Cf cf, const std::string& key, const std::string& value,
                          void (*count_new)(proto::StoreCounts*));
  // True when `key` exists in `cf` (latest state); errors from the read.
  absl::StatusOr<bool> Exists(Cf cf, const std::string& key) const;
  // Reads the trajectories of one group into `group`; DataLoss unless exactly num_trajectories.
  absl::Status ReadTrajectories(proto::Group* group, const Database::ReadView* view) const;
  // Visits the records an index range points at: each index key ends with the record's id;
  // `record_key` makes the record key from it.
  template <typename T>
  absl::Status ScanIndex(Cf cf, const std::string& prefix, std::string (*record_key)(uint64_t),
                         const Visitor<T>& visit) const;
  template <typename T>
  absl::Status ScanRecords(Cf cf, const std::string& begin, const std::string& end,
                           const Visitor<T>& visit) const;

  std::unique_ptr<Database> db_;
  GroupCommitter group_committer_;  // concurrent AppendGroups share one write
  std::mutex write_mu_;             // one writer at a time: read-check-write and the counts
  mutable std::mutex counts_mu_;
  proto::StoreCounts counts_;         // guarded by counts_mu_
  uint64_t next_quarantine_seq_ = 0;  // guarded by write_mu_; found at Open (last key + 1)
};

}  // namespace dsarl::store

#endif  // DSARL_STORE_STORE_H_
