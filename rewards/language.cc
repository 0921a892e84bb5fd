// Script classification and the language-consistency reward (see language.h).
#include "rewards/language.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"

namespace dsarl::rewards {
namespace {

constexpr Script kNamedScripts[] = {Script::kLatin,  Script::kGreek,  Script::kCyrillic,
                                    Script::kHebrew, Script::kArabic, Script::kDevanagari,
                                    Script::kThai,   Script::kCjk};

struct Range {
  char32_t lo, hi;
  Script script;
};

// Letter blocks by script (ranges inclusive, sorted). Code points outside them and outside
// kIgnored are letters of some other script.
constexpr Range kLetters[] = {
    {0x00C0, 0x00D6, Script::kLatin},    {0x00D8, 0x00F6, Script::kLatin},
    {0x00F8, 0x02AF, Script::kLatin},    {0x0370, 0x03FF, Script::kGreek},
    {0x0400, 0x052F, Script::kCyrillic}, {0x0590, 0x05FF, Script::kHebrew},
    {0x0600, 0x06FF, Script::kArabic},   {0x0750, 0x077F, Script::kArabic},
    {0x08A0, 0x08FF, Script::kArabic},   {0x0900, 0x097F, Script::kDevanagari},
    {0x0E00, 0x0E7F, Script::kThai},     {0x1100, 0x11FF, Script::kCjk},
    {0x1E00, 0x1EFF, Script::kLatin},    {0x1F00, 0x1FFF, Script::kGreek},
    {0x3040, 0x30FF, Script::kCjk},      {0x3100, 0x318F, Script::kCjk},
    {0x31F0, 0x31FF, Script::kCjk},      {0x3400, 0x4DBF, Script::kCjk},
    {0x4E00, 0x9FFF, Script::kCjk},      {0xAC00, 0xD7AF, Script::kCjk},
    {0xF900, 0xFAFF, Script::kCjk},      {0xFF66, 0xFF9F, Script::kCjk},
    {0x20000, 0x2FFFF, Script::kCjk},
};

// Not letters: Latin-1 symbols, spacing modifiers and combining marks, general punctuation
// through miscellaneous symbols and arrows, CJK punctuation, fullwidth forms, specials, emoji and
// other pictographs, private use, tags and variation selectors.
constexpr Range kIgnored[] = {
    {0x0080, 0x00BF, Script::kOther},    {0x00D7, 0x00D7, Script::kOther},
    {0x00F7, 0x00F7, Script::kOther},    {0x02B0, 0x036F, Script::kOther},
    {0x2000, 0x2BFF, Script::kOther},    {0x3000, 0x303F, Script::kOther},
    {0xD800, 0xF8FF, Script::kOther},    {0xFE00, 0xFE0F, Script::kOther},
    {0xFE30, 0xFE4F, Script::kOther},    {0xFF00, 0xFF65, Script::kOther},
    {0xFFA0, 0xFFFF, Script::kOther},    {0x1F000, 0x1FAFF, Script::kOther},
    {0xE0000, 0x10FFFF, Script::kOther},
};

// Decodes one UTF-8 character at text[*i]; advances *i. Returns false (advancing one byte) for an
// invalid sequence: bad lead byte, truncated, overlong, surrogate or beyond U+10FFFF.
bool DecodeUtf8(absl::string_view text, size_t* i, char32_t* cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(*i);
  int len = 0;
  char32_t min = 0;
  if (b0 < 0x80) {
    *cp = b0;
    ++*i;
    return true;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, min = 0x80, *cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, min = 0x800, *cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, *cp = b0 & 0x07;
  } else {
    ++*i;
    return false;
  }
  if (*i + len > text.size()) {
    ++*i;
    return false;
  }
  for (int k = 1; k < len; ++k) {
    if ((byte(*i + k) & 0xC0) != 0x80) {
      ++*i;
      return false;
    }
    *cp = (*cp << 6) | (byte(*i + k) & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) {
    ++*i;
    return false;
  }
  *i += len;
  return true;
}

enum class Fields { kAll, kReasoning, kContent };

class Language : public SampleRewardFunction {
 public:
  Language(std::set<Script> targets, Fields fields, std::optional<double> threshold)
      : targets_(std::move(targets)), fields_(fields), threshold_(threshold) {}

  absl::StatusOr<Components> Score(const proto::Prompt& task, const Sample& sample) const override {
    std::set<Script> targets = targets_;
    if (targets.empty()) {
      std::optional<Script> dominant = DominantScript(CountScripts(task.user()));
      if (!dominant.has_value()) {
        return Components{Component::NotApplicable("the user message has no letters")};
      }
      targets.insert(*dominant);
    }
    ScriptCounts counts;
    for (const Message* m : AssistantMessages(sample)) {
      if (fields_ != Fields::kContent) Add(CountScripts(m->reasoning), &counts);
      if (fields_ != Fields::kReasoning) Add(CountScripts(m->content), &counts);
    }
    const int64_t total = counts.total_letters() + counts.invalid_bytes;
    if (total == 0) return Components{Component::NotApplicable("no letters")};
    int64_t in_target = 0;
    std::vector<std::string> parts;
    for (const auto& [script, n] : counts.letters) {
      if (targets.count(script)) in_target += n;
      parts.push_back(absl::StrCat(ScriptName(script), " ", n));
    }
    if (counts.invalid_bytes > 0) parts.push_back(absl::StrCat("invalid ", counts.invalid_bytes));
    std::vector<std::string> target_names;
    for (Script s : targets) target_names.push_back(ScriptName(s));
    const double share = static_cast<double>(in_target) / static_cast<double>(total);
    std::string details = absl::StrFormat("%.3f %s (%s)", share, absl::StrJoin(target_names, "+"),
                                          absl::StrJoin(parts, ", "));
    if (!threshold_.has_value()) return Components{Component::Value(share, std::move(details))};
    return Components{Component::Value(share >= *threshold_ ? 1 : 0, std::move(details))};
  }

 private:
  static void Add(const ScriptCounts& from, ScriptCounts* to) {
    for (const auto& [script, n] : from.letters) to->letters[script] += n;
    to->invalid_bytes += from.invalid_bytes;
  }

  std::set<Script> targets_;  // empty: auto
  Fields fields_;
  std::optional<double> threshold_;
};

}  // namespace

const char* ScriptName(Script script) {
  switch (script) {
    case Script::kLatin:
      return "latin";
    case Script::kGreek:
      return "greek";
    case Script::kCyrillic:
      return "cyrillic";
    case Script::kHebrew:
      return "hebrew";
    case Script::kArabic:
      return "arabic";
    case Script::kDevanagari:
      return "devanagari";
    case Script::kThai:
      return "thai";
    case Script::kCjk:
      return "cjk";
    case Script::kOther:
      return "other";
  }
  return "other";
}

std::optional<Script> ParseScript(absl::string_view name) {
  for (Script s : kNamedScripts) {
    if (name == ScriptName(s)) return s;
  }
  return std::nullopt;
}

std::optional<Script> ScriptOf(char32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return Script::kLatin;
    return std::nullopt;
  }
  for (const Range& r : kIgnored) {
    if (cp >= r.lo && cp <= r.hi) return std::nullopt;
  }
  for (const Range& r : kLetters) {
    if (cp >= r.lo && cp <= r.hi) return r.script;
  }
  return Script::kOther;
}

int64_t ScriptCounts::total_letters() const {
  int64_t n = 0;
  for (const auto& [script, count] : letters) n += count;
  return n;
}

ScriptCounts CountScripts(absl::string_view text) {
  ScriptCounts counts;
  size_t i = 0;
  while (i < text.size()) {
    char32_t cp = 0;
    if (!DecodeUtf8(text, &i, &cp)) {
      ++counts.invalid_bytes;
      continue;
    }
    if (std::optional<Script> s = ScriptOf(cp)) ++counts.letters[*s];
  }
  return counts;
}

std::optional<Script> DominantScript(const ScriptCounts& counts) {
  std::optional<Script> best;
  int64_t best_n = 0;
  for (const auto& [script, n] : counts.letters) {  // enum order: ties go to the earlier one
    if (n > best_n) best = script, best_n = n;
  }
  return best;
}

absl::StatusOr<std::unique_ptr<RewardFunction>> NewLanguage(const Params& params) {
  std::set<Script> targets;
  const std::string script = params.String("script", "auto");
  if (script != "auto") {
    for (absl::string_view name : absl::StrSplit(script, ',', absl::SkipWhitespace())) {
      std::optional<Script> s = ParseScript(absl::StripAsciiWhitespace(name));
      if (!s.has_value()) {
        return params.Error("script", absl::StrCat("unknown script '", name,
                                                   "'; expected auto or a list of latin, greek, "
                                                   "cyrillic, hebrew, arabic, devanagari, thai, "
                                                   "cjk"));
      }
      targets.insert(*s);
    }
    if (targets.empty()) return params.Error("script", "is empty");
  }
  Fields fields = Fields::kAll;
  const std::string f = params.String("fields", "all");
  if (f == "reasoning") {
    fields = Fields::kReasoning;
  } else if (f == "content") {
    fields = Fields::kContent;
  } else if (f != "all") {
    return params.Error("fields", absl::StrCat("'", f, "': expected all, reasoning or content"));
  }
  std::optional<double> threshold;
  if (params.Has("threshold")) {
    ASSIGN_OR_RETURN(threshold, params.Double("threshold", 0));
  }
  return std::make_unique<Language>(std::move(targets), fields, threshold);
}

}  // namespace dsarl::rewards
