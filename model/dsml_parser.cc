// Recursive-descent parser over the decoded text of one DSML assistant turn. Every read is
// bounds-checked; every failure records a ParseError with the byte offset where it was found.
#include "model/dsml_parser.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/utf8.h"
#include "model/chat_format_dsv32.h"

namespace dsarl::model {
namespace {

constexpr absl::string_view kDsmlOpen = "<｜DSML｜";
constexpr absl::string_view kDsmlClose = "</｜DSML｜";
constexpr absl::string_view kMarkup[] = {kDsv32Bos,   kDsv32Eos,      kDsv32User, kDsv32Assistant,
                                         kDsv32Think, kDsv32EndThink, kDsmlOpen,  kDsmlClose};

bool IsMarkupAt(absl::string_view text, size_t pos) {
  if (pos >= text.size() || text[pos] != '<') return false;
  const absl::string_view rest = text.substr(pos);
  return std::any_of(std::begin(kMarkup), std::end(kMarkup),
                     [&](absl::string_view m) { return absl::StartsWith(rest, m); });
}

// Position of the next markup at or after `pos`, or text.size().
size_t FindMarkup(absl::string_view text, size_t pos) {
  while (pos < text.size()) {
    pos = text.find('<', pos);
    if (pos == absl::string_view::npos) return text.size();
    if (IsMarkupAt(text, pos)) return pos;
    ++pos;
  }
  return text.size();
}

// The markup at text[pos], for messages: a token's text, or a DSML tag up to its '>' (or
// `name="`), at most 48 bytes.
std::string MarkupAt(absl::string_view text, size_t pos) {
  const absl::string_view rest = text.substr(pos);
  for (absl::string_view m : kMarkup) {
    if (!absl::StartsWith(rest, m)) continue;
    if (m != kDsmlOpen && m != kDsmlClose) return absl::StrCat("'", m, "'");
    size_t end = rest.find_first_of(">\"", m.size());
    end = end == absl::string_view::npos ? rest.size() : end + 1;
    return absl::StrCat("'", SanitizeUtf8(rest.substr(0, std::min<size_t>(end, 48))), "'");
  }
  return "text";
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class Parser {
 public:
  Parser(absl::string_view text, size_t base, ParsedAssistantOutput* out)
      : text_(text), base_(base), out_(out) {}

  void Run() {
    pos_ = FindMarkup(text_, 0);
    out_->content = std::string(text_.substr(0, pos_));
    if (pos_ >= text_.size()) {
      Fail(absl::StrCat("missing ", kDsv32Eos, ": the turn did not end"));
      return;
    }
    const absl::string_view rest = text_.substr(pos_);
    if (absl::StartsWith(rest, kDsv32Eos)) return ExpectEnd();
    if (!absl::StartsWith(rest, kDsmlFunctionCalls)) {
      Fail(absl::StrCat("unexpected ", MarkupAt(text_, pos_), " in the answer; only ",
                        kDsmlFunctionCalls, " or ", kDsv32Eos, " may follow the content"));
      return;
    }
    if (absl::EndsWith(out_->content, "\n\n")) out_->content.resize(out_->content.size() - 2);
    pos_ += kDsmlFunctionCalls.size();
    if (!ParseCalls()) return;
    SkipSpace();
    if (absl::StartsWith(text_.substr(pos_), kDsv32Eos)) return ExpectEnd();
    if (pos_ >= text_.size()) {
      Fail(absl::StrCat("missing ", kDsv32Eos, " after ", kDsmlEndFunctionCalls));
      return;
    }
    Fail(absl::StrCat("text after ", kDsmlEndFunctionCalls, ": the turn must end there"));
  }

 private:
  // At the end token: consumes it, then requires that only whitespace follows.
  void ExpectEnd() {
    pos_ += kDsv32Eos.size();
    SkipSpace();
    if (pos_ < text_.size()) Fail(absl::StrCat("text after ", kDsv32Eos));
  }

  bool ParseCalls() {
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size()) {
        return Fail(
            absl::StrCat("unclosed ", kDsmlFunctionCalls, ": missing ", kDsmlEndFunctionCalls));
      }
      const absl::string_view rest = text_.substr(pos_);
      if (absl::StartsWith(rest, kDsmlInvoke)) {
        if (!ParseInvoke()) return false;
        continue;
      }
      if (absl::StartsWith(rest, kDsmlEndFunctionCalls)) {
        if (out_->tool_calls.empty()) return Fail("empty function_calls block: no invoke");
        pos_ += kDsmlEndFunctionCalls.size();
        return true;
      }
      if (absl::StartsWith(rest, kDsmlParameter)) return Fail("parameter outside an invoke");
      return Fail(absl::StrCat("unexpected ", MarkupAt(text_, pos_),
                               " inside function_calls; expected ", kDsmlInvoke, "...\">"));
    }
  }

