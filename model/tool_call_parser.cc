// Recursive-descent parser over the decoded text of one assistant turn. Every read is
// bounds-checked through Parser; every failure returns a ParseError with the byte offset where it
// was found.
#include "model/tool_call_parser.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/utf8.h"
#include "model/tokenizer.h"

namespace dsarl::model {
namespace {

// The special token whose text starts at text[pos] (longest match), or -1.
int32_t MatchMarkup(absl::string_view text, size_t pos) {
  if (pos >= text.size() || text[pos] != '<') return -1;
  const absl::string_view rest = text.substr(pos);
  int32_t best = -1;
  size_t best_len = 0;
  for (int32_t id = kFirstSpecialId; id < kNumTokens; ++id) {
    const absl::string_view special = SpecialTokenText(id);
    if (special.size() > best_len && absl::StartsWith(rest, special)) {
      best = id;
      best_len = special.size();
    }
  }
  return best;
}

// Position of the next markup at or after `pos`, or text.size().
size_t FindMarkup(absl::string_view text, size_t pos, int32_t* id) {
  *id = -1;
  while (pos < text.size()) {
    pos = text.find('<', pos);
    if (pos == absl::string_view::npos) return text.size();
    *id = MatchMarkup(text, pos);
    if (*id >= 0) return pos;
    ++pos;
  }
  return text.size();
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string Quote(absl::string_view markup) { return absl::StrCat("'", markup, "'"); }

class Parser {
 public:
  Parser(absl::string_view text, size_t base, ParsedAssistantOutput* out)
      : text_(text), base_(base), out_(out) {}

  void Run() {
    int32_t id;
    const size_t at = FindMarkup(text_, 0, &id);
    out_->content = std::string(text_.substr(0, at));
    pos_ = at;
    if (id < 0) return;  // plain content, no markup
    if (id == kEosId) return ExpectEnd(kEosId);
    if (id != kFunctionCallsId) {
      Fail(absl::StrCat("unexpected ", Quote(SpecialTokenText(id)),
                        " in the answer; only <function_calls> may follow the content"));
      return;
    }
    pos_ += SpecialTokenText(kFunctionCallsId).size();
    if (!ParseCalls()) return;
    SkipSpace();
    if (MatchMarkup(text_, pos_) == kEosId) return ExpectEnd(kEosId);
    if (pos_ < text_.size()) Fail("text after </function_calls>: the turn must end there");
  }

 private:
  // Consumes the markup `id` at pos_, then requires that only whitespace follows.
  void ExpectEnd(int32_t id) {
    pos_ += SpecialTokenText(id).size();
    SkipSpace();
    if (pos_ < text_.size()) Fail(absl::StrCat("text after ", SpecialTokenText(id)));
  }

  bool ParseCalls() {
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size()) return Fail("unclosed <function_calls>: missing </function_calls>");
      const int32_t id = MatchMarkup(text_, pos_);
      if (id == kInvokeId) {
        if (!ParseInvoke()) return false;
        continue;
      }
      if (id == kEndFunctionCallsId) {
        if (out_->tool_calls.empty()) return Fail("empty <function_calls> block: no <invoke>");
        pos_ += SpecialTokenText(id).size();
        return true;
      }
      if (id == kParameterId) return Fail("<parameter> outside <invoke>");
      if (id >= 0) {
        return Fail(absl::StrCat("unexpected ", Quote(SpecialTokenText(id)),
                                 " inside <function_calls>; expected <invoke name=\"...\">"));
      }
      return Fail("unexpected text inside <function_calls>; expected <invoke name=\"...\">");
    }
  }

