// The format reward and the think-block checker (see format.h).
#include "rewards/format.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"

namespace dsarl::rewards {
namespace {

constexpr absl::string_view kOpen = "<think>";
constexpr absl::string_view kClose = "</think>";

int CountOf(absl::string_view text, absl::string_view needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != absl::string_view::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

struct FormatOptions {
  bool think = true;
  bool tool_calls = true;
  bool require_reasoning = false;
  bool require_answer = false;
  bool starts_in_reasoning = true;
};

class Format : public SampleRewardFunction {
 public:
  explicit Format(FormatOptions options) : options_(options) {}

  absl::StatusOr<Components> Score(const proto::Prompt&, const Sample& sample) const override {
    const std::vector<const Message*> turns = AssistantMessages(sample);
    if (turns.empty()) return Components{Component::Value(0, "no assistant turn")};
    Components subs;
    std::vector<std::string> failed;
    std::vector<bool> think_failed(turns.size(), false);
    if (options_.think) {
      Component c = CheckThink(turns, &think_failed);
      if (c.applicable && c.value == 0) failed.push_back("think");
      subs.push_back(std::move(c));
    }
    if (options_.tool_calls) {
      Component c = CheckParse(turns, think_failed);
      if (c.value == 0) failed.push_back("tool_calls");
      subs.push_back(std::move(c));
    }
    if (options_.require_answer) {
      const bool blank = absl::StripAsciiWhitespace(sample.final_answer).empty();
      if (blank) failed.push_back("answer");
      subs.push_back(Component::Value(blank ? 0 : 1, blank ? "blank final answer" : "", "answer"));
    }
    Components out;
    out.push_back(failed.empty()
                      ? Component::Value(1, "well formed")
                      : Component::Value(0, absl::StrCat("failed: ", absl::StrJoin(failed, ", "))));
    for (Component& c : subs) out.push_back(std::move(c));
    return out;
  }

 private:
  Component CheckThink(const std::vector<const Message*>& turns,
                       std::vector<bool>* think_failed) const {
    int checked = 0;
    std::string first_problem;
    for (size_t i = 0; i < turns.size(); ++i) {
      if (turns[i]->raw_text.empty()) continue;
      ++checked;
      const ThinkCheck check = CheckThinkBlock(turns[i]->raw_text, options_.starts_in_reasoning);
      std::string problem = check.problem;
      if (check.ok && options_.require_reasoning && check.empty_reasoning) {
        problem = "empty reasoning";
      }
      if (problem.empty()) continue;
      (*think_failed)[i] = true;
      if (first_problem.empty()) first_problem = absl::StrCat("turn ", i, ": ", problem);
    }
    if (checked == 0) return Component::NotApplicable("no raw text kept", "think");
    if (!first_problem.empty()) return Component::Value(0, first_problem, "think");
    return Component::Value(1, "", "think");
  }

  static Component CheckParse(const std::vector<const Message*>& turns,
                              const std::vector<bool>& think_failed) {
    for (size_t i = 0; i < turns.size(); ++i) {
      if (!turns[i]->parse_error.empty() && !think_failed[i]) {
        return Component::Value(0, absl::StrCat("turn ", i, ": ", turns[i]->parse_error),
                                "tool_calls");
      }
    }
    return Component::Value(1, "", "tool_calls");
  }

  FormatOptions options_;
};

}  // namespace

ThinkCheck CheckThinkBlock(absl::string_view raw_text, bool starts_in_reasoning) {
  ThinkCheck out;
  absl::string_view text = raw_text;
  if (!starts_in_reasoning) {
    text = absl::StripLeadingAsciiWhitespace(text);
    if (!absl::ConsumePrefix(&text, kOpen)) {
      out.problem = "the turn does not open with <think>";
      return out;
    }
  }
  const int opens = CountOf(text, kOpen);
  const int closes = CountOf(text, kClose);
  if (closes == 0) {
    out.problem = "no </think>: the reasoning never closed";
  } else if (closes > 1) {
    out.problem = absl::StrCat(closes, " </think> tags");
  } else if (opens > 0) {
    out.problem = "<think> inside the turn";
  }
  if (!out.problem.empty()) return out;
  out.ok = true;
  out.empty_reasoning = absl::StripAsciiWhitespace(text.substr(0, text.find(kClose))).empty();
  return out;
}

absl::StatusOr<std::unique_ptr<RewardFunction>> NewFormat(const Params& params) {
  FormatOptions o;
  ASSIGN_OR_RETURN(o.think, params.Bool("think", true));
  ASSIGN_OR_RETURN(o.tool_calls, params.Bool("tool_calls", true));
  ASSIGN_OR_RETURN(o.require_reasoning, params.Bool("require_reasoning", false));
  ASSIGN_OR_RETURN(o.require_answer, params.Bool("require_answer", false));
  ASSIGN_OR_RETURN(o.starts_in_reasoning, params.Bool("starts_in_reasoning", true));
  if (!o.think && !o.tool_calls && !o.require_answer) {
    return params.Error("think", "every check is disabled");
  }
  if (o.require_reasoning && !o.think) {
    return params.Error("require_reasoning", "needs think=true");
  }
  return std::make_unique<Format>(o);
}

}  // namespace dsarl::rewards
