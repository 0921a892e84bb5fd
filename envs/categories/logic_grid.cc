// logic_grid: people, attributes (pet, color, drink), clues; exactly one assignment fits the clues,
// and the question asks for one of its cells. Uniqueness is checked by filtering every possible
// assignment (at most 4!^3 = 13,824) clue by clue; clues are added until one assignment is left.
#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "envs/categories/categories.h"
#include "envs/names.h"
#include "envs/single_turn.h"

namespace dsarl::envs {
namespace {

using Perm = std::vector<int>;
// An assignment: for each attribute a, the index of a permutation in which perm[p] is the value
// person p has. Small and flat, because there are up to 13,824 of them per problem.
using Assignment = std::array<uint8_t, 3>;

struct Clue {
  int kind;  // 0: p has value v of a; 1: p does not; 2: whoever has (a, v) has (b, w)
  int p, a, v, b, w;
  bool Holds(const Assignment& s, const std::vector<Perm>& perms) const {
    const Perm& pa = perms[s[a]];
    switch (kind) {
      case 0:
        return pa[p] == v;
      case 1:
        return pa[p] != v;
      default:
        for (size_t q = 0; q < pa.size(); ++q) {
          if (pa[q] == v) return perms[s[b]][q] == w;
        }
        return false;
    }
  }
};

std::vector<Perm> Permutations(int n) {
  Perm p(n);
  for (int i = 0; i < n; ++i) p[i] = i;
  std::vector<Perm> out;
  do {
    out.push_back(p);
  } while (std::next_permutation(p.begin(), p.end()));
  return out;
}

struct AttributeWords {
  const char* noun;  // "pet"
  const std::vector<std::string>* values;
  const char* has;      // "owns the", "likes the color", "drinks"
  const char* has_not;  // "does not own the", ...
};

// The words of the three attributes, in the order levels add them.
std::vector<AttributeWords> Attributes() {
  return {{"pet", &Animals(), "owns the", "does not own the"},
          {"color", &Colors(), "likes the color", "does not like the color"},
          {"drink", &Drinks(), "drinks", "does not drink"}};
}

// The cast of one puzzle: `n` people and, for each of `m` attributes, `n` of its values.
struct Grid {
  std::vector<std::string> people;
  std::vector<std::vector<std::string>> values;  // values[a][k]
};

Grid DrawGrid(const std::vector<AttributeWords>& attrs, int n, int m, Rng& rng) {
  Grid g;
  for (size_t i : rng.Sample(FirstNames().size(), n)) g.people.push_back(FirstNames()[i]);
  g.values.resize(m);
  for (int a = 0; a < m; ++a) {
    for (size_t i : rng.Sample(attrs[a].values->size(), n)) {
      g.values[a].push_back((*attrs[a].values)[i]);
    }
  }
  return g;
}

// Every assignment of `m` attributes over `count` permutations, in counting order.
std::vector<Assignment> AllAssignments(size_t count, int m) {
  std::vector<Assignment> candidates;
  Assignment idx{};
  while (true) {
    candidates.push_back(idx);
    int a = 0;
    while (a < m && ++idx[a] == count) idx[a++] = 0;
    if (a == m) break;
  }
  return candidates;
}

// A random clue that is true of `truth` (n people, m attributes).
Clue DrawTrueClue(const std::vector<Perm>& truth, int n, int m, Rng& rng) {
  Clue c{static_cast<int>(rng.Index(m > 1 ? 3 : 2)),
         static_cast<int>(rng.Index(n)),
         static_cast<int>(rng.Index(m)),
         0,
         0,
         0};
  if (c.kind == 0) c.v = truth[c.a][c.p];
  if (c.kind == 1) {
    do {
      c.v = static_cast<int>(rng.Index(n));
    } while (c.v == truth[c.a][c.p]);
  }
  if (c.kind == 2) {
    do {
      c.b = static_cast<int>(rng.Index(m));
    } while (c.b == c.a);
    c.v = truth[c.a][c.p];
    c.w = truth[c.b][c.p];
  }
  return c;
}

std::string SayClue(const Clue& c, const std::vector<AttributeWords>& attrs, const Grid& g) {
  const AttributeWords& A = attrs[c.a];
  switch (c.kind) {
    case 0:
      return absl::StrCat(g.people[c.p], " ", A.has, " ", g.values[c.a][c.v], ".");
    case 1:
      return absl::StrCat(g.people[c.p], " ", A.has_not, " ", g.values[c.a][c.v], ".");
    default:
      return absl::StrCat("The person who ", A.has, " ", g.values[c.a][c.v], " ", attrs[c.b].has,
                          " ", g.values[c.b][c.w], ".");
  }
}

// Adds true clues until one of `candidates` is left (the whole grid is determined, for
// fairness), at most 200 draws; clues that rule nothing out are left out. Returns the clues'
// text; `candidates` keeps what is left.
std::vector<std::string> CluesUntilUnique(const std::vector<Perm>& perms,
                                          const std::vector<Perm>& truth,
                                          const std::vector<AttributeWords>& attrs, const Grid& g,
                                          std::vector<Assignment>* candidates, Rng& rng) {
  const int n = static_cast<int>(g.people.size()), m = static_cast<int>(g.values.size());
  std::vector<std::string> clues;
  for (int guard = 0; candidates->size() > 1 && guard < 200; ++guard) {
    const Clue c = DrawTrueClue(truth, n, m, rng);
    std::vector<Assignment> kept;
    for (const Assignment& s : *candidates) {
      if (c.Holds(s, perms)) kept.push_back(s);
    }
    const bool informative = kept.size() != candidates->size();
    *candidates = std::move(kept);
    if (informative) clues.push_back(SayClue(c, attrs, g));
  }
  return clues;
}

// The puzzle as the model reads it: the people, the rule in the environment's wording (`intro`,
// with %s for the attribute nouns), the values, the clues and the question about value qv of
// attribute qa.
std::string PuzzleText(const std::vector<AttributeWords>& attrs, const Grid& g,
                       const std::vector<std::string>& clues, const char* intro_template, int qa,
                       int qv) {
  const int m = static_cast<int>(g.values.size());
  std::vector<std::string> nouns;
  for (int a = 0; a < m; ++a) nouns.push_back(attrs[a].noun);
  std::string intro = intro_template;
  intro.replace(intro.find("%s"), 2, absl::StrJoin(nouns, ", "));
  std::string user = absl::StrCat("People: ", absl::StrJoin(g.people, ", "), ". ", intro, " ");
  for (int a = 0; a < m; ++a) {
    absl::StrAppend(&user, "The ", attrs[a].noun, "s are: ", absl::StrJoin(g.values[a], ", "),
                    ". ");
  }
  absl::StrAppend(&user, "Clues: ", absl::StrJoin(clues, " "), " Who ", attrs[qa].has, " ",
                  g.values[qa][qv], "?");
  return user;
}

class LogicGridEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    return std::unique_ptr<Environment>(new LogicGridEnv(spec, static_cast<int>(style)));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    // Level -> people and attributes.
    static constexpr int kPeople[] = {2, 3, 3, 4, 4}, kAttrs[] = {1, 1, 2, 2, 3};
    const int n = kPeople[level], m = kAttrs[level];
    const std::vector<AttributeWords> attrs = Attributes();
    const Grid g = DrawGrid(attrs, n, m, rng);
    // The hidden solution, and every candidate assignment.
    const std::vector<Perm> perms = Permutations(n);
    std::vector<Perm> truth(m);
    for (int a = 0; a < m; ++a) truth[a] = perms[rng.Index(perms.size())];
    std::vector<Assignment> candidates = AllAssignments(perms.size(), m);
    const int qa = static_cast<int>(rng.Index(m)), qv = static_cast<int>(rng.Index(n));
    const std::vector<std::string> clues =
        CluesUntilUnique(perms, truth, attrs, g, &candidates, rng);
    if (candidates.size() != 1) {
      return absl::InternalError("logic_grid: clue generation did not converge");
    }
    static constexpr const char* kIntro[] = {"Each person has a different %s.",
                                             "No two people share a %s.", "Every %s is unique.",
                                             "Each %s belongs to exactly one person."};
    int answer = 0;  // the person who has value qv of attribute qa
    for (int p = 0; p < n; ++p) {
      if (truth[qa][p] == qv) {
        answer = p;
        break;
      }
    }
    return Problem{PuzzleText(attrs, g, clues, kIntro[style_], qa, qv), g.people[answer],
                   AnswerMatch::kText};
  }

 private:
  LogicGridEnv(const proto::EnvSpec& spec, int style)
      : SingleTurnEnvironment(
            spec, SingleTurnSystem("Solve the logic puzzle; answer with a name.", style)),
        style_(style) {}
  int style_;
};

}  // namespace

Category LogicGridCategory() {
  return SingleTurnCategory<LogicGridEnv>(
      "logic_grid", "who owns what, from clues with a unique solution (2 to 4 people)");
}

}  // namespace dsarl::envs
