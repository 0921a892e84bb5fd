// Whether the discrete choices of a forward pass are clear-cut. Two code paths that agree to
// rounding (decode vs the full forward, a batch vs one sequence) make the same top-k selections and
// MoE routings only where no candidate sits within rounding of a cut; tests that compare such paths
// first check that the reference pass has no such near-tie (drawing another model or batch if it
// has), so their tolerances never have to absorb a flipped choice.
#ifndef DSARL_TESTS_MODEL_CHOICE_MARGIN_H_
#define DSARL_TESTS_MODEL_CHOICE_MARGIN_H_

#include <string>
#include <vector>

#include "model/transformer.h"

namespace dsarl::model::testing {

// "" when, in the last Forward of `m` (on `batch`), every sparse row's top-k cut separates the
// scores by at least `margin` times the row's scale (or falls among keys whose scores are exactly 0
// because every ReLU input is below -margin), and every MoE row's biased expert scores and group
// scores are at least `margin` apart. Otherwise where the first near-tie is.
std::string NearTie(const Transformer& m, const PackedBatch& batch, double margin = 1e-3);

// "" when one token's biased expert scores `choice` [n_routed], and the group scores DeepSeek-V3
// routing derives from them, are each at least `margin` apart; else the two that are not.
std::string RoutingNearTie(const std::vector<double>& choice, const ModelDims& d, double margin);

}  // namespace dsarl::model::testing

#endif  // DSARL_TESTS_MODEL_CHOICE_MARGIN_H_
