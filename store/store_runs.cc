// The typed store API's runs column family (see store.h): run records, step metrics and the
// checkpoint index of each run.
#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "store/keys.h"
#include "store/store.h"  // IWYU pragma: associated
#include "store/store_codec.h"

namespace dsarl::store {

using internal::Batch;
using internal::Deterministic;
using internal::ParseValue;

// ---- runs --------------------------------------------------------------------------------------

absl::Status Store::PutCounted(Cf cf, const std::string& key, const std::string& value,
                               void (*count_new)(proto::StoreCounts*)) {
  std::lock_guard<std::mutex> lock(write_mu_);
  ASSIGN_OR_RETURN(bool existed, Exists(cf, key));
  proto::StoreCounts counts = counts_;
  if (!existed) count_new(&counts);
  Batch batch(*db_);
  batch.Put(cf, key, value);
  RETURN_IF_ERROR(batch.status());
  return CommitWithCounts(batch.batch(), counts);
}

absl::Status Store::PutRun(const proto::RunRecord& run) {
  return PutCounted(Cf::kRuns, RunKey(run.run_id()), Deterministic(run),
                    [](proto::StoreCounts* c) { c->set_runs(c->runs() + 1); });
}

absl::StatusOr<proto::RunRecord> Store::GetRun(uint64_t run_id) const {
  const std::string key = RunKey(run_id);
  ASSIGN_OR_RETURN(std::string value, db_->Get(Cf::kRuns, key));
  proto::RunRecord run;
  RETURN_IF_ERROR(ParseValue(*db_, Cf::kRuns, key, value, &run));
  return run;
}

absl::Status Store::ScanRuns(const Visitor<proto::RunRecord>& visit) const {
  const std::string prefix(1, kRunTag);
  return ScanRecords(Cf::kRuns, prefix, PrefixEnd(prefix), visit);
}

absl::StatusOr<uint64_t> Store::NextRunId() const {
  const std::string prefix(1, kRunTag);
  std::string key, value;
  ASSIGN_OR_RETURN(bool any, db_->Last(Cf::kRuns, prefix, PrefixEnd(prefix), &key, &value));
  if (!any) return 1;
  ASSIGN_OR_RETURN(uint64_t last, DecodeTrailingId(key));
  return last + 1;
}

absl::Status Store::PutStepMetrics(const proto::StepMetrics& metrics) {
  return PutCounted(Cf::kRuns, MetricsKey(metrics.run_id(), metrics.step()), Deterministic(metrics),
                    [](proto::StoreCounts* c) { c->set_step_metrics(c->step_metrics() + 1); });
}

absl::Status Store::ScanStepMetrics(uint64_t run_id, int64_t step_from, int64_t step_to,
                                    const Visitor<proto::StepMetrics>& visit) const {
  return ScanRecords(Cf::kRuns, MetricsKey(run_id, step_from),
                     PrefixEnd(MetricsKey(run_id, step_to)), visit);
}

absl::StatusOr<uint64_t> Store::DeleteStepMetricsAfter(uint64_t run_id, int64_t step) {
  if (step == std::numeric_limits<int64_t>::max()) return 0;
  std::lock_guard<std::mutex> lock(write_mu_);
  Batch batch(*db_);
  uint64_t removed = 0;
  RETURN_IF_ERROR(db_->Scan(Cf::kRuns, MetricsKey(run_id, step + 1),
                            PrefixEnd(MetricsRunPrefix(run_id)),
                            [&](absl::string_view key, absl::string_view) {
                              batch.Delete(Cf::kRuns, std::string(key));
                              ++removed;
                              return true;
                            }));
  RETURN_IF_ERROR(batch.status());
  if (removed == 0) return 0;
  proto::StoreCounts counts = counts_;
  counts.set_step_metrics(counts.step_metrics() - std::min(counts.step_metrics(), removed));
  RETURN_IF_ERROR(CommitWithCounts(batch.batch(), counts));
  return removed;
}

absl::Status Store::PutCheckpoint(const proto::CheckpointRecord& record) {
  return PutCounted(Cf::kRuns, CheckpointKey(record.run_id(), record.step()), Deterministic(record),
                    [](proto::StoreCounts* c) { c->set_checkpoints(c->checkpoints() + 1); });
}

absl::Status Store::ScanCheckpoints(uint64_t run_id,
                                    const Visitor<proto::CheckpointRecord>& visit) const {
  const std::string prefix = CheckpointRunPrefix(run_id);
  return ScanRecords(Cf::kRuns, prefix, PrefixEnd(prefix), visit);
}

absl::StatusOr<proto::CheckpointRecord> Store::LatestCheckpoint(uint64_t run_id) const {
  const std::string prefix = CheckpointRunPrefix(run_id);
  std::string key, value;
  ASSIGN_OR_RETURN(bool any, db_->Last(Cf::kRuns, prefix, PrefixEnd(prefix), &key, &value));
  if (!any) {
    return absl::NotFoundError(
        absl::StrCat("store ", db_->dir(), ": run ", run_id, " has no checkpoint"));
  }
  proto::CheckpointRecord record;
  RETURN_IF_ERROR(ParseValue(*db_, Cf::kRuns, key, value, &record));
  return record;
}

}  // namespace dsarl::store
