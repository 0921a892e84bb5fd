// The answer families (lookups, aggregates, constrained selection) and the helpers they share.
#include "envs/world/tasks.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "envs/world/tasks_internal.h"

namespace dsarl::envs::world {

ToolCall CallOf(const WorldTool& tool, Args args) {
  return ToolCall{tool.spec.name(), std::move(args)};
}

std::vector<size_t> Matches(const World& w, const Search& q) {
  const TableRows& t = w.tables[q.entity];
  std::vector<size_t> out;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    bool ok = q.name.empty() || absl::StrContains(absl::AsciiStrToLower(t.Text(r, "name")),
                                                  absl::AsciiStrToLower(q.name));
    for (const auto& [col, v] : q.equals) ok = ok && t.Text(r, col) == v;
    if (q.max_price) ok = ok && t.Int(r, w.schema.entities[q.entity].price) <= *q.max_price;
    for (const auto& [col, lo] : q.at_least) ok = ok && t.Int(r, col) >= lo;
    if (ok) out.push_back(r);
  }
  return out;
}

std::vector<ToolCall> FindCalls(const World& w, const WorldTools& tools, const Search& q) {
  const WorldTool* find = tools.Of(ToolKind::kFind, q.entity);
  Args args = q.equals;
  if (!q.name.empty()) args.insert(args.begin(), {"name", q.name});
  for (const auto& [col, lo] : q.at_least)
    args.push_back({absl::StrCat("min_", col), absl::StrCat(lo)});
  if (q.max_price) args.push_back({tools.MaxPriceParam(q.entity), absl::StrCat(*q.max_price)});
  const size_t n = Matches(w, q).size();
  const size_t pages = std::max<size_t>(1, (n + WorldTools::kPageSize - 1) / WorldTools::kPageSize);
  std::vector<ToolCall> calls;
  for (size_t p = 1; p <= pages; ++p) {
    Args a = args;
    if (p > 1) a.push_back({"page", absl::StrCat(p)});
    calls.push_back(CallOf(*find, std::move(a)));
  }
  return calls;
}

ToolCall FindByName(const World& w, const WorldTools& tools, int e, size_t row) {
  return CallOf(*tools.Of(ToolKind::kFind, e), {{"name", w.tables[e].Text(row, "name")}});
}

int64_t ActiveCount(const World& w, size_t i, const std::string& rid, const std::string& date) {
  const TableRows& t = w.tables[w.schema.bookings[i]];
  const std::string col = absl::StrCat(w.schema.entities[w.schema.resources[i]].kind, "_id");
  int64_t n = 0;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    n += t.Text(r, col) == rid && t.Text(r, "date") == date && t.Text(r, "status") == "active";
  }
  return n;
}