  // At `<｜DSML｜invoke name="`.
  bool ParseInvoke() {
    pos_ += kDsmlInvoke.size();
    ToolCall call;
    if (!ParseName("tool name", "\">", &call.name)) return false;
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size()) {
        return Fail(absl::StrCat("unclosed invoke of ", call.name, ": missing ", kDsmlEndInvoke));
      }
      const absl::string_view rest = text_.substr(pos_);
      if (absl::StartsWith(rest, kDsmlParameter)) {
        if (!ParseParameter(&call)) return false;
        continue;
      }
      if (absl::StartsWith(rest, kDsmlEndInvoke)) {
        pos_ += kDsmlEndInvoke.size();
        out_->tool_calls.push_back(std::move(call));
        return true;
      }
      return Fail(absl::StrCat("unexpected ", MarkupAt(text_, pos_), " inside the invoke of ",
                               call.name, "; expected a parameter or ", kDsmlEndInvoke));
    }
  }

  // At `<｜DSML｜parameter name="`.
  bool ParseParameter(ToolCall* call) {
    pos_ += kDsmlParameter.size();
    const size_t key_start = pos_;
    std::string key;
    if (!ParseName("parameter name", "\" string=\"", &key)) return false;
    if (call->Find(key) != nullptr) {
      pos_ = key_start;
      return Fail(absl::StrCat("duplicate parameter \"", key, "\" in the call to ", call->name));
    }
    bool is_string;
    if (absl::StartsWith(text_.substr(pos_), "true\">")) {
      is_string = true;
      pos_ += 6;
    } else if (absl::StartsWith(text_.substr(pos_), "false\">")) {
      is_string = false;
      pos_ += 7;
    } else {
      return Fail(absl::StrCat("malformed parameter \"", key,
                               "\": expected string=\"true\"> or string=\"false\">"));
    }
    const size_t value_start = pos_;
    const size_t end = FindMarkup(text_, pos_);
    pos_ = end;
    if (end >= text_.size()) {
      return Fail(absl::StrCat("unclosed parameter \"", key, "\": missing ", kDsmlEndParameter));
    }
    if (!absl::StartsWith(text_.substr(end), kDsmlEndParameter)) {
      return Fail(absl::StrCat("unexpected ", MarkupAt(text_, end), " inside the value of \"", key,
                               "\"; missing ", kDsmlEndParameter, "?"));
    }
    std::string value(text_.substr(value_start, end - value_start));
    if (!is_string) {
      const absl::StatusOr<Json> json = ParseJson(value);
      if (!json.ok()) {
        pos_ = value_start;
        return Fail(absl::StrCat("the value of \"", key,
                                 "\" has string=\"false\" but is not JSON (",
                                 json.status().message(), ")"));
      }
    }
    call->arguments.emplace_back(std::move(key), std::move(value));
    pos_ = end + kDsmlEndParameter.size();
    return true;
  }

  // Reads NAME up to its closing '"', then requires `after` (which starts with that quote).
  bool ParseName(absl::string_view what, absl::string_view after, std::string* name) {
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
    if (!absl::StartsWith(text_.substr(pos_), after)) {
      return Fail(absl::StrCat("expected '", after, "' after the ", what, " \"", *name, "\""));
    }
    pos_ += after.size();
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

ParsedAssistantOutput ParseDsmlAssistantOutput(absl::string_view text,
                                               const ParseOptions& options) {
  ParsedAssistantOutput out;
  size_t start = 0;
  bool in_reasoning = options.starts_in_reasoning;
  if (absl::StartsWith(text, kDsv32Think)) {
    start = kDsv32Think.size();
    in_reasoning = true;
  }
  if (!in_reasoning) {
    Parser(text, 0, &out).Run();
    return out;
  }
  const size_t close = text.find(kDsv32EndThink, start);
  const size_t eos = text.find(kDsv32Eos, start);
  if (close == absl::string_view::npos || (eos != absl::string_view::npos && eos < close)) {
    const size_t end = std::min(eos, text.size());
    out.reasoning = std::string(text.substr(start, end - start));
    out.error = ParseError{"unclosed <think>: the turn ended inside the reasoning", end};
    return out;
  }
  const size_t after = close + kDsv32EndThink.size();
  Parser(text.substr(after), after, &out).Run();
  out.reasoning = std::string(text.substr(start, close - start));
  out.reasoning_closed = true;
  return out;
}

Message ParseDsmlMessage(absl::string_view text, const ParseOptions& options) {
  ParsedAssistantOutput parsed = ParseDsmlAssistantOutput(text, options);
  Message m = Message::Assistant(std::move(parsed.reasoning), std::move(parsed.content),
                                 std::move(parsed.tool_calls));
  m.raw_text = std::string(text);
  if (parsed.error) m.parse_error = parsed.error->message;
  return m;
}

}  // namespace dsarl::model
