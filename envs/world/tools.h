// The tools of a synthesized environment, derived from its schema: lookups by key, filtered search
// with pagination, joins along relations, aggregates, availability checks and state-changing
// actions with preconditions. Each is a declared signature (proto::ToolSpec) and a query over the
// episode's SQLite database.
//
// Why derived: the tools follow the schema, so two environments with different structure have
// different tools (arguments, joins, actions), not renamed copies of one tool layer.
#ifndef DSARL_ENVS_WORLD_TOOLS_H_
#define DSARL_ENVS_WORLD_TOOLS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "envs/environment.h"
#include "envs/world/schema.h"
#include "envs/world/sqlite_db.h"
#include "proto/data.pb.h"

namespace dsarl::envs::world {

enum class ToolKind {
  kGet,            // get_<kind>(<kind>_id): the whole row
  kFind,           // find_<plural>(filters..., page): matching rows, 5 a page, summary columns
  kCount,          // count_<plural>(filters...): how many rows match
  kSummarize,      // summarize_<plural>(filters...): count, min, max and total of the price
  kLinked,         // list_<items>_of_<resource>(id): a many-to-many join
  kLinkedReverse,  // list_<resources>_with_<item>(id): the same join the other way
  kPrerequisites,  // list_prerequisites_of_<resource>(id)
  kBookingsOf,     // list_<bookings>_of_<actor>(id)
  kAvailability,   // check_<resource>_availability(id, date): capacity left, opening hours
  kBook,           // <verb>_<resource>(actor, resource, date[, time]): checks preconditions
  kCancel,         // cancel_<booking>(id): refunds when actors pay
  kTransfer,       // transfer_<balance>(from, to, amount)
};

// "get", "find", ... (stable names, for stats and docs).
const char* ToolKindName(ToolKind kind);

struct WorldTool {
  ToolKind kind = ToolKind::kGet;
  int entity = -1;    // the entity it reads or changes (the resource for kBook, kAvailability)
  int relation = -1;  // kLinked, kLinkedReverse
  int min_level = 0;  // offered to tasks of this level and above: the ladder adds tools
  proto::ToolSpec spec;
};

class WorldTools {
 public:
  explicit WorldTools(const Schema& schema);

  const std::vector<WorldTool>& tools() const { return tools_; }
  // The tool of `kind` over `entity` (or relation, for joins), or nullptr.
  const WorldTool* Of(ToolKind kind, int entity, int relation = -1) const;
  // The specs offered at `level`, in declaration order.
  std::vector<proto::ToolSpec> Specs(int level) const;
  // Runs `call` (only tools offered at `level`). Invalid calls and failed preconditions give
  // is_error results; errors are SQLite failures only.
  absl::StatusOr<ToolResult> Run(const ToolCall& call, int level, SqliteDb* db) const;

  // Parameter names, as task makers must write them.
  std::string IdParam(int entity) const;   // "hotel_id"
  std::string MaxPriceParam(int r) const;  // "max_nightly_rate"
  static constexpr int kPageSize = 5;

 private:
  void Add(ToolKind kind, int entity, int relation, int min_level, std::string name,
           std::string description, std::vector<proto::ToolParameter> params);
  void AddEntityTools(int e);
  void AddResourceTools(size_t i);
  absl::StatusOr<ToolResult> RunChecked(const WorldTool& tool, const ToolCall& call,
                                        SqliteDb* db) const;

  const Schema& schema_;
  std::vector<WorldTool> tools_;
};

}  // namespace dsarl::envs::world

#endif  // DSARL_ENVS_WORLD_TOOLS_H_
