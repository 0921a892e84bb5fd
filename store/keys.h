// Key codecs of the store: every key is a one-byte tag followed by fixed-width big-endian fields,
// so RocksDB's bytewise order is the order of the fields and "all groups of run R at steps
// 100..200" or "all prompts of environment E" are range scans. The layout is documented in
// docs/store.md; changing it means a new schema version (db.h, kSchemaVersion).
//
// Field encodings:
//   uint64 / uint32   big-endian, 8 / 4 bytes
//   int64 (steps)     big-endian with the sign bit flipped, 8 bytes, so -1 sorts before 0
//   string (category) its bytes then one 0x00; a category may not contain 0x00
#ifndef DSARL_STORE_KEYS_H_
#define DSARL_STORE_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dsarl::store {

// Tags (first byte of every key). Printable, so `ldb scan` output stays readable.
inline constexpr char kEnvTag = 'E';          // envs:   E env_id            -> EnvSpec
inline constexpr char kCategoryTag = 'C';     // envs, prompts: C category 0x00 id -> ""
inline constexpr char kPromptTag = 'P';       // prompts: P prompt_id        -> Prompt
inline constexpr char kPromptByEnvTag = 'E';  // prompts: E env_id prompt_id -> ""
inline constexpr char kGroupTag = 'G';        // groups: G run step prompt attempt -> Group header
inline constexpr char kGroupIdTag = 'I';      // groups: I prompt attempt    -> its G key
inline constexpr char kTrajectoryTag = 'T';   // trajectories: T prompt attempt sample -> Trajectory
inline constexpr char kRunTag = 'R';          // runs: R run_id              -> RunRecord
inline constexpr char kMetricsTag = 'M';      // runs: M run_id step         -> StepMetrics
inline constexpr char kCheckpointTag = 'K';   // runs: K run_id step         -> CheckpointRecord
inline constexpr char kQuarantineTag = 'Q';  // quarantine: Q seq prompt attempt -> QuarantinedGroup

// Keys of the `meta` column family (plain words; values StoreMeta and StoreCounts).
inline constexpr char kMetaSchemaKey[] = "schema";
inline constexpr char kMetaCountsKey[] = "counts";

// Fixed-width field appenders (see the encodings above).
void AppendU32(std::string* key, uint32_t v);
void AppendU64(std::string* key, uint64_t v);
void AppendI64(std::string* key, int64_t v);

// Field readers: consume the field from the front of `*in`. Return false (leaving `*in` in an
// unspecified state) when `*in` is too short.
bool ConsumeU32(absl::string_view* in, uint32_t* v);
bool ConsumeU64(absl::string_view* in, uint64_t* v);
bool ConsumeI64(absl::string_view* in, int64_t* v);

// OK when `category` can be part of a key; InvalidArgument (naming it) when it contains 0x00.
absl::Status ValidateCategory(const std::string& category);

// The smallest key greater than every key that starts with `prefix`; "" when there is none
// (prefix empty or all 0xFF), meaning "no upper bound".
std::string PrefixEnd(const std::string& prefix);

// ---- envs
// ----------------------------------------------------------------------------------------
std::string EnvKey(uint64_t env_id);
// Category index entries, shared by the envs and prompts column families. The category must have
// passed ValidateCategory.
std::string CategoryIndexKey(const std::string& category, uint64_t id);
std::string CategoryIndexPrefix(const std::string& category);

// ---- prompts
// -------------------------------------------------------------------------------------
std::string PromptKey(uint64_t prompt_id);
std::string PromptByEnvKey(uint64_t env_id, uint64_t prompt_id);
std::string PromptByEnvPrefix(uint64_t env_id);

// ---- groups and trajectories
// ---------------------------------------------------------------------
struct GroupKeyParts {
  uint64_t run_id = 0;
  int64_t step = 0;
  uint64_t prompt_id = 0;
  uint32_t attempt = 0;
};
std::string GroupKey(const GroupKeyParts& parts);
// Prefix of every group of `run_id`, and of those at exactly `step`.
std::string GroupRunPrefix(uint64_t run_id);
std::string GroupRunStepPrefix(uint64_t run_id, int64_t step);
// The id index entry of a group: (prompt_id, attempt) -> its GroupKey.
std::string GroupIdKey(uint64_t prompt_id, uint32_t attempt);

std::string TrajectoryKey(uint64_t prompt_id, uint32_t attempt, uint32_t sample_index);
// Prefix of the trajectories of one group.
std::string TrajectoryGroupPrefix(uint64_t prompt_id, uint32_t attempt);
struct TrajectoryKeyParts {
  uint64_t prompt_id = 0;
  uint32_t attempt = 0;
  uint32_t sample_index = 0;
};

// ---- runs
// ----------------------------------------------------------------------------------------
std::string RunKey(uint64_t run_id);
std::string MetricsKey(uint64_t run_id, int64_t step);
std::string MetricsRunPrefix(uint64_t run_id);
std::string CheckpointKey(uint64_t run_id, int64_t step);
std::string CheckpointRunPrefix(uint64_t run_id);

// ---- quarantine
// ------------------------------------------------------------------------------------
// A quarantined group: `seq` (the store's counter, one per record) first, so that every refusal is
// kept, in the order they came, even several of the same (prompt_id, attempt).
std::string QuarantineKey(uint64_t seq, uint64_t prompt_id, uint32_t attempt);
struct QuarantineKeyParts {
  uint64_t seq = 0;
  uint64_t prompt_id = 0;
  uint32_t attempt = 0;
};

// ---- decoding
// ------------------------------------------------------------------------------------ Decode a
// full key of the named kind. DataLoss (with the key in hex) when the key has another tag or the
// wrong length.
absl::StatusOr<GroupKeyParts> DecodeGroupKey(absl::string_view key);
absl::StatusOr<TrajectoryKeyParts> DecodeTrajectoryKey(absl::string_view key);
absl::StatusOr<QuarantineKeyParts> DecodeQuarantineKey(absl::string_view key);
// The id (last 8 bytes) of an E/P/R key or of a category / by-env index entry.
absl::StatusOr<uint64_t> DecodeTrailingId(absl::string_view key);

// A one-line, human-readable form of any key of the column family named `cf` (e.g.
// "group run=1 step=-1 prompt=42 attempt=0"); unknown shapes print as "? <hex>". Never fails.
std::string DescribeKey(absl::string_view cf, absl::string_view key);

}  // namespace dsarl::store

#endif  // DSARL_STORE_KEYS_H_
