// Reading saved trajectories for offline scoring (`dsarl rewards test`), so a researcher can
// iterate on a reward without training. docs/rewards.md describes the file formats in full.
//
// A file is JSON Lines; each line is one trajectory in one of two shapes:
//   * a store row, as `dsarl store export --cf trajectories --format jsonl` writes it (recognised
//     by its "token_ids" member): the tokens are decoded back into messages by a TokenDecoder
//     (the CLI builds one on model/'s tokenizer and parser, which rewards/ may not use); the
//     verdict is the stored component named ReadOptions.verdict_component; the task comes from
//     ReadOptions.prompts by prompt_id (`dsarl store export --cf prompts`), else it has only the
//     id and the decoded system and user text.
//   * a plain row, written by hand or by a script: {"prompt": {...}, "messages": [...],
//     "final_answer": "...", "verdict": {"score": 1, "details": "..."}, ...}.
//
// Groups: consecutive lines with the same group key form one group (group-level rewards see them
// together). A store row's key is (run_id, step, prompt_id, attempt); a plain row's is its "group"
// member, else its prompt id, else the line alone.
#ifndef DSARL_REWARDS_OFFLINE_H_
#define DSARL_REWARDS_OFFLINE_H_

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/data.pb.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

struct OfflineTrajectory {
  int64_t line = 0;  // 1-based line number in the file
  int32_t sample_index = 0;
  Sample sample;
  std::optional<double> stored_reward;  // the reward saved with the trajectory, when given
  std::string stored_infra_error;       // a store row's infra_error
};

struct OfflineGroup {
  std::string key;     // for people: "run 1 step 3 prompt 7 attempt 0", "prompt 7", "line 12"
  proto::Prompt task;  // the first row's task
  std::vector<OfflineTrajectory> trajectories;
};

// What a store row's tokens say: the prompt's system and user text and the messages after it.
struct DecodedEpisode {
  std::string system;
  std::string user;
  std::vector<Message> turns;  // assistant turns and tool results, in order
};

// Decodes the tokens of a store trajectory (model-specific). Errors make the file unreadable.
using TokenDecoder = std::function<absl::StatusOr<DecodedEpisode>(const proto::Trajectory&)>;
// Fills reasoning, content, tool_calls and parse_error of an assistant message from its raw_text
// (model-specific). Used for plain rows whose assistant messages give only "text".
using TextParser = std::function<void(Message*)>;

struct ReadOptions {
  TokenDecoder decode_tokens;                  // required for store rows
  TextParser parse_text;                       // optional
  std::map<uint64_t, proto::Prompt> prompts;   // by id; tasks for rows that name only an id
  std::string verdict_component = "verifier";  // store rows: the stored component read as verdict
};

// Reads trajectories from `in` and calls `on_group` once per group, in file order. Blank lines are
// skipped. Returns InvalidArgument "<filename>:<line>: ..." for a line that is not a JSON object,
// an unknown member in a plain row, a value of the wrong type, an unknown role or finish reason, or
// a store row without a decoder; the decoder's errors likewise annotated; on_group's errors as
// they are (reading stops at the first error).
absl::Status ReadTrajectoriesJsonl(std::istream& in, const std::string& filename,
                                   const ReadOptions& options,
                                   const std::function<absl::Status(OfflineGroup)>& on_group);

// Reads prompts, one Prompt JSON object per line (`dsarl store export --cf prompts`, or the same
// fields by hand; unknown members ignored), keyed by id. InvalidArgument "<filename>:<line>: ..."
// for a line that does not parse.
absl::StatusOr<std::map<uint64_t, proto::Prompt>> ReadPromptsJsonl(std::istream& in,
                                                                   const std::string& filename);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_OFFLINE_H_