bool HasActive(const World& w, size_t i, const std::string& aid, const std::string& rid,
               const std::string& date) {
  const TableRows& t = w.tables[w.schema.bookings[i]];
  const std::string rcol = absl::StrCat(w.schema.entities[w.schema.resources[i]].kind, "_id");
  const std::string acol = absl::StrCat(w.schema.entities[w.schema.actor].kind, "_id");
  for (size_t r = 0; r < t.rows.size(); ++r) {
    if (t.Text(r, rcol) == rid && t.Text(r, acol) == aid && t.Text(r, "status") == "active" &&
        (date.empty() || t.Text(r, "date") == date)) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> Prerequisites(const World& w, const std::string& rid) {
  std::vector<std::string> out;
  if (w.schema.prerequisite_relation < 0) return out;
  for (const auto& [a, b] : w.links[w.schema.prerequisite_relation]) {
    if (a == rid) out.push_back(b);
  }
  return out;
}

const ColumnDef* AskableAttr(const World& w, int e, Rng& rng) {
  std::vector<const ColumnDef*> c;
  for (const ColumnDef& col : w.tables[e].columns) {
    if (col.attr != nullptr && col.type != AttrType::kList) c.push_back(&col);
  }
  return c.empty() ? nullptr : c[rng.Index(c.size())];
}

const ColumnDef* EnumAttr(const World& w, int e, Rng& rng) {
  std::vector<const ColumnDef*> c;
  for (const ColumnDef& col : w.tables[e].columns) {
    if (col.type == AttrType::kEnum && col.attr != nullptr) c.push_back(&col);
  }
  return c.empty() ? nullptr : c[rng.Index(c.size())];
}

std::string Cell(const World& w, int e, size_t row, const std::string& col) {
  const TableRows& t = w.tables[e];
  return ValueText(t.rows[row][t.Col(col)]);
}

std::string Human(const std::string& s) {
  std::string out = s;
  std::replace(out.begin(), out.end(), '_', ' ');
  return out;
}

AnswerMatch MatchFor(const ColumnDef& col) {
  return col.type == AttrType::kInt || col.type == AttrType::kMoney ? AnswerMatch::kInteger
                                                                    : AnswerMatch::kText;
}

namespace {

std::string Kind(const World& w, int e) { return w.schema.entities[e].kind; }

// multi_hop_lookup: level+1 hops (at most 4) from a named row or a booking id to an attribute.
absl::StatusOr<WorldTask> LookupTask(const World& w, const WorldTools& tools, Rng& rng, int level) {
  const Schema& s = w.schema;
  WorldTask t;
  t.family = "multi_hop_lookup";
  t.answer_is_lookup = true;
  const size_t bi = rng.Index(s.resources.size());
  const int r = s.resources[bi], b = s.bookings[bi];
  const TableRows& bookings = w.tables[b];
  int target = -1;
  size_t target_row = 0;
  std::string path;
  if (level <= 1 || bookings.rows.empty()) {
    const size_t rr = rng.Index(w.tables[r].rows.size());
    t.rounds.push_back({FindByName(w, tools, r, rr)});
    const std::string rname = w.tables[r].Text(rr, "name");
    if (level == 0) {
      target = r, target_row = rr;
      path = absl::StrCat("the ", Human(Kind(w, r)), " ", rname);
      t.rounds.push_back(
          {CallOf(*tools.Of(ToolKind::kGet, r), {{tools.IdParam(r), Cell(w, r, rr, "id")}})});
    } else {
      target = s.hub;
      target_row = w.tables[s.hub].FindRow(Cell(w, r, rr, tools.IdParam(s.hub)));
      path = absl::StrCat("the ", Human(Kind(w, s.hub)), " where the ", Human(Kind(w, r)), " ",
                          rname, " is");
      t.rounds.push_back({CallOf(*tools.Of(ToolKind::kGet, s.hub),
                                 {{tools.IdParam(s.hub), Cell(w, s.hub, target_row, "id")}})});
    }
  } else {
    // From a booking: to its actor (level 2), its resource's hub (3), or the actor's home hub.
    const size_t br = rng.Index(bookings.rows.size());
    const std::string bid = Cell(w, b, br, "id");
    t.rounds.push_back({CallOf(*tools.Of(ToolKind::kGet, b), {{tools.IdParam(b), bid}})});
    const size_t ar = w.tables[s.actor].FindRow(Cell(w, b, br, tools.IdParam(s.actor)));
    const size_t rr = w.tables[r].FindRow(Cell(w, b, br, tools.IdParam(r)));
    const std::string booking = absl::StrCat(Human(Kind(w, b)), " ", bid);
    if (level == 2) {
      target = s.actor, target_row = ar;
      path = absl::StrCat("the ", Human(Kind(w, s.actor)), " who made ", booking);
      t.rounds.push_back({CallOf(*tools.Of(ToolKind::kGet, s.actor),
                                 {{tools.IdParam(s.actor), Cell(w, s.actor, ar, "id")}})});
    } else if (level == 3 || s.actor_hub_relation < 0) {
      target = s.hub;
      target_row = w.tables[s.hub].FindRow(Cell(w, r, rr, tools.IdParam(s.hub)));
      path = absl::StrCat("the ", Human(Kind(w, s.hub)), " of the ", Human(Kind(w, r)),
                          " booked in ", booking);
      t.rounds.push_back(
          {CallOf(*tools.Of(ToolKind::kGet, r), {{tools.IdParam(r), Cell(w, r, rr, "id")}})});
      t.rounds.push_back({CallOf(*tools.Of(ToolKind::kGet, s.hub),
                                 {{tools.IdParam(s.hub), Cell(w, s.hub, target_row, "id")}})});
    } else {
      const std::string home = s.relations[s.actor_hub_relation].column;
      target = s.hub;
      target_row = w.tables[s.hub].FindRow(Cell(w, s.actor, ar, home));
      path = absl::StrCat("the home ", Human(Kind(w, s.hub)), " of the ", Human(Kind(w, s.actor)),
                          " who made ", booking);
      t.rounds.push_back({CallOf(*tools.Of(ToolKind::kGet, s.actor),
                                 {{tools.IdParam(s.actor), Cell(w, s.actor, ar, "id")}})});
      t.rounds.push_back({CallOf(*tools.Of(ToolKind::kGet, s.hub),
                                 {{tools.IdParam(s.hub), Cell(w, s.hub, target_row, "id")}})});
    }
  }
  const ColumnDef* attr = AskableAttr(w, target, rng);
  if (attr == nullptr && level == 0) return Unable("nothing to ask about");
  const std::string col = attr == nullptr || (level > 0 && rng.Chance(0.2)) ? "name" : attr->name;
  t.answer = Cell(w, target, target_row, col);
  t.match = attr != nullptr && col == attr->name ? MatchFor(*attr) : AnswerMatch::kText;
  t.user = absl::StrCat("What is the ", Human(col), " of ", path, "? Answer with the value only.");
  return t;
}

// aggregation: counts (0, 1, 3), totals (2) and a count over an actor's bookings (4).
absl::StatusOr<WorldTask> AggregationTask(const World& w, const WorldTools& tools, Rng& rng,
                                          int level) {
  const Schema& s = w.schema;
  WorldTask t;
  t.family = "aggregation";
  t.match = AnswerMatch::kInteger;
  const size_t ri = rng.Index(s.resources.size());
  const int r = s.resources[ri];
  const Entity& res = s.entities[r];
  const std::string hub_col = tools.IdParam(s.hub);
  const TableRows& hubs = w.tables[s.hub];
  const size_t h = rng.Index(hubs.rows.size());
  Search q{r, {{hub_col, Cell(w, s.hub, h, "id")}}, "", std::nullopt, {}};
  std::string what =
      absl::StrCat(Human(res.plural), " in ", Human(Kind(w, s.hub)), " ", hubs.Text(h, "name"));
  if (level == 4) {
    const TableRows& actors = w.tables[s.actor];
    const size_t a = rng.Index(actors.rows.size());
    const std::string aid = Cell(w, s.actor, a, "id");
    const int b = s.bookings[ri];
    const TableRows& bk = w.tables[b];
    t.rounds.push_back({FindByName(w, tools, s.actor, a)});
    t.rounds.push_back(
        {CallOf(*tools.Of(ToolKind::kBookingsOf, b), {{tools.IdParam(s.actor), aid}})});
    std::vector<ToolCall> gets;
    std::set<std::string> seen;
    int64_t n = 0;
    for (size_t k = 0; k < bk.rows.size(); ++k) {
      if (bk.Text(k, tools.IdParam(s.actor)) != aid || bk.Text(k, "status") != "active") continue;
      const std::string rid = bk.Text(k, tools.IdParam(r));
      const size_t rr = w.tables[r].FindRow(rid);
      n += w.tables[r].Text(rr, hub_col) == Cell(w, s.hub, h, "id");
      if (seen.insert(rid).second)
        gets.push_back(CallOf(*tools.Of(ToolKind::kGet, r), {{tools.IdParam(r), rid}}));
    }
    if (gets.empty()) return Unable("the actor has no active bookings");
    t.rounds.push_back({FindByName(w, tools, s.hub, h)});
    t.rounds.push_back(std::move(gets));
    t.answer = absl::StrCat(n);
    t.user = absl::StrCat("How many of ", actors.Text(a, "name"), "'s active ",
                          Human(s.entities[b].plural), " are for ", what,
                          "? Answer with the number only.");
    return t;
  }
  t.rounds.push_back({FindByName(w, tools, s.hub, h)});
  if (const ColumnDef* e = EnumAttr(w, r, rng); e != nullptr && level != 2) {
    const std::string v = e->attr->values[rng.Index(e->attr->values.size())];
    q.equals.push_back({e->name, v});
    absl::StrAppend(&what, " whose ", Human(e->name), " is ", v);
  }
  if (level == 1 || level == 3) {
    const TableRows& rows = w.tables[r];
    q.max_price = rows.Int(rng.Index(rows.rows.size()), res.price);
    absl::StrAppend(&what, level == 1 || q.equals.size() == 1 ? " with " : " and ",
                    Human(res.price), " at most ", *q.max_price);
  }
  const std::vector<size_t> rows = Matches(w, q);
  int64_t answer = static_cast<int64_t>(rows.size());
  if (level == 2) {
    answer = 0;
    for (size_t k : rows) answer += w.tables[r].Int(k, res.price);
    if (const WorldTool* sum = tools.Of(ToolKind::kSummarize, r)) {
      Args a = q.equals;
      t.rounds.push_back({CallOf(*sum, std::move(a))});
    } else {
      t.rounds.push_back(FindCalls(w, tools, q));
    }
    t.user = absl::StrCat("What is the total ", Human(res.price), " of all ", what,
                          "? Answer with the number only.");
  } else {
    const WorldTool* count = level >= 2 ? tools.Of(ToolKind::kCount, r) : nullptr;
    if (count != nullptr) {
      Args a = q.equals;
      if (q.max_price) a.push_back({tools.MaxPriceParam(r), absl::StrCat(*q.max_price)});
      t.rounds.push_back({CallOf(*count, std::move(a))});
    } else {
      t.rounds.push_back(FindCalls(w, tools, q));
    }
    t.user = absl::StrCat("How many ", what, " are there? Answer with the number only.");
  }
  t.answer = absl::StrCat(answer);
  return t;
}

}  // namespace

const std::vector<std::string>& TaskFamilies() {
  static const std::vector<std::string>* const f = new std::vector<std::string>{
      "multi_hop_lookup", "aggregation", "constrained_selection", "state_change"};
  return *f;
}

absl::StatusOr<WorldTask> MakeFamilyTask(const std::string& family, const World& world,
                                         const WorldTools& tools, Rng& rng, int level) {
  if (family == "multi_hop_lookup") return LookupTask(world, tools, rng, level);
  if (family == "aggregation") return AggregationTask(world, tools, rng, level);
  if (family == "constrained_selection") return SelectionTask(world, tools, rng, level);
  if (family == "state_change") return StateChangeTask(world, tools, rng, level);
  return absl::InvalidArgumentError(absl::StrCat("unknown task family '", family, "'"));
}

absl::StatusOr<WorldTask> MakeTask(const World& world, const WorldTools& tools, Rng& rng,
                                   int level) {
  const std::vector<std::string>& families = TaskFamilies();
  absl::Status last;
  for (int attempt = 0; attempt < 24; ++attempt) {
    const std::string& f = families[rng.Index(families.size())];
    absl::StatusOr<WorldTask> t = MakeFamilyTask(f, world, tools, rng, level);
    if (t.ok() || !absl::IsFailedPrecondition(t.status())) return t;
    last = t.status();
  }
  return last;
}

}  // namespace dsarl::envs::world
