// The small helpers of reward.h.
#include "rewards/reward.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace dsarl::rewards {

int CountToolCalls(const Sample& sample) {
  int n = 0;
  for (const Message& m : sample.messages) {
    if (m.role == Role::kAssistant) n += static_cast<int>(m.tool_calls.size());
  }
  return n;
}

int CountToolErrors(const Sample& sample) {
  int n = 0;
  for (const Message& m : sample.messages) {
    if (m.role == Role::kTool && m.is_error) ++n;
  }
  return n;
}

std::vector<const Message*> AssistantMessages(const Sample& sample) {
  std::vector<const Message*> out;
  for (const Message& m : sample.messages) {
    if (m.role == Role::kAssistant) out.push_back(&m);
  }
  return out;
}

std::string Snippet(absl::string_view text, size_t max_bytes) {
  size_t n = text.size();
  bool cut = false;
  if (n > max_bytes) {
    n = max_bytes;
    // Back up over UTF-8 continuation bytes so a character is never split.
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    cut = true;
  }
  std::string out = "\"";
  for (char c : text.substr(0, n)) {
    if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  out += cut ? "...\"" : "\"";
  return out;
}

Component Component::Value(double value, std::string details, std::string name) {
  return Component{
      .name = std::move(name), .value = value, .applicable = true, .details = std::move(details)};
}

Component Component::NotApplicable(std::string details, std::string name) {
  return Component{
      .name = std::move(name), .value = 0, .applicable = false, .details = std::move(details)};
}

absl::StatusOr<std::vector<Components>> SampleRewardFunction::ScoreGroup(
    const proto::Prompt& task, absl::Span<const Sample> samples) const {
  std::vector<Components> out;
  out.reserve(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    absl::StatusOr<Components> c = Score(task, samples[i]);
    if (!c.ok()) return Annotate(c.status(), absl::StrCat("sample ", i));
    out.push_back(*std::move(c));
  }
  return out;
}

}  // namespace dsarl::rewards
