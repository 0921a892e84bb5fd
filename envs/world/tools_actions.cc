// The tools that check and change state: availability, booking with its preconditions (the row
// exists, a valid date and time within opening hours, a place left, no duplicate, prerequisites
// booked, enough balance), cancelling with refunds, and transfers between actors.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "envs/toolbox.h"
#include "envs/world/tools_internal.h"

namespace dsarl::envs::world {
namespace {

using Ctx = ToolContext;

std::string TextAt(const QueryResult& q, const std::string& col) {
  for (size_t c = 0; c < q.columns.size(); ++c) {
    if (q.columns[c] == col && !q.rows.empty()) return ValueText(q.rows[0][c]);
  }
  return "";
}

int64_t IntCol(const QueryResult& q, const std::string& col) {
  for (size_t c = 0; c < q.columns.size(); ++c) {
    if (q.columns[c] == col && !q.rows.empty()) {
      const int64_t* v = std::get_if<int64_t>(&q.rows[0][c]);
      return v == nullptr ? 0 : *v;
    }
  }
  return 0;
}

// The row of entity `e` named by argument `param`; sets *missing when there is none.
absl::StatusOr<QueryResult> Row(const Ctx& c, int e, const std::string& param,
                                ToolResult* missing) {
  return RowById(c, e, c.args.Str(param), missing);
}

int BookingOf(const Schema& s, int resource) {
  for (size_t i = 0; i < s.resources.size(); ++i) {
    if (s.resources[i] == resource) return s.bookings[i];
  }
  return -1;
}

absl::StatusOr<int64_t> ActiveOn(const Ctx& c, int r, const std::string& id,
                                 const std::string& date) {
  ASSIGN_OR_RETURN(
      QueryResult q,
      c.db->Query(absl::StrFormat("SELECT COUNT(*) FROM %s WHERE %s_id = ? AND date = "
                                  "? AND status = 'active'",
                                  c.s.entities[BookingOf(c.s, r)].kind, c.s.entities[r].kind),
                  {Value(id), Value(date)}));
  return IntAt(q);
}

absl::StatusOr<ToolResult> Availability(const Ctx& c, const WorldTool& t) {
  ToolResult missing;
  const std::string key = c.tools.IdParam(t.entity);
  ASSIGN_OR_RETURN(QueryResult res, Row(c, t.entity, key, &missing));
  if (res.rows.empty()) return missing;
  const std::string& date = c.args.Str("date");
  if (!IsValidDate(date))
    return ErrorResult(absl::StrCat("date must be YYYY-MM-DD (got '", date, "')"));
  Json o = Json::Object();
  o.Set(key, Json::String(c.args.Str(key)));
  o.Set("date", Json::String(date));
  if (c.s.constraints.capacity) {
    ASSIGN_OR_RETURN(int64_t active, ActiveOn(c, t.entity, c.args.Str(key), date));
    const int64_t cap = IntCol(res, "capacity");
    o.Set("capacity", Json::Int(cap));
    o.Set("booked", Json::Int(active));
    o.Set("places_left", Json::Int(std::max<int64_t>(0, cap - active)));
  }
  if (c.s.constraints.hours) {
    o.Set("opens", Json::String(TextAt(res, "opens")));
    o.Set("closes", Json::String(TextAt(res, "closes")));
  }
  return ToolResult{o.Dump(), false};
}

// The prerequisites of resource `id` the actor has no active booking of, by name.
absl::StatusOr<std::vector<std::string>> MissingPrerequisites(const Ctx& c, int r,
                                                              const std::string& id,
                                                              const std::string& actor) {
  const Relation& rel = c.s.relations[c.s.prerequisite_relation];
  const std::string& kind = c.s.entities[r].kind;
  ASSIGN_OR_RETURN(
      QueryResult q,
      c.db->Query(absl::StrFormat("SELECT x.name FROM %s x JOIN %s l ON l.requires_id = x.id WHERE "
                                  "l.%s = ? AND NOT EXISTS (SELECT 1 FROM %s b WHERE b.%s_id = "
                                  "x.id AND b.%s = ? AND b.status = 'active') ORDER BY x.rowid",
                                  kind, rel.table, rel.column, c.s.entities[BookingOf(c.s, r)].kind,
                                  kind, c.tools.IdParam(c.s.actor)),
                  {Value(id), Value(actor)}));
  std::vector<std::string> out;
  for (const auto& row : q.rows) out.push_back(ValueText(row[0]));
  return out;
}

// Why the actor cannot book: "" when every precondition holds.
absl::StatusOr<std::string> BookingRefusal(const Ctx& c, int r, const QueryResult& res,
                                           const QueryResult& actor) {
  const std::string& id = TextAt(res, "id");
  const std::string& date = c.args.Str("date");
  const std::string name = TextAt(res, "name");
  if (!IsValidDate(date)) return absl::StrCat("date must be YYYY-MM-DD (got '", date, "')");
  if (c.s.constraints.hours) {
    const std::string& time = c.args.Str("time");
    if (!IsValidTime(time)) return absl::StrCat("time must be HH:MM (got '", time, "')");
    const std::string opens = TextAt(res, "opens"), closes = TextAt(res, "closes");
    if (time < opens || time >= closes) {
      return absl::StrCat(name, " is closed at ", time, " (open ", opens, " to ", closes, ")");
    }
  }
  const int b = BookingOf(c.s, r);
  const std::string actor_col = c.tools.IdParam(c.s.actor);
  ASSIGN_OR_RETURN(
      QueryResult dup,
      c.db->Query(absl::StrFormat("SELECT COUNT(*) FROM %s WHERE %s = ? AND %s_id = ? "
                                  "AND date = ? AND status = 'active'",
                                  c.s.entities[b].kind, actor_col, c.s.entities[r].kind),
                  {Value(TextAt(actor, "id")), Value(id), Value(date)}));
  if (IntAt(dup) > 0)
    return absl::StrCat(TextAt(actor, "name"), " already has ", name, " on ", date);
  if (c.s.constraints.capacity) {
    ASSIGN_OR_RETURN(int64_t active, ActiveOn(c, r, id, date));
    if (active >= IntCol(res, "capacity")) {
      return absl::StrFormat("%s is full on %s (capacity %d)", name, date, IntCol(res, "capacity"));
    }
  }
  if (c.s.constraints.prerequisites && r == c.s.resources[0]) {
    ASSIGN_OR_RETURN(std::vector<std::string> missing,
                     MissingPrerequisites(c, r, id, TextAt(actor, "id")));
    if (!missing.empty()) {
      return absl::StrCat(name, " requires ", absl::StrJoin(missing, ", "), " first");
    }
  }
  if (c.s.constraints.budget) {
    const int64_t price = IntCol(res, c.s.entities[r].price);
    const int64_t balance = IntCol(actor, c.s.balance);
    if (balance < price) {
      return absl::StrFormat("%s's %s %d is less than the %s %d", TextAt(actor, "name"),
                             c.s.balance, balance, c.s.entities[r].price, price);
    }
  }
  return std::string();
}

absl::StatusOr<ToolResult> Book(const Ctx& c, const WorldTool& t) {
  const int r = t.entity;
  const int b = BookingOf(c.s, r);
  ToolResult missing;
  ASSIGN_OR_RETURN(QueryResult actor, Row(c, c.s.actor, c.tools.IdParam(c.s.actor), &missing));
  if (actor.rows.empty()) return missing;
  ASSIGN_OR_RETURN(QueryResult res, Row(c, r, c.tools.IdParam(r), &missing));
  if (res.rows.empty()) return missing;
  ASSIGN_OR_RETURN(std::string refusal, BookingRefusal(c, r, res, actor));
  if (!refusal.empty()) return ErrorResult(refusal);
  const Entity& be = c.s.entities[b];
  ASSIGN_OR_RETURN(QueryResult n, c.db->Query(absl::StrCat("SELECT COUNT(*) FROM ", be.kind)));
  const std::string new_id = absl::StrCat(be.prefix, IntAt(n) + 1);
  const int64_t price = IntCol(res, c.s.entities[r].price);
  std::vector<std::string> cols;
  std::vector<Value> values;
  for (const ColumnDef& col : Columns(c.s, b)) {
    cols.push_back(col.name);
    if (col.name == "id") values.emplace_back(new_id);
    if (col.references == c.s.actor) values.emplace_back(TextAt(actor, "id"));
    if (col.references == r) values.emplace_back(TextAt(res, "id"));
    if (col.name == "date" || col.name == "time") values.emplace_back(c.args.Str(col.name));
    if (col.name == "status") values.emplace_back(std::string("active"));
    if (col.name == "paid") values.emplace_back(price);
  }
  std::vector<std::string> marks(cols.size(), "?");
  RETURN_IF_ERROR(c.db->Query(absl::StrCat("INSERT INTO ", be.kind, " (", absl::StrJoin(cols, ", "),
                                           ") VALUES (", absl::StrJoin(marks, ", "), ")"),
                              values)
                      .status());
  Json o = Json::Object();
  o.Set(c.tools.IdParam(b), Json::String(new_id));
  o.Set("status", Json::String("active"));
  if (c.s.constraints.budget) {
    const int64_t left = IntCol(actor, c.s.balance) - price;
    RETURN_IF_ERROR(c.db->Query(absl::StrFormat("UPDATE %s SET %s = ? WHERE id = ?",
                                                c.s.entities[c.s.actor].kind, c.s.balance),
                                {Value(left), Value(TextAt(actor, "id"))})
                        .status());
    o.Set("charged", Json::Int(price));
    o.Set(c.s.balance, Json::Int(left));
  }
  return ToolResult{o.Dump(), false};
}

absl::StatusOr<ToolResult> Cancel(const Ctx& c, const WorldTool& t) {
  ToolResult missing;
  const std::string key = c.tools.IdParam(t.entity);
  ASSIGN_OR_RETURN(QueryResult bk, Row(c, t.entity, key, &missing));
  if (bk.rows.empty()) return missing;
  if (TextAt(bk, "status") != "active") {
    return ErrorResult(
        absl::StrCat(c.s.entities[t.entity].kind, " ", TextAt(bk, "id"), " is already cancelled"));
  }
  RETURN_IF_ERROR(c.db->Query(absl::StrCat("UPDATE ", c.s.entities[t.entity].kind,
                                           " SET status = 'cancelled' WHERE id = ?"),
                              {Value(TextAt(bk, "id"))})
                      .status());
  Json o = Json::Object();
  o.Set(key, Json::String(TextAt(bk, "id")));
  o.Set("status", Json::String("cancelled"));
  if (c.s.constraints.budget) {
    const int64_t paid = IntCol(bk, "paid");
    const std::string actor_id = TextAt(bk, c.tools.IdParam(c.s.actor));
    RETURN_IF_ERROR(
        c.db->Query(absl::StrFormat("UPDATE %s SET %s = %s + ? WHERE id = ?",
                                    c.s.entities[c.s.actor].kind, c.s.balance, c.s.balance),
                    {Value(paid), Value(actor_id)})
            .status());
    o.Set("refunded", Json::Int(paid));
  }
  return ToolResult{o.Dump(), false};
}

absl::StatusOr<ToolResult> Transfer(const Ctx& c) {
  const std::string id = c.tools.IdParam(c.s.actor);
  ToolResult missing;
  ASSIGN_OR_RETURN(QueryResult from, Row(c, c.s.actor, absl::StrCat("from_", id), &missing));
  if (from.rows.empty()) return missing;
  ASSIGN_OR_RETURN(QueryResult to, Row(c, c.s.actor, absl::StrCat("to_", id), &missing));
  if (to.rows.empty()) return missing;
  const int64_t amount = c.args.Int("amount");
  if (TextAt(from, "id") == TextAt(to, "id"))
    return ErrorResult("cannot transfer to the same account");
  if (amount <= 0) return ErrorResult(absl::StrCat("amount must be positive (got ", amount, ")"));
  const int64_t balance = IntCol(from, c.s.balance);
  if (balance < amount) {
    return ErrorResult(
        absl::StrFormat("%s has only %d %s", TextAt(from, "name"), balance, c.s.balance));
  }
  const std::string sql = absl::StrFormat("UPDATE %s SET %s = %s + ? WHERE id = ?",
                                          c.s.entities[c.s.actor].kind, c.s.balance, c.s.balance);
  RETURN_IF_ERROR(c.db->Query(sql, {Value(-amount), Value(TextAt(from, "id"))}).status());
  RETURN_IF_ERROR(c.db->Query(sql, {Value(amount), Value(TextAt(to, "id"))}).status());
  Json o = Json::Object();
  o.Set(absl::StrCat("from_", c.s.balance), Json::Int(balance - amount));
  o.Set(absl::StrCat("to_", c.s.balance), Json::Int(IntCol(to, c.s.balance) + amount));
  return ToolResult{o.Dump(), false};
}

}  // namespace

absl::StatusOr<ToolResult> RunBookingTool(const ToolContext& c, const WorldTool& tool) {
  switch (tool.kind) {
    case ToolKind::kAvailability:
      return Availability(c, tool);
    case ToolKind::kBook:
      return Book(c, tool);
    case ToolKind::kCancel:
      return Cancel(c, tool);
    case ToolKind::kTransfer:
      return Transfer(c);
    default:
      return ErrorResult("internal: not a booking tool");
  }
}

}  // namespace dsarl::envs::world
