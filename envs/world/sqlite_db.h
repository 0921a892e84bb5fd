// A SQLite database in memory: the sandbox database of one synthesized environment or episode.
//
// Why SQLite: each environment's database is a real one a person can open with the `sqlite3`
// shell (`dsarl envs db`), and tools are queries over it. An environment keeps its database as a
// serialized image; every episode opens a private copy of it, so episodes never see each other's
// writes.
#ifndef DSARL_ENVS_WORLD_SQLITE_DB_H_
#define DSARL_ENVS_WORLD_SQLITE_DB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;

namespace dsarl::envs::world {

// A cell: SQLite INTEGER or TEXT (the only types the schemas use).
using Value = std::variant<int64_t, std::string>;

// "42" or the text.
std::string ValueText(const Value& v);

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
};

class SqliteDb {
 public:
  // An empty database. Internal on failure.
  static absl::StatusOr<SqliteDb> Create();
  // A private copy of a serialized image (Serialize()). Internal / InvalidArgument on failure.
  static absl::StatusOr<SqliteDb> FromImage(absl::string_view image);

  SqliteDb(SqliteDb&&) noexcept = default;
  SqliteDb& operator=(SqliteDb&&) noexcept = default;
  ~SqliteDb();

  // Runs statements without results. Internal with SQLite's message (and the SQL) on failure.
  absl::Status Exec(const std::string& sql);
  // Runs one statement with `?` parameters bound to `params`, returning its rows.
  absl::StatusOr<QueryResult> Query(const std::string& sql, const std::vector<Value>& params = {});
  // The database as bytes (sqlite3_serialize), to copy into episodes or write to a file.
  absl::StatusOr<std::string> Serialize() const;
  // Every table's rows, ordered by table name and then by all columns: a canonical text of the
  // state, for comparing end states.
  absl::StatusOr<std::string> Dump();

 private:
  explicit SqliteDb(sqlite3* db);
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  std::unique_ptr<sqlite3, Closer> db_;
};

}  // namespace dsarl::envs::world

#endif  // DSARL_ENVS_WORLD_SQLITE_DB_H_
