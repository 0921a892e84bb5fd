// What the tool runners share (internal to envs/world): the context of one call, reading cells
// of a query result, and the row lookup every tool starts with.
#ifndef DSARL_ENVS_WORLD_TOOLS_INTERNAL_H_
#define DSARL_ENVS_WORLD_TOOLS_INTERNAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "envs/toolbox.h"
#include "envs/world/tools.h"

namespace dsarl::envs::world {

// One call: the schema, the tools, the episode's database and the checked arguments.
struct ToolContext {
  const Schema& s;
  const WorldTools& tools;
  SqliteDb* db;
  const ToolArgs& args;
};

// The integer at (row, col) of `q`; 0 when it is absent or text.
int64_t IntAt(const QueryResult& q, size_t row = 0, size_t col = 0);

// The row of entity `e` with id `id`; when there is none, *missing gets the error result naming
// it and the result has no rows.
absl::StatusOr<QueryResult> RowById(const ToolContext& c, int e, const std::string& id,
                                    ToolResult* missing);

// "YYYY-MM-DD" and "HH:MM" as the tools accept them.
bool IsValidDate(const std::string& date);
bool IsValidTime(const std::string& time);

// Runs the availability, booking, cancel and transfer tools (tools_actions.cc).
absl::StatusOr<ToolResult> RunBookingTool(const ToolContext& c, const WorldTool& tool);

}  // namespace dsarl::envs::world

#endif  // DSARL_ENVS_WORLD_TOOLS_INTERNAL_H_
