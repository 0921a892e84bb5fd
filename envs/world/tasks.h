// The task families of a synthesized environment, each with a difficulty ladder 0..4:
//   multi_hop_lookup       follow 1..4 relations from a named row to an attribute
//   aggregation            counts and totals over filtered (and paginated) searches and joins
//   constrained_selection  the cheapest row meeting 1..4 constraints (a trip-planning pick at the
//                          top: one of each resource kind, places left on a date)
//   state_change           bookings, conditional rebookings, cancel-and-rebook, planned bookings,
//                          prerequisites and transfers; verified by the end state
// Task makers read the world's rows; the reference solution they write only calls tools, and
// synthesis plays it through them before a task is kept.
#ifndef DSARL_ENVS_WORLD_TASKS_H_
#define DSARL_ENVS_WORLD_TASKS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "envs/answer.h"
#include "envs/environment.h"
#include "envs/rng.h"
#include "envs/world/tools.h"
#include "envs/world/world.h"

namespace dsarl::envs::world {

struct WorldTask {
  std::string family;
  std::string user;
  std::vector<std::vector<ToolCall>> rounds;
  std::string answer;  // "" for state tasks
  AnswerMatch match = AnswerMatch::kText;
  bool answer_is_lookup = false;  // the answer appears in the tool outputs
};

// The family names, in a fixed order.
const std::vector<std::string>& TaskFamilies();

// A task of `family` at `level`; FailedPrecondition when this world cannot pose one (then the
// caller tries another). InvalidArgument for an unknown family.
absl::StatusOr<WorldTask> MakeFamilyTask(const std::string& family, const World& world,
                                         const WorldTools& tools, Rng& rng, int level);

// A task of a family drawn by `rng` (others are tried when it cannot pose one).
absl::StatusOr<WorldTask> MakeTask(const World& world, const WorldTools& tools, Rng& rng,
                                   int level);

}  // namespace dsarl::envs::world

#endif  // DSARL_ENVS_WORLD_TASKS_H_
