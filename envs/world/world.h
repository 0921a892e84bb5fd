// One synthesized world: a schema, its rows (kept in memory for task making) and the same rows as
// a SQLite image (what tools run on). Built deterministically from (domain, shape code, seed).
#ifndef DSARL_ENVS_WORLD_WORLD_H_
#define DSARL_ENVS_WORLD_WORLD_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "envs/world/schema.h"
#include "envs/world/sqlite_db.h"

namespace dsarl::envs::world {

struct TableRows {
  std::vector<ColumnDef> columns;
  std::vector<std::vector<Value>> rows;

  int Col(const std::string& name) const;  // -1 when absent
  const std::string& Text(size_t row, const std::string& col) const;
  int64_t Int(size_t row, const std::string& col) const;
  int FindRow(const std::string& id) const;  // by id, or -1
};

struct World {
  Schema schema;
  std::vector<TableRows> tables;  // one per entity, same order
  // For each relation: (parent id, child id) pairs of many-to-many relations (empty for others).
  std::vector<std::vector<std::pair<std::string, std::string>>> links;
  std::string image;  // the SQLite database
};

// The first day bookings use, and how many days they span.
inline constexpr int kBookingDays = 14;
std::string BookingDate(int day);  // day 0 -> "2027-03-01"

// Builds the world. InvalidArgument for a bad (domain, code); Internal for SQLite failures.
absl::StatusOr<World> BuildWorld(const std::string& domain, uint64_t code, uint64_t seed);

}  // namespace dsarl::envs::world

#endif  // DSARL_ENVS_WORLD_WORLD_H_
