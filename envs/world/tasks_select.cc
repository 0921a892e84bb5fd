// constrained_selection: the cheapest resource that meets 1..4 constraints (an enum value, a price
// cap, a place left on a date, open at a time), and at the top of the ladder a trip-planning pick:
// the cheapest of each resource kind in one hub with a place left, and what they cost together.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "envs/world/tasks_internal.h"

namespace dsarl::envs::world {

absl::StatusOr<size_t> Cheapest(const World& w, int r, const std::vector<size_t>& rows,
                                const std::function<bool(size_t)>& ok, std::vector<size_t>* order) {
  std::vector<size_t> sorted = rows;
  const TableRows& t = w.tables[r];
  const std::string& price = w.schema.entities[r].price;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](size_t a, size_t b) { return t.Int(a, price) < t.Int(b, price); });
  for (size_t k = 0; k < sorted.size(); ++k) {
    if (order != nullptr) order->push_back(sorted[k]);
    if (!ok(sorted[k])) continue;
    for (size_t j = k + 1; j < sorted.size(); ++j) {
      if (t.Int(sorted[j], price) == t.Int(sorted[k], price) && ok(sorted[j])) {
        return Unable("two candidates share the lowest price");
      }
    }
    return sorted[k];
  }
  return Unable("no candidate meets the constraints");
}

namespace {

// One pick: the search, the date/time conditions, the calls and the chosen row.
struct Pick {
  Search q;
  std::string date, time;  // non-empty: must have a place left that day / be open then
  std::vector<std::string> phrases;
  std::vector<ToolCall> calls;   // the searches (one round)
  std::vector<ToolCall> checks;  // availability of the candidates they found (the next round)
  size_t row = 0;
};

absl::Status Choose(const World& w, const WorldTools& tools, size_t ri, Pick* p) {
  const Schema& s = w.schema;
  const int r = s.resources[ri];
  const TableRows& t = w.tables[r];
  auto ok = [&](size_t row) {
    const std::string rid = ValueText(t.rows[row][0]);
    if (!p->date.empty() && s.constraints.capacity &&
        ActiveCount(w, ri, rid, p->date) >= t.Int(row, "capacity")) {
      return false;
    }
    if (!p->time.empty() && (p->time < t.Text(row, "opens") || p->time >= t.Text(row, "closes"))) {
      return false;
    }
    return true;
  };
  std::vector<size_t> order;
  ASSIGN_OR_RETURN(p->row, Cheapest(w, r, Matches(w, p->q), ok, &order));
  p->calls = FindCalls(w, tools, p->q);
  if (!p->date.empty()) {
    const WorldTool* avail = tools.Of(ToolKind::kAvailability, r);
    if (avail == nullptr) return Unable("no availability tool");
    for (size_t row : order) {
      p->checks.push_back(
          CallOf(*avail, {{tools.IdParam(r), ValueText(t.rows[row][0])}, {"date", p->date}}));
    }
  }
  return absl::OkStatus();
}

// The constraints of a pick at `level`, as many as the schema offers up to level + 1.
void Constrain(const World& w, const WorldTools& tools, size_t ri, size_t h, int level, Rng& rng,
               Pick* p) {
  const Schema& s = w.schema;
  const int r = s.resources[ri];
  const Entity& res = s.entities[r];
  p->q = Search{
      r, {{tools.IdParam(s.hub), ValueText(w.tables[s.hub].rows[h][0])}}, "", std::nullopt, {}};
  int budget = level + 1;
  std::vector<const ColumnDef*> enums;
  for (const ColumnDef& c : w.tables[r].columns) {
    if (c.type == AttrType::kEnum && c.attr != nullptr) enums.push_back(&c);
  }
  rng.Shuffle(&enums);
  if (!enums.empty()) {
    const ColumnDef* e = enums[0];
    const std::string v = e->attr->values[rng.Index(e->attr->values.size())];
    p->q.equals.push_back({e->name, v});
    p->phrases.push_back(absl::StrCat("whose ", Human(e->name), " is ", v));
    --budget;
  }
  if (budget > 0 && level >= 1 && s.constraints.capacity) {
    p->date = BookingDate(static_cast<int>(rng.Index(kBookingDays)));
    p->phrases.push_back(absl::StrCat("that has a place left on ", p->date));
    --budget;
  }
  if (budget > 0 && level >= 2 && s.constraints.hours) {
    if (p->date.empty()) p->date = BookingDate(static_cast<int>(rng.Index(kBookingDays)));
    p->time = absl::StrCat(rng.Uniform(7, 20), ":30");
    if (p->time.size() == 4) p->time = "0" + p->time;
    p->phrases.push_back(absl::StrCat("that is open at ", p->time));
    --budget;
  }
  if (budget > 0) {
    const TableRows& t = w.tables[r];
    int64_t hi = 0;
    for (size_t k = 0; k < t.rows.size(); ++k) hi = std::max(hi, t.Int(k, res.price));
    p->q.max_price = hi / 2 + rng.Uniform(0, hi / 2);
    p->phrases.push_back(absl::StrCat("with ", Human(res.price), " at most ", *p->q.max_price));
    --budget;
  }
  std::vector<const ColumnDef*> ints;
  for (const ColumnDef& c : w.tables[r].columns) {
    if (c.type == AttrType::kInt && c.attr != nullptr && c.name != "capacity") ints.push_back(&c);
  }
  if (budget > 0 && !ints.empty()) {
    const ColumnDef* c = ints[rng.Index(ints.size())];
    const int64_t lo = w.tables[r].Int(rng.Index(w.tables[r].rows.size()), c->name);
    p->q.at_least.push_back({c->name, lo});
    p->phrases.push_back(absl::StrCat("with ", Human(c->name), " at least ", lo));
    --budget;
  }
  if (budget > 0 && enums.size() > 1) {
    const ColumnDef* e = enums[1];
    const std::string v = e->attr->values[rng.Index(e->attr->values.size())];
    p->q.equals.push_back({e->name, v});
    p->phrases.push_back(absl::StrCat("whose ", Human(e->name), " is ", v));
  }
}

}  // namespace

