// counting: count letters in a string, words in a sentence, or numbers with a property. Level 0
// counts one letter in a short string over a three-letter alphabet (answers 0..6).
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "envs/categories/categories.h"
#include "envs/names.h"
#include "envs/single_turn.h"

namespace dsarl::envs {
namespace {

std::string RandomLetters(Rng& rng, int n, const std::string& alphabet) {
  std::string s;
  for (int i = 0; i < n; ++i) s += alphabet[rng.Index(alphabet.size())];
  return s;
}

class CountingEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    ASSIGN_OR_RETURN(int64_t alphabet, IntParam(spec, "alphabet", 3, 2, 6));
    return std::unique_ptr<Environment>(
        new CountingEnv(spec, static_cast<int>(style), static_cast<int>(alphabet)));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    std::string user;
    int64_t answer = 0;
    switch (level) {
      case 0:
      case 1: {  // one letter in a string
        const std::string alphabet =
            level == 0 ? std::string("abcdef").substr(0, alphabet_) : "abcdefghij";
        const std::string s =
            RandomLetters(rng, level == 0 ? rng.Uniform(4, 6) : rng.Uniform(10, 16), alphabet);
        const char c = alphabet[rng.Index(alphabet.size())];
        for (char x : s) answer += x == c;
        static constexpr const char* kT[] = {"How many %c are in %s?", "Count the letter %c in %s.",
                                             "%s: how many %c?", "Number of %c in %s?"};
        user = kT[style_];
        const bool letter_first = style_ != 2;
        user.replace(user.find(letter_first ? "%c" : "%s"), 2,
                     letter_first ? std::string(1, c) : s);
        user.replace(user.find(letter_first ? "%s" : "%c"), 2,
                     letter_first ? s : std::string(1, c));
        break;
      }
      case 2: {  // words of a sentence starting with a letter
        std::vector<std::string> words;
        for (int i = 0, n = rng.Uniform(6, 10); i < n; ++i)
          words.push_back(rng.Pick(CommonWords()));
        const char c = words[rng.Index(words.size())][0];
        for (const std::string& w : words) answer += w[0] == c;
        user = absl::StrCat("How many words in \"", absl::StrJoin(words, " "),
                            "\" start with the letter ", std::string(1, c), "?");
        break;
      }
      case 3: {  // numbers above a threshold
        std::vector<int64_t> xs;
        for (int i = 0, n = rng.Uniform(8, 12); i < n; ++i) xs.push_back(rng.Uniform(1, 99));
        const int64_t t = rng.Uniform(20, 80);
        for (int64_t x : xs) answer += x > t;
        user = absl::StrCat("How many of these numbers are greater than ", t, ": ",
                            absl::StrJoin(xs, ", "), "?");
        break;
      }
      default: {  // distinct letters, or even numbers
        if (rng.Chance(0.5)) {
          const std::string s = RandomLetters(rng, rng.Uniform(14, 20), "abcdefghijklmnop");
          answer = static_cast<int64_t>(std::set<char>(s.begin(), s.end()).size());
          user = absl::StrCat("How many different letters appear in ", s, "?");
        } else {
          std::vector<int64_t> xs;
          for (int i = 0, n = rng.Uniform(10, 15); i < n; ++i) xs.push_back(rng.Uniform(1, 999));
          for (int64_t x : xs) answer += x % 2 == 0;
          user =
              absl::StrCat("How many even numbers are in this list: ", absl::StrJoin(xs, " "), "?");
        }
      }
    }
    return Problem{user, std::to_string(answer), AnswerMatch::kInteger};
  }

 private:
  CountingEnv(const proto::EnvSpec& spec, int style, int alphabet)
      : SingleTurnEnvironment(spec, SingleTurnSystem("Count carefully.", style)),
        style_(style),
        alphabet_(alphabet) {}
  int style_;
  int alphabet_;
};

}  // namespace

Category CountingCategory() {
  return SingleTurnCategory<CountingEnv>("counting",
                                         "count letters, words or numbers with a property",
                                         [](Rng& rng, std::map<std::string, std::string>* p) {
                                           (*p)["alphabet"] = std::to_string(rng.Uniform(2, 4));
                                         });
}

}  // namespace dsarl::envs
