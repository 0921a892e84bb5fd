// Per-step metrics for people and tools: one JSON object per line (metrics.jsonl, for pandas and
// DuckDB) and TensorBoard event files (TFRecord framing, masked CRC-32C), both flushed every step
// so a crash loses at most the step being written.
#ifndef DSARL_LEARNER_METRICS_H_
#define DSARL_LEARNER_METRICS_H_

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace dsarl::learner {

class MetricsWriter {
 public:
  // Opens DIR/metrics.jsonl (appending: a resumed run continues the file) and a new
  // DIR/tensorboard/events.out.tfevents.<time>.dsarl file. Errors name the path.
  static absl::StatusOr<std::unique_ptr<MetricsWriter>> Open(const std::string& dir);
  ~MetricsWriter();

  // Writes one step's values to both. Non-finite values are written as null (JSON) and skipped
  // (TensorBoard). Errors (e.g. disk full) name the file.
  absl::Status Write(int64_t step, const std::map<std::string, double>& values);

 private:
  MetricsWriter() = default;
  absl::Status WriteRecord(const std::string& data);
  std::string jsonl_path_, events_path_;
  FILE* jsonl_ = nullptr;
  FILE* events_ = nullptr;
};

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_METRICS_H_
