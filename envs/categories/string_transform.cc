// string_transform: apply one to three text transformations (reverse, case, vowels, rotation,
// doubling, word order) to a word or phrase. Answers are compared byte-exact: case matters.
#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "envs/categories/categories.h"
#include "envs/names.h"
#include "envs/single_turn.h"

namespace dsarl::envs {
namespace {

struct Transform {
  const char* description;  // "reverse it"
  std::string (*apply)(const std::string&);
};

std::string Reverse(const std::string& s) { return std::string(s.rbegin(), s.rend()); }
std::string Upper(const std::string& s) { return absl::AsciiStrToUpper(s); }
std::string Lower(const std::string& s) { return absl::AsciiStrToLower(s); }
std::string NoVowels(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string("aeiouAEIOU").find(c) == std::string::npos) out += c;
  }
  return out;
}
std::string SwapCase(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    c = absl::ascii_isupper(c) ? absl::ascii_tolower(c) : absl::ascii_toupper(c);
  }
  return out;
}
std::string RotateLeft(const std::string& s) { return s.size() < 2 ? s : s.substr(1) + s[0]; }
std::string Double(const std::string& s) {
  std::string out;
  for (char c : s) out += std::string(2, c);
  return out;
}
std::string ReverseWords(const std::string& s) {
  std::vector<std::string> w = absl::StrSplit(s, ' ');
  std::reverse(w.begin(), w.end());
  return absl::StrJoin(w, " ");
}
std::string Capitalize(const std::string& s) {
  std::vector<std::string> w = absl::StrSplit(s, ' ');
  for (std::string& x : w) {
    if (!x.empty()) x[0] = absl::ascii_toupper(x[0]);
  }
  return absl::StrJoin(w, " ");
}

const Transform kWordTransforms[] = {
    {"reverse it", Reverse},
    {"write it in upper case", Upper},
    {"remove every vowel", NoVowels},
    {"move its first letter to the end", RotateLeft},
    {"write every letter twice", Double},
};
const Transform kPhraseTransforms[] = {
    {"reverse the order of the words", ReverseWords},
    {"capitalize every word", Capitalize},
    {"swap the case of every letter", SwapCase},
    {"write it in lower case", Lower},
    {"reverse it", Reverse},
    {"remove every vowel", NoVowels},
};

class StringTransformEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    return std::unique_ptr<Environment>(new StringTransformEnv(spec, static_cast<int>(style)));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    std::string text;
    const int words = level <= 1 ? 1 : (level == 2 ? 2 : 3);
    for (int i = 0; i < words; ++i) {
      std::string w = rng.Pick(CommonWords());
      if (level == 0) w = w.substr(0, 3 + rng.Index(2));  // short: 3-4 letters
      if (level >= 3 && rng.Chance(0.5)) w[0] = absl::ascii_toupper(w[0]);
      absl::StrAppend(&text, i ? " " : "", w);
    }
    const int steps = level <= 2 ? 1 : level - 1;
    std::string result = text;
    std::vector<std::string> said;
    for (int i = 0; i < steps; ++i) {
      const Transform& t = words == 1 ? rng.Pick(kWordTransforms) : rng.Pick(kPhraseTransforms);
      result = t.apply(result);
      said.push_back(t.description);
    }
    static constexpr const char* kIntro[] = {"Take \"%s\"", "Start from \"%s\"", "Given \"%s\"",
                                             "With the text \"%s\""};
    std::string user = kIntro[style_];
    user.replace(user.find("%s"), 2, text);
    absl::StrAppend(&user, ", ", absl::StrJoin(said, ", then "), ". What is the result?");
    return Problem{user, result, AnswerMatch::kExact};
  }

 private:
  StringTransformEnv(const proto::EnvSpec& spec, int style)
      : SingleTurnEnvironment(spec, SingleTurnSystem("Transform the text as asked.", style)),
        style_(style) {}
  int style_;
};

}  // namespace

Category StringTransformCategory() {
  return SingleTurnCategory<StringTransformEnv>(
      "string_transform", "reverse, change case, drop vowels, rotate; chained at higher levels");
}

}  // namespace dsarl::envs
