// shortest_path: the length of the shortest route between two places of a small weighted,
// connected, undirected graph (a random spanning tree plus extra roads). Floyd-Warshall.
#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "envs/categories/categories.h"
#include "envs/single_turn.h"

namespace dsarl::envs {
namespace {

class ShortestPathEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    ASSIGN_OR_RETURN(int64_t max_weight, IntParam(spec, "max_weight", 9, 2, 99));
    return std::unique_ptr<Environment>(
        new ShortestPathEnv(spec, static_cast<int>(style), max_weight));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    static constexpr int kNodes[] = {3, 4, 6, 8, 10};
    const int n = kNodes[level];
    constexpr int64_t kInf = 1LL << 40;
    std::vector<std::vector<int64_t>> d(n, std::vector<int64_t>(n, kInf));
    std::vector<std::string> roads;
    auto add = [&](int a, int b) {
      if (a == b || d[a][b] != kInf) return;
      const int64_t w = rng.Uniform(1, max_weight_);
      d[a][b] = d[b][a] = w;
      roads.push_back(absl::StrCat(std::string(1, 'A' + a), "-", std::string(1, 'A' + b), " ", w));
    };
    std::vector<size_t> order = rng.Sample(n, n);
    for (int i = 1; i < n; ++i) add(order[i], order[rng.Index(i)]);  // spanning tree
    for (int i = 0, extra = n / 2 + level; i < extra; ++i) add(rng.Index(n), rng.Index(n));
    for (int i = 0; i < n; ++i) d[i][i] = 0;
    for (int k = 0; k < n; ++k) {
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) d[i][j] = std::min(d[i][j], d[i][k] + d[k][j]);
      }
    }
    const int s = static_cast<int>(rng.Index(n));
    int t = static_cast<int>(rng.Index(n - 1));
    if (t >= s) ++t;
    static constexpr const char* kT[] = {
        "Roads (both ways, with lengths): ", "Edges with weights: ", "Distances between towns: ",
        "Paths: "};
    const std::string user = absl::StrCat(
        kT[style_], absl::StrJoin(roads, ", "), ". What is the shortest distance from ",
        std::string(1, 'A' + s), " to ", std::string(1, 'A' + t), "?");
    return Problem{user, std::to_string(d[s][t]), AnswerMatch::kInteger};
  }

 private:
  ShortestPathEnv(const proto::EnvSpec& spec, int style, int64_t max_weight)
      : SingleTurnEnvironment(spec, SingleTurnSystem("Find the shortest path length.", style)),
        style_(style),
        max_weight_(max_weight) {}
  int style_;
  int64_t max_weight_;
};

}  // namespace

Category ShortestPathCategory() {
  return SingleTurnCategory<ShortestPathEnv>(
      "shortest_path", "shortest distances in weighted graphs of 3 to 10 nodes",
      [](Rng& rng, std::map<std::string, std::string>* p) {
        (*p)["max_weight"] = std::to_string(rng.Uniform(5, 20));
      });
}

}  // namespace dsarl::envs
