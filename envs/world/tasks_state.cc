// state_change: goals that change the database, verified by comparing the end state with a replay
// of the reference actions (as tau-bench does). The ladder: a named booking (0); a conditional one
// that falls back to the next day when full, or two bookings (1); cancel and rebook (2); book the
// cheapest that fits stated constraints (3); book with the prerequisites first, or transfer the
// shortfall first (4).
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "envs/world/tasks_internal.h"

namespace dsarl::envs::world {
namespace {

// What the task maker knows while it plans: balance changes and bookings it already made.
struct Plan {
  const World& w;
  const WorldTools& tools;
  std::map<std::string, int64_t> balance_delta;                  // actor id -> change
  std::set<std::tuple<size_t, std::string, std::string>> added;  // (resource i, rid, date)
  std::set<std::pair<size_t, std::string>> added_any;            // (resource i, rid) by the actor
};

int64_t Balance(const Plan& p, size_t arow) {
  const Schema& s = p.w.schema;
  const TableRows& a = p.w.tables[s.actor];
  const std::string id = ValueText(a.rows[arow][0]);
  auto it = p.balance_delta.find(id);
  return a.Int(arow, s.balance) + (it == p.balance_delta.end() ? 0 : it->second);
}

// A time the resource row is open ("" without opening hours).
std::string OpenTime(const World& w, int r, size_t row, Rng& rng) {
  if (!w.schema.constraints.hours) return "";
  const TableRows& t = w.tables[r];
  const int opens = std::stoi(t.Text(row, "opens").substr(0, 2));
  const int closes = std::stoi(t.Text(row, "closes").substr(0, 2));
  return absl::StrFormat("%02d:00", static_cast<int>(rng.Uniform(opens, closes - 1)));
}

// Whether actor row `arow` can book resource row `rrow` (resource i) on `date` at `time`, given
// the plan so far (prerequisites counted only when `check_prereqs`).
bool CanBook(const Plan& p, size_t i, size_t arow, size_t rrow, const std::string& date,
             const std::string& time, bool check_prereqs = true) {
  const World& w = p.w;
  const Schema& s = w.schema;
  const int r = s.resources[i];
  const TableRows& t = w.tables[r];
  const std::string rid = ValueText(t.rows[rrow][0]);
  const std::string aid = ValueText(w.tables[s.actor].rows[arow][0]);
  if (HasActive(w, i, aid, rid, date) || p.added.count({i, rid, date})) return false;
  if (s.constraints.capacity &&
      ActiveCount(w, i, rid, date) + static_cast<int64_t>(p.added.count({i, rid, date})) >=
          t.Int(rrow, "capacity")) {
    return false;
  }
  if (s.constraints.hours && (time < t.Text(rrow, "opens") || time >= t.Text(rrow, "closes"))) {
    return false;
  }
  if (check_prereqs && s.constraints.prerequisites && i == 0) {
    for (const std::string& pre : Prerequisites(w, rid)) {
      if (!HasActive(w, 0, aid, pre, "") && !p.added_any.count({0, pre})) return false;
    }
  }
  return !s.constraints.budget || Balance(p, arow) >= t.Int(rrow, s.entities[r].price);
}

// The book call, and the plan's bookkeeping for it.
ToolCall Book(Plan* p, size_t i, size_t arow, size_t rrow, const std::string& date,
              const std::string& time) {
  const Schema& s = p->w.schema;
  const int r = s.resources[i];
  const std::string rid = ValueText(p->w.tables[r].rows[rrow][0]);
  const std::string aid = ValueText(p->w.tables[s.actor].rows[arow][0]);
  p->added.insert({i, rid, date});
  p->added_any.insert({i, rid});
  if (s.constraints.budget) p->balance_delta[aid] -= p->w.tables[r].Int(rrow, s.entities[r].price);
  Args a = {{p->tools.IdParam(s.actor), aid}, {p->tools.IdParam(r), rid}, {"date", date}};
  if (s.constraints.hours) a.push_back({"time", time});
  return CallOf(*p->tools.Of(ToolKind::kBook, r), std::move(a));
}

std::string At(const std::string& time) { return time.empty() ? "" : absl::StrCat(" at ", time); }

// Level 0 (and 1 without capacity: two bookings).
absl::StatusOr<WorldTask> NamedBooking(Plan* p, Rng& rng, int count) {
  const World& w = p->w;
  const Schema& s = w.schema;
  const size_t arow = rng.Index(w.tables[s.actor].rows.size());
  const std::string date = BookingDate(static_cast<int>(rng.Index(kBookingDays)));
  WorldTask t;
  std::vector<ToolCall> finds = {FindByName(w, p->tools, s.actor, arow)}, books;
  std::vector<std::string> what;
  for (int k = 0, tries = 0; k < count && tries < 40; ++tries) {
    const size_t i = rng.Index(s.resources.size());
    const int r = s.resources[i];
    const size_t rrow = rng.Index(w.tables[r].rows.size());
    const std::string time = OpenTime(w, r, rrow, rng);
    if (!CanBook(*p, i, arow, rrow, date, time)) continue;
    finds.push_back(FindByName(w, p->tools, r, rrow));
    books.push_back(Book(p, i, arow, rrow, date, time));
    what.push_back(absl::StrCat("the ", Human(s.entities[r].kind), " ",
                                w.tables[r].Text(rrow, "name"), At(time)));
    ++k;
  }
  if (static_cast<int>(books.size()) < count) return Unable("no bookable combination");
  t.rounds = {finds, books};
  t.user = absl::StrCat("Please ", s.verb, " ", absl::StrJoin(what, " and "), " for ",
                        w.tables[s.actor].Text(arow, "name"), " on ", date, ".");
  return t;
}

// Level 1 with capacity: the next day when the first is full.
absl::StatusOr<WorldTask> ConditionalBooking(Plan* p, Rng& rng) {
  const World& w = p->w;
  const Schema& s = w.schema;
  const size_t i = rng.Index(s.resources.size());
  const int r = s.resources[i];
  const WorldTool* avail = p->tools.Of(ToolKind::kAvailability, r);
  const size_t arow = rng.Index(w.tables[s.actor].rows.size());
  size_t rrow = rng.Index(w.tables[r].rows.size());
  int day = static_cast<int>(rng.Index(kBookingDays));
  // Half the time, a day that is full already (from the initial bookings).
  const TableRows& bk = w.tables[s.bookings[i]];
  if (rng.Chance(0.5)) {
    for (size_t k = 0; k < bk.rows.size(); ++k) {
      const std::string rid = bk.Text(k, p->tools.IdParam(r));
      const size_t row = w.tables[r].FindRow(rid);
      const std::string d = bk.Text(k, "date");
      if (ActiveCount(w, i, rid, d) >= w.tables[r].Int(row, "capacity")) {
        rrow = row;
        day = std::stoi(d.substr(8, 2)) - 1;
        break;
      }
    }
  }
  const std::string rid = ValueText(w.tables[r].rows[rrow][0]);
  const std::string time = OpenTime(w, r, rrow, rng);
  const std::string d0 = BookingDate(day), d1 = BookingDate(day + 1);
  const bool full = ActiveCount(w, i, rid, d0) >= w.tables[r].Int(rrow, "capacity");
  const std::string date = full ? d1 : d0;
  if (!CanBook(*p, i, arow, rrow, date, time)) return Unable("not bookable");
  if (!full && HasActive(w, i, ValueText(w.tables[s.actor].rows[arow][0]), rid, d0)) {
    return Unable("already booked");
  }
  WorldTask t;
  t.rounds = {{FindByName(w, p->tools, s.actor, arow), FindByName(w, p->tools, r, rrow)},
              {CallOf(*avail, {{p->tools.IdParam(r), rid}, {"date", d0}})},
              {Book(p, i, arow, rrow, date, time)}};
  t.user = absl::StrCat(
      "Please ", s.verb, " the ", Human(s.entities[r].kind), " ", w.tables[r].Text(rrow, "name"),
      " for ", w.tables[s.actor].Text(arow, "name"), " on ", d0, At(time),
      ". If it has no place left that day, ", s.verb, " it for ", d1, " instead.");
  return t;
}

// Level 2: cancel an active booking and book another resource of the same kind that day.
absl::StatusOr<WorldTask> CancelRebook(Plan* p, Rng& rng) {
  const World& w = p->w;
  const Schema& s = w.schema;
  const size_t i = rng.Index(s.resources.size());
  const int r = s.resources[i], b = s.bookings[i];
  const TableRows& bk = w.tables[b];
  std::vector<size_t> active;
  for (size_t k = 0; k < bk.rows.size(); ++k) {
    if (bk.Text(k, "status") == "active") active.push_back(k);
  }
  if (active.empty()) return Unable("no active booking");
  const size_t k = active[rng.Index(active.size())];
  const std::string aid = bk.Text(k, p->tools.IdParam(s.actor));
  const std::string old_rid = bk.Text(k, p->tools.IdParam(r));
  const std::string date = bk.Text(k, "date");
  const size_t arow = w.tables[s.actor].FindRow(aid);
  const size_t old_row = w.tables[r].FindRow(old_rid);
  if (s.constraints.budget) p->balance_delta[aid] += bk.Int(k, "paid");
  const size_t rrow = rng.Index(w.tables[r].rows.size());
  const std::string time = OpenTime(w, r, rrow, rng);
  const std::vector<std::string> pre = Prerequisites(w, ValueText(w.tables[r].rows[rrow][0]));
  if (rrow == old_row || std::find(pre.begin(), pre.end(), old_rid) != pre.end() ||
      !CanBook(*p, i, arow, rrow, date, time)) {
    return Unable("no replacement");
  }
  // Another active booking of the same resource that day would make "the booking" ambiguous.
  int same = 0;
  for (size_t j : active) {
    same += bk.Text(j, p->tools.IdParam(s.actor)) == aid &&
            bk.Text(j, p->tools.IdParam(r)) == old_rid && bk.Text(j, "date") == date;
  }
  if (same != 1) return Unable("ambiguous booking");
  WorldTask t;
  t.rounds = {
      {FindByName(w, p->tools, s.actor, arow), FindByName(w, p->tools, r, rrow)},
      {CallOf(*p->tools.Of(ToolKind::kBookingsOf, b), {{p->tools.IdParam(s.actor), aid}})},
      {CallOf(*p->tools.Of(ToolKind::kCancel, b), {{p->tools.IdParam(b), bk.Text(k, "id")}})},
      {Book(p, i, arow, rrow, date, time)}};
  t.user = absl::StrCat(w.tables[s.actor].Text(arow, "name"), " wants to switch from ",
                        w.tables[r].Text(old_row, "name"), " to ", w.tables[r].Text(rrow, "name"),
                        " on ", date, At(time), ". Cancel the old ", Human(s.entities[b].kind),
                        " and ", s.verb, " the new one.");
  return t;
}

// Level 3: book the cheapest resource of a hub that meets the stated constraints.
absl::StatusOr<WorldTask> PlannedBooking(Plan* p, Rng& rng) {
  const World& w = p->w;
  const Schema& s = w.schema;
  const size_t i = rng.Index(s.resources.size());
  const int r = s.resources[i];
  const size_t arow = rng.Index(w.tables[s.actor].rows.size());
  const size_t h = rng.Index(w.tables[s.hub].rows.size());
  const std::string date = BookingDate(static_cast<int>(rng.Index(kBookingDays)));
  Search q{
      r, {{p->tools.IdParam(s.hub), ValueText(w.tables[s.hub].rows[h][0])}}, "", std::nullopt, {}};
  std::vector<std::string> phrases;
  if (const ColumnDef* e = EnumAttr(w, r, rng)) {
    const std::string v = e->attr->values[rng.Index(e->attr->values.size())];
    q.equals.push_back({e->name, v});
    phrases.push_back(absl::StrCat("whose ", Human(e->name), " is ", v));
  }
  std::string time;
  if (s.constraints.hours) {
    time = absl::StrFormat("%02d:00", static_cast<int>(rng.Uniform(9, 15)));
    phrases.push_back(absl::StrCat("that is open at ", time));
  }
  if (s.constraints.capacity) phrases.push_back(absl::StrCat("that has a place left on ", date));
  if (s.constraints.budget) {
    phrases.push_back(absl::StrCat("that ", w.tables[s.actor].Text(arow, "name"), " can afford"));
  }
  auto stated = [&](size_t row) { return CanBook(*p, i, arow, row, date, time, false); };
  std::vector<size_t> order;
  ASSIGN_OR_RETURN(size_t rrow, Cheapest(w, r, Matches(w, q), stated, &order));
  if (!CanBook(*p, i, arow, rrow, date, time)) return Unable("prerequisites missing");
  WorldTask t;
  t.rounds = {{FindByName(w, p->tools, s.actor, arow), FindByName(w, p->tools, s.hub, h)},
              FindCalls(w, p->tools, q)};
  if (const WorldTool* avail = p->tools.Of(ToolKind::kAvailability, r)) {
    std::vector<ToolCall> checks;
    for (size_t row : order) {
      checks.push_back(CallOf(
          *avail, {{p->tools.IdParam(r), ValueText(w.tables[r].rows[row][0])}, {"date", date}}));
    }
    t.rounds.push_back(std::move(checks));
  }
  t.rounds.push_back({Book(p, i, arow, rrow, date, time)});
  t.user = absl::StrCat("Please ", s.verb, " for ", w.tables[s.actor].Text(arow, "name"), " on ",
                        date, At(time), " the cheapest ", Human(s.entities[r].kind), " in the ",
                        Human(s.entities[s.hub].kind), " ", w.tables[s.hub].Text(h, "name"),
                        phrases.empty() ? "" : " ", absl::StrJoin(phrases, ", "), ".");
  return t;
}

// Level 4: the prerequisites the actor lacks first, then the resource, all on one date.
absl::StatusOr<WorldTask> PrerequisiteBooking(Plan* p, Rng& rng) {
  const World& w = p->w;
  const Schema& s = w.schema;
  const int r = s.resources[0];
  const TableRows& t0 = w.tables[r];
  const size_t arow = rng.Index(w.tables[s.actor].rows.size());
  const std::string aid = ValueText(w.tables[s.actor].rows[arow][0]);
  const size_t rrow = rng.Index(t0.rows.size());
  const std::vector<std::string> pre = Prerequisites(w, ValueText(t0.rows[rrow][0]));
  if (pre.empty()) return Unable("no prerequisites");
  const std::string date = BookingDate(static_cast<int>(rng.Index(kBookingDays)));
  std::vector<size_t> rows = {rrow};
  for (const std::string& id : pre) rows.push_back(t0.FindRow(id));
  std::string time;
  if (s.constraints.hours) {
    std::string opens = "00:00", closes = "99:99";
    for (size_t row : rows) {
      opens = std::max(opens, t0.Text(row, "opens"));
      closes = std::min(closes, t0.Text(row, "closes"));
    }
    if (opens >= closes) return Unable("no common opening time");
    time = opens;
  }
  WorldTask t;
  t.rounds = {{FindByName(w, p->tools, s.actor, arow), FindByName(w, p->tools, r, rrow)},
              {CallOf(*p->tools.Of(ToolKind::kPrerequisites, r),
                      {{p->tools.IdParam(r), ValueText(t0.rows[rrow][0])}}),
               CallOf(*p->tools.Of(ToolKind::kBookingsOf, s.bookings[0]),
                      {{p->tools.IdParam(s.actor), aid}})}};
  std::vector<ToolCall> first;
  for (size_t k = 1; k < rows.size(); ++k) {
    if (HasActive(w, 0, aid, pre[k - 1], "")) continue;
    if (!CanBook(*p, 0, arow, rows[k], date, time))
      return Unable("a prerequisite cannot be booked");
    first.push_back(Book(p, 0, arow, rows[k], date, time));
  }
  if (first.empty()) return Unable("every prerequisite is booked already");
  if (!CanBook(*p, 0, arow, rrow, date, time))
    return Unable("not bookable after its prerequisites");
  t.rounds.push_back(std::move(first));
  t.rounds.push_back({Book(p, 0, arow, rrow, date, time)});
  t.user = absl::StrCat("Please ", s.verb, " the ", Human(s.entities[r].kind), " ",
                        t0.Text(rrow, "name"), " for ", w.tables[s.actor].Text(arow, "name"),
                        " on ", date, At(time), ". First ", s.verb, " on the same date",
                        time.empty() ? "" : " and time",
                        " each of its prerequisites they have no active ",
                        Human(s.entities[s.bookings[0]].kind), " of.");
  return t;
}

// Level 4: the actor cannot afford it; another actor transfers exactly the shortfall first.
absl::StatusOr<WorldTask> TransferBooking(Plan* p, Rng& rng) {
  const World& w = p->w;
  const Schema& s = w.schema;
  const TableRows& actors = w.tables[s.actor];
  const size_t i = rng.Index(s.resources.size());
  const int r = s.resources[i];
  const size_t arow = rng.Index(actors.rows.size()), brow = rng.Index(actors.rows.size());
  const size_t rrow = rng.Index(w.tables[r].rows.size());
  const int64_t price = w.tables[r].Int(rrow, s.entities[r].price);
  const int64_t shortfall = price - Balance(*p, arow);
  if (arow == brow || shortfall <= 0 || Balance(*p, brow) < shortfall)
    return Unable("no shortfall");
  const std::string date = BookingDate(static_cast<int>(rng.Index(kBookingDays)));
  const std::string time = OpenTime(w, r, rrow, rng);
  const std::string aid = ValueText(actors.rows[arow][0]), bid = ValueText(actors.rows[brow][0]);
  p->balance_delta[aid] += shortfall;
  p->balance_delta[bid] -= shortfall;
  if (!CanBook(*p, i, arow, rrow, date, time)) return Unable("not bookable");
  const std::string id = p->tools.IdParam(s.actor);
  WorldTask t;
  t.rounds = {
      {FindByName(w, p->tools, s.actor, arow), FindByName(w, p->tools, s.actor, brow),
       FindByName(w, p->tools, r, rrow)},
      {CallOf(*p->tools.Of(ToolKind::kTransfer, s.actor), {{absl::StrCat("from_", id), bid},
                                                           {absl::StrCat("to_", id), aid},
                                                           {"amount", absl::StrCat(shortfall)}})},
      {Book(p, i, arow, rrow, date, time)}};
  t.user = absl::StrCat(
      actors.Text(arow, "name"), " wants the ", Human(s.entities[r].kind), " ",
      w.tables[r].Text(rrow, "name"), " on ", date, At(time), " but cannot afford it. ",
      actors.Text(brow, "name"), " covers exactly the shortfall: transfer it from ",
      actors.Text(brow, "name"), "'s ", Human(s.balance), ", then ", s.verb, " it.");
  return t;
}

}  // namespace

absl::StatusOr<WorldTask> StateChangeTask(const World& w, const WorldTools& tools, Rng& rng,
                                          int level) {
  Plan p{w, tools, {}, {}, {}};
  absl::StatusOr<WorldTask> t = Unable("no level");
  switch (level) {
    case 0:
      t = NamedBooking(&p, rng, 1);
      break;
    case 1:
      t = w.schema.constraints.capacity ? ConditionalBooking(&p, rng) : NamedBooking(&p, rng, 2);
      break;
    case 2:
      t = CancelRebook(&p, rng);
      break;
    case 3:
      t = PlannedBooking(&p, rng);
      break;
    default:
      if (w.schema.constraints.prerequisites && rng.Chance(0.5)) {
        t = PrerequisiteBooking(&p, rng);
      } else if (tools.Of(ToolKind::kTransfer, w.schema.actor) != nullptr) {
        t = TransferBooking(&p, rng);
      } else {
        t = PlannedBooking(&p, rng);
      }
  }
  if (t.ok()) t->family = "state_change";
  return t;
}

}  // namespace dsarl::envs::world
