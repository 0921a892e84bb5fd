// SQLite through its C API: in-memory databases, prepared statements with bound parameters, and
// sqlite3_serialize / sqlite3_deserialize for the per-episode copies.
#include "envs/world/sqlite_db.h"

#include <sqlite3.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace dsarl::envs::world {
namespace {

absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  return absl::InternalError(absl::StrCat("sqlite: ", what, ": ", sqlite3_errmsg(db)));
}

struct StmtCloser {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

}  // namespace

std::string ValueText(const Value& v) {
  if (const int64_t* i = std::get_if<int64_t>(&v)) return absl::StrCat(*i);
  return std::get<std::string>(v);
}

void SqliteDb::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

SqliteDb::SqliteDb(sqlite3* db) : db_(db) {}
SqliteDb::~SqliteDb() = default;

absl::StatusOr<SqliteDb> SqliteDb::Create() {
  // Connections are never shared between threads (one per episode), so SQLite's own locks and
  // its global memory statistics (a process-wide mutex on every allocation) only cost time.
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return sqlite3_initialize() == SQLITE_OK;
  }();
  if (!configured) return absl::InternalError("sqlite: sqlite3_initialize failed");
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      ":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  SqliteDb out(db);
  if (rc != SQLITE_OK) return SqliteError(db, "open");
  return out;
}

absl::StatusOr<SqliteDb> SqliteDb::FromImage(absl::string_view image) {
  ASSIGN_OR_RETURN(SqliteDb out, Create());
  auto* buf = static_cast<unsigned char*>(sqlite3_malloc64(image.size()));
  if (buf == nullptr) return absl::ResourceExhaustedError("sqlite: out of memory for an image");
  std::memcpy(buf, image.data(), image.size());
  const int rc =
      sqlite3_deserialize(out.db_.get(), "main", buf, image.size(), image.size(),
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
  if (rc != SQLITE_OK) return SqliteError(out.db_.get(), "deserialize");
  return out;
}

absl::Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string message = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite: ", message, " in: ", sql));
  }
  return absl::OkStatus();
}

absl::StatusOr<QueryResult> SqliteDb::Query(const std::string& sql,
                                            const std::vector<Value>& params) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return SqliteError(db_.get(), sql);
  }
  std::unique_ptr<sqlite3_stmt, StmtCloser> stmt(raw);
  for (size_t i = 0; i < params.size(); ++i) {
    const int at = static_cast<int>(i) + 1;
    if (const int64_t* v = std::get_if<int64_t>(&params[i])) {
      sqlite3_bind_int64(raw, at, *v);
    } else {
      const std::string& s = std::get<std::string>(params[i]);
      sqlite3_bind_text(raw, at, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
  }
  QueryResult out;
  const int n = sqlite3_column_count(raw);
  for (int c = 0; c < n; ++c) out.columns.push_back(sqlite3_column_name(raw, c));
  for (;;) {
    const int rc = sqlite3_step(raw);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return SqliteError(db_.get(), sql);
    std::vector<Value>& row = out.rows.emplace_back();
    for (int c = 0; c < n; ++c) {
      if (sqlite3_column_type(raw, c) == SQLITE_INTEGER) {
        row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(raw, c)));
      } else {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, c));
        row.emplace_back(std::string(text == nullptr ? "" : text,
                                     static_cast<size_t>(sqlite3_column_bytes(raw, c))));
      }
    }
  }
  return out;
}

absl::StatusOr<std::string> SqliteDb::Serialize() const {
  sqlite3_int64 size = 0;
  unsigned char* bytes = sqlite3_serialize(db_.get(), "main", &size, 0);
  if (bytes == nullptr) return SqliteError(db_.get(), "serialize");
  std::string out(reinterpret_cast<const char*>(bytes), static_cast<size_t>(size));
  sqlite3_free(bytes);
  return out;
}

absl::StatusOr<std::string> SqliteDb::Dump() {
  ASSIGN_OR_RETURN(QueryResult tables,
                   Query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"));
  std::string out;
  for (const std::vector<Value>& t : tables.rows) {
    const std::string name = ValueText(t[0]);
    ASSIGN_OR_RETURN(QueryResult cols, Query(absl::StrCat("SELECT * FROM ", name, " LIMIT 0")));
    std::vector<std::string> order;
    for (size_t i = 1; i <= cols.columns.size(); ++i) order.push_back(absl::StrCat(i));
    ASSIGN_OR_RETURN(QueryResult rows, Query(absl::StrCat("SELECT * FROM ", name, " ORDER BY ",
                                                          absl::StrJoin(order, ", "))));
    for (const std::vector<Value>& row : rows.rows) {
      std::vector<std::string> cells;
      for (const Value& v : row) cells.push_back(ValueText(v));
      absl::StrAppend(&out, name, ": ", absl::StrJoin(cells, " | "), "\n");
    }
  }
  return out;
}

}  // namespace dsarl::envs::world