absl::StatusOr<WorldTask> SelectionTask(const World& w, const WorldTools& tools, Rng& rng,
                                        int level) {
  const Schema& s = w.schema;
  WorldTask t;
  t.family = "constrained_selection";
  const size_t h = rng.Index(w.tables[s.hub].rows.size());
  const std::string hub =
      absl::StrCat(Human(s.entities[s.hub].kind), " ", w.tables[s.hub].Text(h, "name"));
  t.rounds.push_back({FindByName(w, tools, s.hub, h)});
  if (level == 4 && s.resources.size() == 2 && s.constraints.capacity) {
    // Trip planning: one of each kind, both with a place left on the same date.
    const std::string date = BookingDate(static_cast<int>(rng.Index(kBookingDays)));
    int64_t total = 0;
    std::vector<std::string> kinds;
    for (size_t ri = 0; ri < 2; ++ri) {
      Pick p;
      p.q = Search{s.resources[ri],
                   {{tools.IdParam(s.hub), ValueText(w.tables[s.hub].rows[h][0])}},
                   "",
                   std::nullopt,
                   {}};
      p.date = date;
      RETURN_IF_ERROR(Choose(w, tools, ri, &p));
      t.rounds.push_back(std::move(p.calls));
      if (!p.checks.empty()) t.rounds.push_back(std::move(p.checks));
      total += w.tables[s.resources[ri]].Int(p.row, s.entities[s.resources[ri]].price);
      kinds.push_back(Human(s.entities[s.resources[ri]].kind));
    }
    t.answer = absl::StrCat(total);
    t.match = AnswerMatch::kInteger;
    t.user = absl::StrCat("Plan a day in the ", hub, " on ", date, ": take the cheapest ", kinds[0],
                          " and the cheapest ", kinds[1],
                          " there that both have a place left that "
                          "day. What do they cost together? Answer with the number only.");
    return t;
  }
  const size_t ri = rng.Index(s.resources.size());
  Pick p;
  Constrain(w, tools, ri, h, level, rng, &p);
  RETURN_IF_ERROR(Choose(w, tools, ri, &p));
  t.rounds.push_back(std::move(p.calls));
  if (!p.checks.empty()) t.rounds.push_back(std::move(p.checks));
  t.answer = w.tables[s.resources[ri]].Text(p.row, "name");
  t.answer_is_lookup = true;
  t.user =
      absl::StrCat("Which ", Human(s.entities[s.resources[ri]].kind), " in the ", hub, " ",
                   absl::StrJoin(p.phrases, ", "), " is the cheapest? Answer with its name only.");
  return t;
}

}  // namespace dsarl::envs::world
