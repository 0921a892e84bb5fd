// Populating a schema: rows that are consistent with it (foreign keys point at rows that exist,
// initial bookings respect capacities and opening hours, prerequisites never form a cycle), then
// the SQLite image made from exactly those rows.
#include "envs/world/world.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "envs/world/catalog.h"

namespace dsarl::envs::world {
namespace {

std::string Time(int hour, int minute) { return absl::StrFormat("%02d:%02d", hour, minute); }

Value AttrValue(const Attribute& a, Rng& rng) {
  switch (a.type) {
    case AttrType::kInt:
      return rng.Uniform(a.lo, a.hi);
    case AttrType::kMoney: {
      const int64_t step = a.hi > 100 ? 5 : 1;
      return a.lo + rng.Uniform(0, (a.hi - a.lo) / step) * step;
    }
    case AttrType::kDate:
      return absl::StrFormat("%04d-%02d-%02d", rng.Uniform(1950, 2026), rng.Uniform(1, 12),
                             rng.Uniform(1, 28));
    case AttrType::kTime:
      return Time(static_cast<int>(rng.Uniform(6, 21)), rng.Chance(0.5) ? 30 : 0);
    case AttrType::kList: {
      std::vector<std::string> picked;
      const size_t n = 1 + rng.Index(std::min<size_t>(3, a.values.size()));
      std::vector<size_t> idx = rng.Sample(a.values.size(), n);
      std::sort(idx.begin(), idx.end());
      for (size_t i : idx) picked.push_back(a.values[i]);
      return absl::StrJoin(picked, ", ");
    }
    case AttrType::kEnum:
    case AttrType::kText:
      return a.values.empty() ? std::string("n/a") : a.values[rng.Index(a.values.size())];
  }
  return std::string();
}

// `n` distinct names for an entity: "Word Noun", or "First Last" for people.
std::vector<std::string> Names(const Entity& e, size_t n, Rng& rng) {
  std::vector<std::string> all;
  if (e.role == Role::kActor) {
    for (const std::string& f : FirstNames()) {
      for (const std::string& l : LastNames()) all.push_back(absl::StrCat(f, " ", l));
    }
  } else {
    for (const std::string& w : NameWords()) {
      for (const std::string& noun : e.nouns) all.push_back(absl::StrCat(w, " ", noun));
    }
  }
  std::vector<std::string> out;
  for (size_t i : rng.Sample(all.size(), n)) out.push_back(all[i]);
  return out;
}

size_t RowCount(const Schema& s, int e, Rng& rng) {
  switch (s.entities[e].role) {
    case Role::kHub:
      return static_cast<size_t>(rng.Uniform(3, 6));
    case Role::kResource:
      return static_cast<size_t>(rng.Uniform(10, 18));
    case Role::kActor:
      return static_cast<size_t>(rng.Uniform(8, 12));
    default:
      return static_cast<size_t>(rng.Uniform(5, 8));
  }
}

// Rows of a non-booking entity; foreign keys point at rows of earlier tables.
void FillEntity(const Schema& s, int e, Rng& rng, World* w) {
  TableRows& t = w->tables[e];
  const size_t n = RowCount(s, e, rng);
  const std::vector<std::string> names = Names(s.entities[e], n, rng);
  for (size_t i = 0; i < n; ++i) {
    std::vector<Value> row;
    for (const ColumnDef& c : t.columns) {
      if (c.name == "id") {
        row.emplace_back(absl::StrCat(s.entities[e].prefix, i + 1));
      } else if (c.name == "name") {
        row.emplace_back(names[i]);
      } else if (c.references >= 0) {
        const TableRows& parent = w->tables[c.references];
        row.emplace_back(parent.rows[rng.Index(parent.rows.size())][0]);
      } else if (c.name == "opens") {
        row.emplace_back(Time(static_cast<int>(rng.Uniform(6, 11)), 0));
      } else if (c.name == "closes") {
        row.emplace_back(Time(static_cast<int>(rng.Uniform(15, 22)), 0));
      } else {
        row.push_back(AttrValue(*c.attr, rng));
      }
    }
    t.rows.push_back(std::move(row));
  }
}

void FillLinks(const Schema& s, Rng& rng, World* w) {
  for (size_t r = 0; r < s.relations.size(); ++r) {
    const Relation& rel = s.relations[r];
    if (rel.type != RelationType::kManyToMany) continue;
    const TableRows& parent = w->tables[rel.parent];
    const TableRows& child = w->tables[rel.child];
    const bool prereq = static_cast<int>(r) == s.prerequisite_relation;
    for (size_t i = 0; i < parent.rows.size(); ++i) {
      if (prereq) {
        // Only earlier rows, so prerequisites never form a cycle; a third of the rows have one.
        if (i == 0 || !rng.Chance(0.35)) continue;
        w->links[r].push_back(
            {ValueText(parent.rows[i][0]), ValueText(child.rows[rng.Index(i)][0])});
        continue;
      }
      for (size_t j : rng.Sample(child.rows.size(), 1 + rng.Index(2))) {
        w->links[r].push_back({ValueText(parent.rows[i][0]), ValueText(child.rows[j][0])});
      }
    }
  }
}

// Initial bookings: a few active ones per booking table that a valid action could have made.
void FillBookings(const Schema& s, Rng& rng, World* w) {
  const TableRows& actors = w->tables[s.actor];
  for (size_t b = 0; b < s.bookings.size(); ++b) {
    const int r = s.resources[b];
    const TableRows& res = w->tables[r];
    TableRows& t = w->tables[s.bookings[b]];
    std::set<std::pair<std::string, std::string>> full;  // (resource, date) at capacity
    const size_t n = static_cast<size_t>(rng.Uniform(4, 9));
    for (size_t k = 0; k < n; ++k) {
      const size_t ri = rng.Index(res.rows.size());
      const std::string rid = ValueText(res.rows[ri][0]);
      const std::string date = BookingDate(static_cast<int>(rng.Index(kBookingDays)));
      int64_t active = 0;
      for (size_t j = 0; j < t.rows.size(); ++j) {
        if (t.Text(j, absl::StrCat(s.entities[r].kind, "_id")) == rid &&
            t.Text(j, "date") == date && t.Text(j, "status") == "active") {
          ++active;
        }
      }
      if (s.constraints.capacity && active >= res.Int(ri, "capacity")) continue;
      std::vector<Value> row;
      for (const ColumnDef& c : t.columns) {
        if (c.name == "id") {
          row.emplace_back(absl::StrCat(s.entities[s.bookings[b]].prefix, t.rows.size() + 1));
        } else if (c.references == s.actor) {
          row.emplace_back(actors.rows[rng.Index(actors.rows.size())][0]);
        } else if (c.references == r) {
          row.emplace_back(rid);
        } else if (c.name == "date") {
          row.emplace_back(date);
        } else if (c.name == "time") {
          row.emplace_back(res.Text(ri, "opens"));
        } else if (c.name == "status") {
          row.emplace_back(std::string(rng.Chance(0.8) ? "active" : "cancelled"));
        } else if (c.name == "paid") {
          row.emplace_back(res.Int(ri, s.entities[r].price));
        }
      }
      t.rows.push_back(std::move(row));
    }
  }
}

absl::Status WriteSqlite(const World& w, std::string* image) {
  ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Create());
  RETURN_IF_ERROR(db.Exec("BEGIN"));
  for (const std::string& ddl : SchemaDdl(w.schema)) RETURN_IF_ERROR(db.Exec(ddl));
  for (size_t e = 0; e < w.tables.size(); ++e) {
    const TableRows& t = w.tables[e];
    std::vector<std::string> marks(t.columns.size(), "?");
    const std::string sql = absl::StrCat("INSERT INTO ", w.schema.entities[e].kind, " VALUES (",
                                         absl::StrJoin(marks, ", "), ")");
    for (const std::vector<Value>& row : t.rows) RETURN_IF_ERROR(db.Query(sql, row).status());
  }
  for (size_t r = 0; r < w.links.size(); ++r) {
    if (w.links[r].empty()) continue;
    const std::string sql =
        absl::StrCat("INSERT INTO ", w.schema.relations[r].table, " VALUES (?, ?)");
    for (const auto& [a, b] : w.links[r]) RETURN_IF_ERROR(db.Query(sql, {a, b}).status());
  }
  RETURN_IF_ERROR(db.Exec("COMMIT"));
  ASSIGN_OR_RETURN(*image, db.Serialize());
  return absl::OkStatus();
}

}  // namespace

