// Deriving the tools from a schema and running them as SQL over an episode's database.
#include "envs/world/tools.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "envs/toolbox.h"

namespace dsarl::envs::world {
namespace {

proto::ToolParameter Param(std::string name, std::string type, std::string description,
                           bool required = true) {
  proto::ToolParameter p;
  p.set_name(std::move(name));
  p.set_type(std::move(type));
  p.set_description(std::move(description));
  p.set_required(required);
  return p;
}

}  // namespace

const char* ToolKindName(ToolKind kind) {
  static const char* const names[] = {
      "get",           "find",        "count",        "summarize", "join",   "join_reverse",
      "prerequisites", "bookings_of", "availability", "book",      "cancel", "transfer"};
  return names[static_cast<int>(kind)];
}

std::string WorldTools::IdParam(int entity) const {
  return absl::StrCat(schema_.entities[entity].kind, "_id");
}

std::string WorldTools::MaxPriceParam(int r) const {
  return absl::StrCat("max_", schema_.entities[r].price);
}

void WorldTools::Add(ToolKind kind, int entity, int relation, int min_level, std::string name,
                     std::string description, std::vector<proto::ToolParameter> params) {
  WorldTool t;
  t.kind = kind;
  t.entity = entity;
  t.relation = relation;
  t.min_level = min_level;
  t.spec.set_name(std::move(name));
  t.spec.set_description(std::move(description));
  for (proto::ToolParameter& p : params) *t.spec.add_parameters() = std::move(p);
  tools_.push_back(std::move(t));
}

// The filters of find/count/summarize over entity `e`.
static std::vector<proto::ToolParameter> Filters(const Schema& s, int e) {
  const Entity& ent = s.entities[e];
  std::vector<proto::ToolParameter> p;
  p.push_back(Param("name", "string", "part of the name (any case)", false));
  for (const ColumnDef& c : Columns(s, e)) {
    if (c.references >= 0) {
      p.push_back(Param(
          c.name, "string",
          absl::StrCat("only ", ent.plural, " of this ", s.entities[c.references].kind), false));
    } else if (c.type == AttrType::kEnum) {
      p.push_back(Param(c.name, "string",
                        absl::StrCat("one of: ", absl::StrJoin(c.attr->values, ", ")), false));
    }
  }
  for (const Attribute& a : ent.attrs) {
    if (ent.role != Role::kResource || a.type != AttrType::kInt || a.name == "capacity") continue;
    p.push_back(Param(absl::StrCat("min_", a.name), "integer",
                      absl::StrCat("only ", ent.plural, " whose ", a.name, " is at least this"),
                      false));
  }
  if (ent.role == Role::kResource) {
    p.push_back(Param(absl::StrCat("max_", ent.price), "integer",
                      absl::StrCat("only ", ent.plural, " whose ", ent.price, " is at most this"),
                      false));
  }
  return p;
}

void WorldTools::AddEntityTools(int e) {
  const Entity& ent = schema_.entities[e];
  Add(ToolKind::kGet, e, -1, 0, absl::StrCat("get_", ent.kind),
      absl::StrCat("Everything about one ", ent.kind, " by its id."),
      {Param(IdParam(e), "string", absl::StrCat("the ", ent.kind, "'s id"))});
  if (ent.role == Role::kBooking) return;
  std::vector<proto::ToolParameter> find = Filters(schema_, e);
  find.push_back(Param("page", "integer", "the page of results, from 1 (default 1)", false));
  Add(ToolKind::kFind, e, -1, 0, absl::StrCat("find_", ent.plural),
      absl::StrFormat("Searches %s by the given filters (all must hold); %d results a page, with "
                      "the total and the number of pages.",
                      ent.plural, kPageSize),
      std::move(find));
  if (ent.role == Role::kResource && schema_.tools.count) {
    Add(ToolKind::kCount, e, -1, 2, absl::StrCat("count_", ent.plural),
        absl::StrCat("How many ", ent.plural, " match the filters."), Filters(schema_, e));
  }
  if (ent.role == Role::kResource && schema_.tools.summarize) {
    Add(ToolKind::kSummarize, e, -1, 2, absl::StrCat("summarize_", ent.plural),
        absl::StrCat("Count, lowest, highest and total ", ent.price, " of the ", ent.plural,
                     " that match the filters."),
        Filters(schema_, e));
  }
}

void WorldTools::AddResourceTools(size_t i) {
  const int r = schema_.resources[i];
  const int b = schema_.bookings[i];
  const Entity& res = schema_.entities[r];
  const Entity& booking = schema_.entities[b];
  const Entity& actor = schema_.entities[schema_.actor];
  const Constraints& c = schema_.constraints;
  if (c.capacity || c.hours) {
    Add(ToolKind::kAvailability, r, -1, 1, absl::StrCat("check_", res.kind, "_availability"),
        absl::StrCat("Whether a ", res.kind, " can still be booked on a date",
                     c.capacity ? ": capacity, active bookings, places left" : "",
                     c.hours ? "; its opening hours" : "", "."),
        {Param(IdParam(r), "string", absl::StrCat("the ", res.kind, "'s id")),
         Param("date", "string", "YYYY-MM-DD")});
  }
  std::vector<proto::ToolParameter> book = {
      Param(IdParam(schema_.actor), "string", absl::StrCat("the ", actor.kind, "'s id")),
      Param(IdParam(r), "string", absl::StrCat("the ", res.kind, "'s id")),
      Param("date", "string", "YYYY-MM-DD")};
  if (c.hours) book.push_back(Param("time", "string", "HH:MM, within the opening hours"));
  std::vector<std::string> checks;
  if (c.capacity) checks.push_back("a place left that day");
  if (c.hours) checks.push_back("open at that time");
  if (c.prerequisites && i == 0) checks.push_back("every prerequisite already booked");
  if (c.budget) checks.push_back(absl::StrCat(schema_.balance, " covering the ", res.price));
  Add(ToolKind::kBook, r, -1, 0, absl::StrCat(schema_.verb, "_", res.kind),
      absl::StrCat("Creates an active ", booking.kind, " for a ", actor.kind,
                   checks.empty() ? "" : absl::StrCat(". Needs ", absl::StrJoin(checks, ", ")),
                   c.budget ? absl::StrCat("; charges the ", res.price) : "",
                   ". Returns the new id."),
      std::move(book));
  Add(ToolKind::kBookingsOf, b, -1, 0, absl::StrCat("list_", booking.plural, "_of_", actor.kind),
      absl::StrCat("The ", booking.plural, " of one ", actor.kind, ", active and cancelled."),
      {Param(IdParam(schema_.actor), "string", absl::StrCat("the ", actor.kind, "'s id"))});
  Add(ToolKind::kCancel, b, -1, 2, absl::StrCat("cancel_", booking.kind),
      absl::StrCat("Cancels an active ", booking.kind, c.budget ? " and refunds what was paid" : "",
                   "."),
      {Param(IdParam(b), "string", absl::StrCat("the ", booking.kind, "'s id"))});
}

WorldTools::WorldTools(const Schema& schema) : schema_(schema) {
  for (size_t e = 0; e < schema_.entities.size(); ++e) AddEntityTools(static_cast<int>(e));
  for (size_t r = 0; r < schema_.relations.size(); ++r) {
    const Relation& rel = schema_.relations[r];
    if (rel.type != RelationType::kManyToMany) continue;
    const Entity& parent = schema_.entities[rel.parent];
    const Entity& child = schema_.entities[rel.child];
    const int ri = static_cast<int>(r);
    if (ri == schema_.prerequisite_relation) {
      Add(ToolKind::kPrerequisites, rel.parent, ri, 0,
          absl::StrCat("list_prerequisites_of_", parent.kind),
          absl::StrCat("The ", parent.plural, " that must be booked before this one."),
          {Param(IdParam(rel.parent), "string", absl::StrCat("the ", parent.kind, "'s id"))});
      continue;
    }
    Add(ToolKind::kLinked, rel.child, ri, 1,
        absl::StrCat("list_", child.plural, "_of_", parent.kind),
        absl::StrCat("The ", child.plural, " a ", parent.kind, " is ", rel.label, "."),
        {Param(IdParam(rel.parent), "string", absl::StrCat("the ", parent.kind, "'s id"))});
    Add(ToolKind::kLinkedReverse, rel.parent, ri, 1,
        absl::StrCat("list_", parent.plural, "_with_", child.kind),
        absl::StrCat("The ", parent.plural, " ", rel.label, " this ", child.kind, "."),
        {Param(IdParam(rel.child), "string", absl::StrCat("the ", child.kind, "'s id"))});
  }
  for (size_t i = 0; i < schema_.resources.size(); ++i) AddResourceTools(i);
  if (schema_.tools.transfer && schema_.constraints.budget) {
    const Entity& actor = schema_.entities[schema_.actor];
    Add(ToolKind::kTransfer, schema_.actor, -1, 3, absl::StrCat("transfer_", schema_.balance),
        absl::StrCat("Moves ", schema_.balance, " from one ", actor.kind, " to another."),
        {Param(absl::StrCat("from_", IdParam(schema_.actor)), "string", "who pays"),
         Param(absl::StrCat("to_", IdParam(schema_.actor)), "string", "who receives"),
         Param("amount", "integer", "a positive amount, at most the payer's balance")});
  }
}

const WorldTool* WorldTools::Of(ToolKind kind, int entity, int relation) const {
  for (const WorldTool& t : tools_) {
    if (t.kind == kind && t.entity == entity && (relation < 0 || t.relation == relation)) return &t;
  }
  return nullptr;
}

std::vector<proto::ToolSpec> WorldTools::Specs(int level) const {
  std::vector<proto::ToolSpec> out;
  for (const WorldTool& t : tools_) {
    if (t.min_level <= level) out.push_back(t.spec);
  }
  return out;
}

absl::StatusOr<ToolResult> WorldTools::Run(const ToolCall& call, int level, SqliteDb* db) const {
  for (const WorldTool& t : tools_) {
    if (t.spec.name() != call.name || t.min_level > level) continue;
    return RunChecked(t, call, db);
  }
  const std::vector<proto::ToolSpec> specs = Specs(level);
  return UnknownToolResult(call.name, specs);
}

}  // namespace dsarl::envs::world
