// Fuzzes the chat format (model/chat_format.h) in the direction that reads: tokens back into a
// message. A rollout decodes the ids the policy generated (Tokenizer::Decode) and parses the text
// (ParseAssistantOutput); this target feeds both arbitrary ids, and checks that a turn rendered by
// the chat format parses back to the very message that was rendered.
//
// The first byte picks the input's form:
//   0: text, tokenized as a trusted solution is (EncodeWithSpecials), then decoded and parsed;
//   1: token ids, two bytes each, little-endian and signed (unused, negative, too large: any id);
//   2: a message, fields separated by NUL bytes: reasoning, content, then per tool call a field
//      "@NAME" followed by KEY, VALUE fields; rendered, decoded and parsed back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/utf8.h"
#include "model/chat_format.h"
#include "model/tokenizer.h"
#include "model/tool_call_parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace dsarl::fuzz {
namespace {

using model::Tokenizer;

// Decodes `ids` as a rollout does and parses the turn; only the parser's own checks apply.
void DecodeAndParse(const std::vector<int32_t>& ids) {
  const Tokenizer tok;
  const std::string text = tok.Decode(ids);
  Require(IsValidUtf8(tok.DecodeForDisplay(ids)), "DecodeForDisplay wrote invalid UTF-8");
  const model::ParsedAssistantOutput out = model::ParseAssistantOutput(text);
  if (out.error) Require(out.error->position <= text.size(), "error position past the end");
  model::RenderedTokens sequence;
  sequence.Append(ids, 1);
  const absl::Status appended = model::AppendToolResults({"out"}, &sequence);
  Require(appended.ok() == (!ids.empty() && ids.back() == model::kEosId),
          "AppendToolResults accepts exactly a sequence ending with <eos>");
  Require(sequence.ids.size() == sequence.loss_mask.size(), "ids and mask lengths differ");
}

void FuzzText(absl::string_view text) {
  const Tokenizer tok;
  Require(tok.Decode(tok.Encode(text)) == text, "Decode(Encode(s)) != s");
  const std::vector<int32_t> ids = tok.EncodeWithSpecials(text);
  Require(tok.Decode(ids) == text, "Decode(EncodeWithSpecials(s)) != s");
  DecodeAndParse(ids);
}

void FuzzIds(absl::string_view bytes) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
    const auto lo = static_cast<uint8_t>(bytes[i]), hi = static_cast<uint8_t>(bytes[i + 1]);
    ids.push_back(static_cast<int16_t>(static_cast<uint16_t>(lo | (hi << 8))));
  }
  for (const int32_t id : ids) Tokenizer().TokenToString(id);
  DecodeAndParse(ids);
}

// True when `s` contains the text of a special token, which plain text cannot carry through the
// decoded form (tool_call_parser.h, Limitation).
bool HasMarkup(absl::string_view s) {
  for (int32_t id = model::kFirstSpecialId; id < model::kNumTokens; ++id) {
    if (absl::StrContains(s, model::SpecialTokenText(id))) return true;
  }
  return false;
}

bool IsName(absl::string_view s) {
  return !s.empty() && s.find_first_of("\"<> \t\n\r") == absl::string_view::npos;
}

// The message of form 2, and whether the format can carry it through text unchanged.
Message BuildMessage(absl::string_view bytes, bool* representable) {
  const std::vector<absl::string_view> fields = absl::StrSplit(bytes, '\0');
  Message m = Message::Assistant(std::string(fields[0]),
                                 fields.size() > 1 ? std::string(fields[1]) : std::string());
  *representable = !HasMarkup(m.reasoning) && !HasMarkup(m.content);
  for (size_t i = 2; i < fields.size(); ++i) {
    if (absl::StartsWith(fields[i], "@") || m.tool_calls.empty()) {
      const absl::string_view name = absl::StripPrefix(fields[i], "@");
      m.tool_calls.push_back(ToolCall{std::string(name), {}});
      *representable = *representable && IsName(name);
      if (absl::StartsWith(fields[i], "@")) continue;
    }
    const absl::string_view key = fields[i];
    const absl::string_view value = i + 1 < fields.size() ? fields[++i] : "";
    ToolCall& call = m.tool_calls.back();
    *representable =
        *representable && IsName(key) && call.Find(key) == nullptr && !HasMarkup(value);
    call.arguments.emplace_back(std::string(key), std::string(value));
  }
  return m;
}

// `m` as the answer to a user message, followed by one result per call: the prompt is all
// context and a prefix of the conversation, which trains on exactly the tokens of the turn.
void CheckConversation(const Message& m, const model::RenderedTokens& turn) {
  model::Conversation c;
  c.system = "Answer.";
  bool named = true;
  for (const ToolCall& call : m.tool_calls) {
    c.tools.emplace_back().set_name(call.name);
    named = named && !call.name.empty();
  }
  c.messages = {Message::User(m.content)};
  const absl::StatusOr<model::RenderedTokens> prompt = model::RenderForGeneration(c);
  Require(prompt.ok(), "a one-question prompt does not render");
  Require(prompt->ids.back() == model::kThinkId, "a prompt does not end with <think>");
  for (const int32_t mask : prompt->loss_mask) Require(mask == 0, "a prompt token is trained");
  c.messages.push_back(m);
  for (const ToolCall& call : m.tool_calls) c.messages.push_back(Message::Tool(call.name));
  const absl::StatusOr<model::RenderedTokens> all = model::RenderConversation(c);
  Require(all.ok() == named, "RenderConversation refuses exactly a call without a name");
  if (!all.ok()) return;
  Require(all->ids.size() == all->loss_mask.size(), "ids and mask lengths differ");
  Require(prompt->size() < all->size() &&
              std::equal(prompt->ids.begin(), prompt->ids.end(), all->ids.begin()),
          "the prompt is not a prefix of the conversation");
  std::vector<int32_t> trained;
  for (size_t i = 0; i < all->size(); ++i) {
    if (all->loss_mask[i] == 1) trained.push_back(all->ids[i]);
  }
  Require(trained == turn.ids, "the trained tokens are not the assistant's turn");
}

void FuzzMessage(absl::string_view bytes) {
  bool representable = false;
  const Message m = BuildMessage(bytes, &representable);
  const model::RenderedTokens turn = model::RenderAssistantOutput(m);
  Require(turn.ids.size() == turn.loss_mask.size(), "ids and mask lengths differ");
  Require(!turn.ids.empty() && turn.ids.back() == model::kEosId, "a turn does not end with <eos>");
  const model::ParsedAssistantOutput out =
      model::ParseAssistantOutput(Tokenizer().Decode(turn.ids));
  if (representable) {
    Require(!out.error, "a rendered turn does not parse", out.error ? out.error->message : "");
    Require(out.reasoning == m.reasoning, "reasoning changed through the format");
    Require(out.content == m.content, "content changed through the format");
    Require(out.tool_calls == m.tool_calls, "tool calls changed through the format");
  }
  CheckConversation(m, turn);
}

}  // namespace
}  // namespace dsarl::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      dsarl::fuzz::FuzzText(rest);
      break;
    case 1:
      dsarl::fuzz::FuzzIds(rest);
      break;
    default:
      dsarl::fuzz::FuzzMessage(rest);
      break;
  }
  return 0;
}