int TableRows::Col(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const std::string& TableRows::Text(size_t row, const std::string& col) const {
  static const std::string* const empty = new std::string;
  const int c = Col(col);
  if (c < 0) return *empty;
  const std::string* s = std::get_if<std::string>(&rows[row][c]);
  return s == nullptr ? *empty : *s;
}

int64_t TableRows::Int(size_t row, const std::string& col) const {
  const int c = Col(col);
  if (c < 0) return 0;
  const int64_t* v = std::get_if<int64_t>(&rows[row][c]);
  return v == nullptr ? 0 : *v;
}

int TableRows::FindRow(const std::string& id) const {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (ValueText(rows[i][0]) == id) return static_cast<int>(i);
  }
  return -1;
}

std::string BookingDate(int day) { return absl::StrFormat("2027-03-%02d", day + 1); }

absl::StatusOr<World> BuildWorld(const std::string& domain, uint64_t code, uint64_t seed) {
  World w;
  ASSIGN_OR_RETURN(w.schema, SchemaFromCode(domain, code));
  const Schema& s = w.schema;
  w.tables.resize(s.entities.size());
  for (size_t e = 0; e < s.entities.size(); ++e)
    w.tables[e].columns = Columns(s, static_cast<int>(e));
  w.links.resize(s.relations.size());
  Rng rng(seed);
  // Hubs first (others point at them), then resources, actors and items; bookings last.
  for (Role role : {Role::kHub, Role::kResource, Role::kActor, Role::kItem}) {
    for (size_t e = 0; e < s.entities.size(); ++e) {
      if (s.entities[e].role == role) FillEntity(s, static_cast<int>(e), rng, &w);
    }
  }
  FillLinks(s, rng, &w);
  FillBookings(s, rng, &w);
  RETURN_IF_ERROR(WriteSqlite(w, &w.image));
  return w;
}

}  // namespace dsarl::envs::world
