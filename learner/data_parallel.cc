#include "learner/data_parallel.h"

#include <algorithm>
#include <numeric>

namespace dsarl::learner {

void AssignOwners(const std::vector<int64_t>& tokens, const std::vector<bool>& live, int g0, int g1,
                  int world, std::vector<int>* owner) {
  std::vector<int> order;
  for (int g = g0; g < g1; ++g) {
    (*owner)[g] = -1;
    if (live[g]) order.push_back(g);
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return tokens[a] > tokens[b]; });
  std::vector<int64_t> load(std::max(world, 1), 0);
  for (int g : order) {
    const int r = std::min_element(load.begin(), load.end()) - load.begin();
    (*owner)[g] = r;
    load[r] += tokens[g];
  }
}

}  // namespace dsarl::learner
