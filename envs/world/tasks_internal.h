// Helpers the task families share (internal to envs/world): reading the world's rows the way the
// tools filter them, and writing the reference solution's calls.
#ifndef DSARL_ENVS_WORLD_TASKS_INTERNAL_H_
#define DSARL_ENVS_WORLD_TASKS_INTERNAL_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "envs/world/tasks.h"

namespace dsarl::envs::world {

using Args = std::vector<std::pair<std::string, std::string>>;

inline absl::Status Unable(const std::string& why) { return absl::FailedPreconditionError(why); }

// A call of `tool` (which must exist).
ToolCall CallOf(const WorldTool& tool, Args args);

// A search as both the tools and the task maker see it: equality filters on columns, an optional
// name substring and an optional price cap.
struct Search {
  int entity = 0;
  Args equals;  // (column, value)
  std::string name;
  std::optional<int64_t> max_price;
  std::vector<std::pair<std::string, int64_t>> at_least;  // (integer column, lowest value)
};

// The rows of the search, in table order (the order find returns them).
std::vector<size_t> Matches(const World& w, const Search& q);
// The find calls that list every page of the search's results.
std::vector<ToolCall> FindCalls(const World& w, const WorldTools& tools, const Search& q);
// The find call that looks a row up by its (unique) name: find_<plural>(name=...).
ToolCall FindByName(const World& w, const WorldTools& tools, int e, size_t row);

// Active bookings of resource row `rid` on `date`.
int64_t ActiveCount(const World& w, size_t i, const std::string& rid, const std::string& date);
// Whether actor `aid` has an active booking of `rid` (on `date`, or any date when it is empty).
bool HasActive(const World& w, size_t i, const std::string& aid, const std::string& rid,
               const std::string& date);
// The prerequisite ids of resource `rid` (resources[0] only).
std::vector<std::string> Prerequisites(const World& w, const std::string& rid);

// A column or kind name as words: "nightly_rate" -> "nightly rate".
std::string Human(const std::string& s);

// An attribute of entity `e` a question can ask for (not a list, not a key), or nullptr.
const ColumnDef* AskableAttr(const World& w, int e, Rng& rng);
// The value of column `col` of row `row` of entity `e`, as the answer text.
std::string Cell(const World& w, int e, size_t row, const std::string& col);
AnswerMatch MatchFor(const ColumnDef& col);
// An enum column of entity `e` (or nullptr).
const ColumnDef* EnumAttr(const World& w, int e, Rng& rng);

// The cheapest of `rows` (rows of resource `r`) that `ok` accepts, by price; `order` gets the rows
// looked at, cheapest first, up to it. FailedPrecondition when none is accepted or two accepted
// rows share the lowest price (the question would be ambiguous).
absl::StatusOr<size_t> Cheapest(const World& w, int r, const std::vector<size_t>& rows,
                                const std::function<bool(size_t)>& ok, std::vector<size_t>* order);

// constrained_selection, in tasks_select.cc.
absl::StatusOr<WorldTask> SelectionTask(const World& w, const WorldTools& tools, Rng& rng,
                                        int level);

// state_change, in tasks_state.cc.
absl::StatusOr<WorldTask> StateChangeTask(const World& w, const WorldTools& tools, Rng& rng,
                                          int level);

}  // namespace dsarl::envs::world

#endif  // DSARL_ENVS_WORLD_TASKS_INTERNAL_H_