  // At `<invoke name="`.
  bool ParseInvoke() {
    pos_ += SpecialTokenText(kInvokeId).size();
    ToolCall call;
    if (!ParseName("tool name", &call.name)) return false;
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size()) return Fail("unclosed <invoke>: missing </invoke>");
      const int32_t id = MatchMarkup(text_, pos_);
      if (id == kParameterId) {
        if (!ParseParameter(&call)) return false;
        continue;
      }
      if (id == kEndInvokeId) {
        pos_ += SpecialTokenText(id).size();
        out_->tool_calls.push_back(std::move(call));
        return true;
      }
      if (id >= 0) {
        return Fail(absl::StrCat("unexpected ", Quote(SpecialTokenText(id)),
                                 " inside <invoke name=\"", call.name, "\">; missing </invoke>?"));
      }
      return Fail(absl::StrCat("unexpected text inside <invoke name=\"", call.name,
                               "\">; expected <parameter name=\"...\"> or </invoke>"));
    }
  }

  // At `<parameter name="`.
  bool ParseParameter(ToolCall* call) {
    pos_ += SpecialTokenText(kParameterId).size();
    std::string key;
    const size_t key_start = pos_;
    if (!ParseName("parameter name", &key)) return false;
    if (call->Find(key) != nullptr) {
      pos_ = key_start;
      return Fail(absl::StrCat("duplicate parameter \"", key, "\" in call to ", call->name));
    }
    int32_t id;
    const size_t end = FindMarkup(text_, pos_, &id);
    if (id < 0) {
      pos_ = end;
      return Fail(absl::StrCat("unclosed <parameter name=\"", key, "\">: missing </parameter>"));
    }
    if (id != kEndParameterId) {
      pos_ = end;
      return Fail(absl::StrCat("unexpected ", Quote(SpecialTokenText(id)),
                               " inside the value of \"", key, "\"; missing </parameter>?"));
    }
    call->arguments.emplace_back(std::move(key), std::string(text_.substr(pos_, end - pos_)));
    pos_ = end + SpecialTokenText(kEndParameterId).size();
    return true;
  }

  // Reads NAME`">` (after the opening quote).
  bool ParseName(absl::string_view what, std::string* name) {
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      const char c = text_[pos_];
      if (c == '<' || c == '>' || IsSpace(c)) {
        return Fail(absl::StrCat("malformed ", what, ": unexpected character '", std::string(1, c),
                                 "' before the closing '\"'"));
      }
      ++pos_;
    }
    if (pos_ >= text_.size()) return Fail(absl::StrCat("unterminated ", what));
    *name = std::string(text_.substr(start, pos_ - start));
    if (name->empty()) return Fail(absl::StrCat("missing ", what));
    ++pos_;  // the quote
    if (pos_ >= text_.size() || text_[pos_] != '>') {
      return Fail(absl::StrCat("expected '\">' after the ", what, " \"", *name, "\""));
    }
    ++pos_;
    return true;
  }

  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }

  // Records the error at pos_; returns false so callers can `return Fail(...)`.
  bool Fail(std::string message) {
    const absl::string_view near = text_.substr(std::min(pos_, text_.size()), 24);
    if (!near.empty()) absl::StrAppend(&message, " (at \"", SanitizeUtf8(near), "\")");
    out_->error = ParseError{std::move(message), base_ + pos_};
    return false;
  }

  absl::string_view text_;
  size_t base_;
  ParsedAssistantOutput* out_;
  size_t pos_ = 0;
};

}  // namespace

ParsedAssistantOutput ParseContentAndToolCalls(absl::string_view text, size_t base_position) {
  ParsedAssistantOutput out;
  Parser(text, base_position, &out).Run();
  return out;
}

ParsedAssistantOutput ParseAssistantOutput(absl::string_view text, const ParseOptions& options) {
  const absl::string_view think = SpecialTokenText(kThinkId);
  const absl::string_view end_think = SpecialTokenText(kEndThinkId);
  size_t start = 0;
  bool in_reasoning = options.starts_in_reasoning;
  if (absl::StartsWith(text, think)) {
    start = think.size();
    in_reasoning = true;
  }
  if (!in_reasoning) return ParseContentAndToolCalls(text, 0);

  const size_t close = text.find(end_think, start);
  if (close == absl::string_view::npos) {
    ParsedAssistantOutput out;
    absl::string_view reasoning = text.substr(start);
    const absl::string_view eos = SpecialTokenText(kEosId);
    if (absl::EndsWith(reasoning, eos)) reasoning.remove_suffix(eos.size());
    out.reasoning = std::string(reasoning);
    out.error = ParseError{"unclosed <think>: the turn ended inside the reasoning", text.size()};
    return out;
  }
  const size_t after = close + end_think.size();
  ParsedAssistantOutput out = ParseContentAndToolCalls(text.substr(after), after);
  out.reasoning = std::string(text.substr(start, close - start));
  out.reasoning_closed = true;
  return out;
}

}  // namespace dsarl::model
