// Language (script) consistency: does the model answer in the script of the question? After
// DeepSeek-R1's language-consistency reward (the share of target-language words in the chain of
// thought), measured per letter rather than per word so that Chinese and Japanese, written without
// spaces, count the same way as English.
//
//   language   letters in the target scripts / (all letters + invalid UTF-8 bytes), in [0, 1]
//
// Letters are classified by Unicode block into the scripts below; digits, punctuation, symbols,
// emoji and whitespace are ignored; a letter of any other script counts against; each byte that is
// not valid UTF-8 counts against (a charset check).
//
// Parameters (all optional):
//   script     "auto" (default): the dominant script of the task's user message; or a
//              comma-separated list of: latin, greek, cyrillic, hebrew, arabic, devanagari, thai,
//              cjk (Han, kana, Hangul)
//   fields     which assistant text is measured: "all" (default: reasoning and content),
//              "reasoning", "content"; over every assistant turn
//   threshold  when set, the value is 1 if the share is >= threshold, else 0
//
// Not applicable when the measured text has no letters, or (auto) the user message has none.
#ifndef DSARL_REWARDS_LANGUAGE_H_
#define DSARL_REWARDS_LANGUAGE_H_

#include <map>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rewards/params.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

enum class Script { kLatin, kGreek, kCyrillic, kHebrew, kArabic, kDevanagari, kThai, kCjk, kOther };

// "latin", ..., "cjk", "other".
const char* ScriptName(Script script);
// The inverse of ScriptName for the eight named scripts; nullopt otherwise (including "other").
std::optional<Script> ParseScript(absl::string_view name);

// The script of code point `cp`; nullopt when it is not a letter (digits, punctuation, symbols,
// whitespace, combining marks, emoji).
std::optional<Script> ScriptOf(char32_t cp);

struct ScriptCounts {
  std::map<Script, int64_t> letters;  // letters per script (absent: none)
  int64_t invalid_bytes = 0;          // bytes that are not part of valid UTF-8
  int64_t total_letters() const;
};

// Counts the letters of `text` by script. Never fails: invalid UTF-8 is counted, not rejected.
ScriptCounts CountScripts(absl::string_view text);

// The script with the most letters in `counts` (ties: the earlier enum value); nullopt when there
// are no letters.
std::optional<Script> DominantScript(const ScriptCounts& counts);

// InvalidArgument for a bad parameter value.
absl::StatusOr<std::unique_ptr<RewardFunction>> NewLanguage(const Params& params);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_LANGUAGE_H_
