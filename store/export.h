// Getting data out of a store for people: JSON Lines tables (`dsarl store export`, for pandas and
// DuckDB) and a readable text dump of raw entries (`dsarl store dump`).
#ifndef DSARL_STORE_EXPORT_H_
#define DSARL_STORE_EXPORT_H_

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/store.h"

namespace dsarl::store {

// Receives one output line (without the newline). A non-OK status stops the export and is
// returned by it.
using LineSink = std::function<absl::Status(const std::string& line)>;

// The tables export knows. One per column family, except that `runs` splits into three row shapes.
//   envs          EnvSpec per environment, id order
//   prompts       Prompt per prompt, id order
//   groups        Group header per group (num_trajectories, no trajectories), (run, step) order
//   trajectories  Trajectory per trajectory with its group's run_id, step, attempt and worker_id
//                 added in front, (run, step, prompt, attempt, sample) order
//   runs          RunRecord per run
//   metrics       StepMetrics per (run, step)
//   checkpoints   CheckpointRecord per (run, step)
inline constexpr std::array<const char*, 7> kExportTables = {
    "envs", "prompts", "groups", "trajectories", "runs", "metrics", "checkpoints"};

struct ExportOptions {
  std::string table;               // one of kExportTables
  std::optional<uint64_t> run_id;  // groups, trajectories, metrics, checkpoints: only this run
  int64_t step_from = std::numeric_limits<int64_t>::min();  // groups .. metrics: inclusive range
  int64_t step_to = std::numeric_limits<int64_t>::max();
  uint64_t limit = 0;  // at most this many rows; 0: all
};

// Writes the table as JSON Lines (one object per line; see json.h for the value format) to
// `sink`. Returns the number of rows. InvalidArgument for an unknown table, or for a run/step
// filter on a table that has no runs or steps; read errors from the store; the sink's errors.
absl::StatusOr<uint64_t> ExportJsonl(const Store& store, const ExportOptions& options,
                                     const LineSink& sink);

struct DumpOptions {
  Cf cf = Cf::kPrompts;
  uint64_t limit = 10;  // records printed; 0: all
  bool full = false;    // print long repeated fields whole instead of their first kDumpShown values
  bool index = false;   // also print index entries (one line each), which are otherwise skipped
};
inline constexpr int kDumpShown = 8;

// Writes the column family's records in key order as text: a "# <key description>" line, then
// the value in protobuf text format. Returns the number of records printed (index entries not
// counted). Read errors from the store; DataLoss for an unparsable value; the sink's errors.
absl::StatusOr<uint64_t> DumpText(const Store& store, const DumpOptions& options,
                                  const LineSink& sink);

}  // namespace dsarl::store

#endif  // DSARL_STORE_EXPORT_H_
