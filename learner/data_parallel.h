// How a GRPO step's work is split over the learner's ranks so that the step equals one big rank's:
// every rank holds the whole batch and makes the same decisions about it (which groups train,
// the normalizers of each mini-batch); each forwards and backwards only the groups it owns, and
// the sums that couple groups (gradients, the objective, which groups went non-finite, the
// statistics) are all-reduced. Groups, never samples, are the unit: a group's advantages and
// sequences stay on one rank.
#ifndef DSARL_LEARNER_DATA_PARALLEL_H_
#define DSARL_LEARNER_DATA_PARALLEL_H_

#include <cstdint>
#include <vector>

namespace dsarl::learner {

// Owners of the groups [g0, g1) of a batch among `world` ranks, balanced by tokens: the largest
// group first, each to the rank with the fewest tokens so far (the lower rank on a tie). Groups
// that do not train (`live` false) stay unowned (-1). The same inputs give the same owners on
// every rank. `owner` must have one entry per group of the batch.
void AssignOwners(const std::vector<int64_t>& tokens, const std::vector<bool>& live, int g0, int g1,
                  int world, std::vector<int>* owner);

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_DATA_PARALLEL_H_
