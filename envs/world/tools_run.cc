// Running the derived tools: each is SQL over the episode's database, with the arguments bound as
// parameters (never spliced into the SQL) and every precondition turned into an error the model
// can read.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "envs/toolbox.h"
#include "envs/world/tools_internal.h"

namespace dsarl::envs::world {
namespace {

Json CellJson(const Value& v) {
  if (const int64_t* i = std::get_if<int64_t>(&v)) return Json::Int(*i);
  return Json::String(std::get<std::string>(v));
}

Json RowsJson(const QueryResult& q) {
  Json a = Json::Array();
  for (const std::vector<Value>& row : q.rows) {
    Json o = Json::Object();
    for (size_t c = 0; c < q.columns.size(); ++c) o.Set(q.columns[c], CellJson(row[c]));
    a.Push(std::move(o));
  }
  return a;
}

ToolResult Ok(const Json& j) { return ToolResult{j.Dump(), false}; }

bool ValidDate(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(d[i]))) return false;
  }
  const int month = (d[5] - '0') * 10 + (d[6] - '0');
  const int day = (d[8] - '0') * 10 + (d[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

bool ValidTime(const std::string& t) {
  if (t.size() != 5 || t[2] != ':') return false;
  for (int i : {0, 1, 3, 4}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(t[i]))) return false;
  }
  return (t[0] - '0') * 10 + (t[1] - '0') < 24 && (t[3] - '0') * 10 + (t[4] - '0') < 60;
}

// The WHERE clause of find/count/summarize, or an error result for a bad filter value.
absl::StatusOr<bool> BuildWhere(const ToolContext& c, int e, std::string* where,
                                std::vector<Value>* params, ToolResult* bad) {
  std::vector<std::string> conds = {"1"};
  if (c.args.Has("name")) {
    conds.push_back("instr(lower(name), lower(?)) > 0");
    params->push_back(c.args.Str("name"));
  }
  for (const ColumnDef& col : Columns(c.s, e)) {
    if (!c.args.Has(col.name)) continue;
    const std::string& v = c.args.Str(col.name);
    if (col.references >= 0) {
      ASSIGN_OR_RETURN(QueryResult q, RowById(c, col.references, v, bad));
      if (q.rows.empty()) return false;
    } else if (col.type == AttrType::kEnum) {
      const auto& values = col.attr->values;
      if (std::find(values.begin(), values.end(), v) == values.end()) {
        *bad = ErrorResult(absl::StrCat(col.name, " must be one of ", absl::StrJoin(values, ", "),
                                        " (got '", v, "')"));
        return false;
      }
    } else {
      continue;
    }
    conds.push_back(absl::StrCat(col.name, " = ?"));
    params->push_back(v);
  }
  const Entity& ent = c.s.entities[e];
  for (const Attribute& a : ent.attrs) {
    const std::string param = absl::StrCat("min_", a.name);
    if (a.type != AttrType::kInt || !c.args.Has(param)) continue;
    conds.push_back(absl::StrCat(a.name, " >= ?"));
    params->push_back(c.args.Int(param));
  }
  if (ent.role == Role::kResource && c.args.Has(c.tools.MaxPriceParam(e))) {
    conds.push_back(absl::StrCat(ent.price, " <= ?"));
    params->push_back(c.args.Int(c.tools.MaxPriceParam(e)));
  }
  *where = absl::StrJoin(conds, " AND ");
  return true;
}

absl::StatusOr<ToolResult> RunSearch(const ToolContext& c, const WorldTool& t) {
  const Entity& ent = c.s.entities[t.entity];
  std::string where;
  std::vector<Value> params;
  ToolResult bad;
  ASSIGN_OR_RETURN(bool ok, BuildWhere(c, t.entity, &where, &params, &bad));
  if (!ok) return bad;
  if (t.kind == ToolKind::kSummarize) {
    const std::string& p = ent.price;
    ASSIGN_OR_RETURN(QueryResult q,
                     c.db->Query(absl::StrFormat("SELECT COUNT(*), COALESCE(MIN(%s), 0), "
                                                 "COALESCE(MAX(%s), 0), COALESCE(SUM(%s), 0) FROM "
                                                 "%s WHERE %s",
                                                 p, p, p, ent.kind, where),
                                 params));
    Json o = Json::Object();
    o.Set("count", Json::Int(IntAt(q, 0, 0)));
    o.Set(absl::StrCat("lowest_", p), Json::Int(IntAt(q, 0, 1)));
    o.Set(absl::StrCat("highest_", p), Json::Int(IntAt(q, 0, 2)));
    o.Set(absl::StrCat("total_", p), Json::Int(IntAt(q, 0, 3)));
    return Ok(o);
  }
  ASSIGN_OR_RETURN(
      QueryResult count,
      c.db->Query(absl::StrCat("SELECT COUNT(*) FROM ", ent.kind, " WHERE ", where), params));
  const int64_t total = IntAt(count);
  if (t.kind == ToolKind::kCount) {
    Json o = Json::Object();
    o.Set("count", Json::Int(total));
    return Ok(o);
  }
  const int64_t pages =
      std::max<int64_t>(1, (total + WorldTools::kPageSize - 1) / WorldTools::kPageSize);
  const int64_t page = c.args.Has("page") ? c.args.Int("page") : 1;
  if (page < 1 || page > pages) {
    return ErrorResult(absl::StrFormat("page %d is out of range: there %s %d page%s", page,
                                       pages == 1 ? "is" : "are", pages, pages == 1 ? "" : "s"));
  }
  std::vector<std::string> cols;
  for (const ColumnDef& col : Columns(c.s, t.entity)) {
    if (col.attr == nullptr || col.type == AttrType::kEnum || col.type == AttrType::kMoney) {
      cols.push_back(col.name);
    }
  }
  ASSIGN_OR_RETURN(
      QueryResult rows,
      c.db->Query(absl::StrFormat("SELECT %s FROM %s WHERE %s ORDER BY rowid LIMIT "
                                  "%d OFFSET %d",
                                  absl::StrJoin(cols, ", "), ent.kind, where, WorldTools::kPageSize,
                                  (page - 1) * WorldTools::kPageSize),
                  params));
  Json o = Json::Object();
  o.Set("total", Json::Int(total));
  o.Set("page", Json::Int(page));
  o.Set("pages", Json::Int(pages));
  o.Set("results", RowsJson(rows));
  return Ok(o);
}

