// cipher: encode or decode with Caesar shifts, Atbash and (at the top level) Vigenere.
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "envs/categories/categories.h"
#include "envs/names.h"
#include "envs/single_turn.h"

namespace dsarl::envs {
namespace {

char Shift(char c, int k) {
  if (!absl::ascii_islower(c)) return c;
  return static_cast<char>('a' + ((c - 'a' + k) % 26 + 26) % 26);
}

std::string Caesar(const std::string& s, int k) {
  std::string out = s;
  for (char& c : out) c = Shift(c, k);
  return out;
}

std::string Atbash(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (absl::ascii_islower(c)) c = static_cast<char>('z' - (c - 'a'));
  }
  return out;
}

std::string Vigenere(const std::string& s, const std::string& key, int sign) {
  std::string out = s;
  size_t j = 0;
  for (char& c : out) {
    if (!absl::ascii_islower(c)) continue;
    c = Shift(c, sign * (key[j++ % key.size()] - 'a'));
  }
  return out;
}

class CipherEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    ASSIGN_OR_RETURN(int64_t max_shift, IntParam(spec, "max_shift", 13, 1, 25));
    return std::unique_ptr<Environment>(
        new CipherEnv(spec, static_cast<int>(style), static_cast<int>(max_shift)));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    std::vector<std::string> words;
    for (int i = 0, n = level <= 2 ? 1 : (level == 3 ? 3 : 2); i < n; ++i) {
      words.push_back(rng.Pick(CommonWords()));
    }
    const std::string plain = absl::StrJoin(words, " ");
    const std::string quoted = absl::StrCat("\"", plain, "\"");
    std::string user, answer;
    switch (level) {
      case 0: {
        const int k = static_cast<int>(rng.Uniform(1, 3));
        user =
            absl::StrCat("Shift every letter of ", quoted, " forward by ", k, " in the alphabet.");
        answer = Caesar(plain, k);
      } break;
      case 1:
      case 3: {
        const int k = static_cast<int>(rng.Uniform(1, max_shift_));
        user = absl::StrCat("Encode ", quoted, " with a Caesar shift of ", k, ".");
        answer = Caesar(plain, k);
        break;
      }
      case 2: {
        if (rng.Chance(0.5)) {
          const int k = static_cast<int>(rng.Uniform(1, max_shift_));
          user = absl::StrCat("\"", Caesar(plain, k), "\" was encoded with a Caesar shift of ", k,
                              ". Decode it.");
        } else {
          user =
              absl::StrCat("Decode the Atbash cipher (a<->z, b<->y, ...) \"", Atbash(plain), "\".");
        }
        answer = plain;
        break;
      }
      default: {
        std::string key = absl::AsciiStrToLower(rng.Pick(CommonWords()).substr(0, 3));
        if (rng.Chance(0.5)) {
          user = absl::StrCat("Encode ", quoted, " with the Vigenere key \"", key,
                              "\" (spaces are skipped and do not use key letters).");
          answer = Vigenere(plain, key, +1);
        } else {
          user = absl::StrCat("Decode \"", Vigenere(plain, key, +1), "\", encoded with the ",
                              "Vigenere key \"", key, "\" (spaces do not use key letters).");
          answer = plain;
        }
      }
    }
    static constexpr const char* kPrefix[] = {"", "Cipher task: ", "Puzzle: ", ""};
    return Problem{absl::StrCat(kPrefix[style_], user), answer, AnswerMatch::kText};
  }

 private:
  CipherEnv(const proto::EnvSpec& spec, int style, int max_shift)
      : SingleTurnEnvironment(spec, SingleTurnSystem("Work with letters a-z only.", style)),
        style_(style),
        max_shift_(max_shift) {}
  int style_;
  int max_shift_;
};

}  // namespace

Category CipherCategory() {
  return SingleTurnCategory<CipherEnv>("cipher",
                                       "Caesar, Atbash and Vigenere ciphers, encoding and decoding",
                                       [](Rng& rng, std::map<std::string, std::string>* p) {
                                         (*p)["max_shift"] = std::to_string(rng.Uniform(3, 25));
                                       });
}

}  // namespace dsarl::envs
