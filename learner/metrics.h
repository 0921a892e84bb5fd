// Per-step metrics for people and tools: one JSON object per line (metrics.jsonl, for pandas and
// DuckDB), TensorBoard event files (TFRecord framing, masked CRC-32C), and for a learner run the
// store's StepMetrics rows (so `dsarl store export --cf metrics` shows the training history), all
// written every step so a crash loses at most the step being written.
//
// One row per step, whatever crashes and resumes came between: a learner that resumes from its
// checkpoint at step S trains steps S+1.. again, so at Open the rows after S (written by a
// process that trained past its last checkpoint, then died) are dropped, and the steps trained
// again are written anew: for every step, the last process that trained it wins.
#ifndef DSARL_LEARNER_METRICS_H_
#define DSARL_LEARNER_METRICS_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "store/store.h"

namespace dsarl::learner {

struct MetricsOptions {
  // The step training starts after (the checkpoint's step; 0 for a fresh run). At Open, rows of
  // steps after it are dropped from metrics.jsonl and the store, and the new TensorBoard file
  // starts with a restart marker at resume_step + 1, which makes TensorBoard drop the older files'
  // events from that step on. Unset (the LM stages): metrics.jsonl is appended to as it is.
  std::optional<int64_t> resume_step;
  // When set, every step is also written as the StepMetrics of (run_id, step) to this store,
  // which must outlive the writer.
  store::Store* store = nullptr;
  uint64_t run_id = 0;
};

class MetricsWriter {
 public:
  // Opens DIR/metrics.jsonl (appending, after dropping the rows options.resume_step says to drop)
  // and a new DIR/tensorboard/events.out.tfevents.<time>.dsarl file. Errors name the path; the
  // store's errors (removing rows after resume_step) name the store.
  static absl::StatusOr<std::unique_ptr<MetricsWriter>> Open(const std::string& dir,
                                                             const MetricsOptions& options = {});
  ~MetricsWriter();

  // Writes one step's values to each place. Non-finite values are written as null (JSON), left
  // out (TensorBoard) and kept as they are (the store). Every place is attempted; the first error
  // (e.g. disk full), naming the file or the store, is returned.
  absl::Status Write(int64_t step, const std::map<std::string, double>& values);

 private:
  MetricsWriter() = default;
  absl::Status OpenTensorBoard(const std::string& dir);
  absl::Status WriteRecord(const std::string& data);
  absl::Status WriteJsonl(int64_t step, double now, const std::map<std::string, double>& values);
  absl::Status WriteEvent(int64_t step, double now, const std::map<std::string, double>& values);
  std::string jsonl_path_, events_path_;
  FILE* jsonl_ = nullptr;
  FILE* events_ = nullptr;
  store::Store* store_ = nullptr;
  uint64_t run_id_ = 0;
};

// Rewrites the JSON Lines file `path` to hold one row per step for the steps <= `last_step`, each
// the last row written for its step, in step order. Rows after `last_step`, and lines that are
// not an object with an integer "step" (a line torn by a crash), are dropped. Returns the number
// of lines dropped; the file is replaced atomically (rename) and only when something changes. A
// missing file is OK (0). Errors name the path.
absl::StatusOr<int> KeepMetricsRowsUpTo(const std::string& path, int64_t last_step);

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_METRICS_H_