// kLinked, kLinkedReverse, kPrerequisites, kBookingsOf: rows joined to one given row.
absl::StatusOr<ToolResult> RunJoin(const ToolContext& c, const WorldTool& t) {
  const std::string& key = t.spec.parameters(0).name();
  const std::string& id = c.args.Str(key);
  std::string sql;
  int from = -1;  // the entity whose id is given
  std::string label;
  if (t.kind == ToolKind::kBookingsOf) {
    from = c.s.actor;
    label = c.s.entities[t.entity].plural;
    sql = absl::StrCat("SELECT * FROM ", c.s.entities[t.entity].kind, " WHERE ", key,
                       " = ? ORDER BY rowid");
  } else {
    const Relation& r = c.s.relations[t.relation];
    const bool forward = t.kind != ToolKind::kLinkedReverse;
    from = forward ? r.parent : r.child;
    const int shown = forward ? r.child : r.parent;
    label = t.kind == ToolKind::kPrerequisites ? "prerequisites" : c.s.entities[shown].plural;
    sql = absl::StrFormat(
        "SELECT x.id, x.name FROM %s x JOIN %s l ON l.%s = x.id WHERE l.%s = ? ORDER BY x.rowid",
        c.s.entities[shown].kind, r.table, forward ? r.other_column : r.column,
        forward ? r.column : r.other_column);
  }
  ToolResult missing;
  ASSIGN_OR_RETURN(QueryResult row, RowById(c, from, id, &missing));
  if (row.rows.empty()) return missing;
  ASSIGN_OR_RETURN(QueryResult q, c.db->Query(sql, {Value(id)}));
  Json o = Json::Object();
  o.Set(key, Json::String(id));
  o.Set(label, RowsJson(q));
  return Ok(o);
}

}  // namespace

absl::StatusOr<ToolResult> WorldTools::RunChecked(const WorldTool& tool, const ToolCall& call,
                                                  SqliteDb* db) const {
  ToolArgs args;
  ToolResult error;
  if (CheckCall(tool.spec, call, &args, &error) != nullptr) return error;
  const ToolContext c{schema_, *this, db, args};
  switch (tool.kind) {
    case ToolKind::kGet: {
      ToolResult missing;
      ASSIGN_OR_RETURN(QueryResult q,
                       RowById(c, tool.entity, args.Str(IdParam(tool.entity)), &missing));
      if (q.rows.empty()) return missing;
      return Ok(RowsJson(q).array()[0]);
    }
    case ToolKind::kFind:
    case ToolKind::kCount:
    case ToolKind::kSummarize:
      return RunSearch(c, tool);
    case ToolKind::kLinked:
    case ToolKind::kLinkedReverse:
    case ToolKind::kPrerequisites:
    case ToolKind::kBookingsOf:
      return RunJoin(c, tool);
    default:
      return RunBookingTool(c, tool);
  }
}

bool IsValidDate(const std::string& d) { return ValidDate(d); }
bool IsValidTime(const std::string& t) { return ValidTime(t); }

int64_t IntAt(const QueryResult& q, size_t row, size_t col) {
  if (row >= q.rows.size() || col >= q.rows[row].size()) return 0;
  const int64_t* v = std::get_if<int64_t>(&q.rows[row][col]);
  return v == nullptr ? 0 : *v;
}

absl::StatusOr<QueryResult> RowById(const ToolContext& c, int e, const std::string& id,
                                    ToolResult* missing) {
  ASSIGN_OR_RETURN(QueryResult q, c.db->Query(absl::StrCat("SELECT * FROM ", c.s.entities[e].kind,
                                                           " WHERE id = ?"),
                                              {Value(id)}));
  if (q.rows.empty()) {
    *missing = ErrorResult(absl::StrCat("no ", c.s.entities[e].kind, " has id '", id, "'"));
  }
  return q;
}

}  // namespace dsarl::envs::world
