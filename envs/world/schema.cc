// Schemas from (domain, shape code), their canonical hash and their SQL.
//
// Shape code bits (the same layout in every domain):
//   0      two resource kinds (else one)        1      which one, when one
//   2, 3   item kinds 0 and 1                   4      the actor has a home hub
//   5..8   capacity, hours, budget, prerequisites
//   9..11  count, summarize, transfer tools (transfer needs budget)
//   12+4k  the optional attributes of part k: hub, resource 0, resource 1, actor, item 0, item 1
#include "envs/world/schema.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "envs/world/catalog.h"

namespace dsarl::envs::world {
namespace {

constexpr int kParts = 6;
constexpr int kAttrBits = 12;

bool Bit(uint64_t code, int i) { return (code >> i) & 1; }

Attribute ParseAttr(const std::string& spec) {
  std::vector<std::string> f = absl::StrSplit(spec, ':');
  Attribute a;
  a.name = f[0];
  const std::string& t = f.size() > 1 ? f[1] : "text";
  if (t == "int" || t == "money") {
    a.type = t == "int" ? AttrType::kInt : AttrType::kMoney;
    (void)absl::SimpleAtoi(f[2], &a.lo);
    (void)absl::SimpleAtoi(f[3], &a.hi);
  } else if (t == "date") {
    a.type = AttrType::kDate;
  } else if (t == "time") {
    a.type = AttrType::kTime;
  } else {
    a.type = t == "enum" ? AttrType::kEnum : t == "list" ? AttrType::kList : AttrType::kText;
    if (f.size() > 2) a.values = absl::StrSplit(f[2], '|');
  }
  return a;
}

// The catalog parts in shape-bit order.
std::vector<const EntityPart*> Parts(const DomainPart& d) {
  return {&d.hub, &d.resources[0], &d.resources[1], &d.actor, &d.items[0], &d.items[1]};
}

// Which parts a code includes (before attribute bits are read).
std::vector<bool> PartsIn(uint64_t code) {
  const bool two = Bit(code, 0);
  return {true, two || !Bit(code, 1), two || Bit(code, 1), true, Bit(code, 2), Bit(code, 3)};
}

// The bits of `code` that may be set: the canonical mask.
uint64_t Mask(const DomainPart& d, uint64_t code) {
  uint64_t mask = 0x1FF;  // bits 0..8
  if (Bit(code, 0)) mask &= ~uint64_t{2};
  mask |= uint64_t{3} << 9;
  if (Bit(code, 7)) mask |= uint64_t{1} << 11;
  const std::vector<bool> in = PartsIn(code);
  const std::vector<const EntityPart*> parts = Parts(d);
  for (int k = 0; k < kParts; ++k) {
    if (!in[k]) continue;
    mask |= ((uint64_t{1} << parts[k]->optional.size()) - 1) << (kAttrBits + 4 * k);
  }
  return mask;
}

const DomainPart* FindDomain(const std::string& name) {
  for (const DomainPart& d : Catalog()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string BookingNoun(const std::string& verb) {
  if (verb == "reserve") return "reservation";
  if (verb == "enroll") return "enrollment";
  if (verb == "schedule") return "appointment";
  return "booking";
}

Entity EntityOf(const EntityPart& p, Role role, uint64_t attr_bits) {
  Entity e{p.kind, p.plural, p.prefix, role, {}, p.nouns, p.price, -1};
  for (const std::string& s : p.required) e.attrs.push_back(ParseAttr(s));
  for (size_t i = 0; i < p.optional.size(); ++i) {
    if ((attr_bits >> i) & 1) e.attrs.push_back(ParseAttr(p.optional[i]));
  }
  return e;
}

// Adds the constraint columns and the booking entities of `s`'s resources.
void AddBookings(Schema* s) {
  const std::string noun = BookingNoun(s->verb);
  for (int r : s->resources) {
    Entity& res = s->entities[r];
    if (s->constraints.capacity) res.attrs.push_back({"capacity", AttrType::kInt, {}, 1, 3});
    if (s->constraints.hours) {
      res.attrs.push_back({"opens", AttrType::kTime, {}, 6, 11});
      res.attrs.push_back({"closes", AttrType::kTime, {}, 15, 22});
    }
    Entity b;
    b.kind = absl::StrCat(res.kind, "_", noun);
    b.plural = absl::StrCat(b.kind, "s");
    b.prefix = absl::StrCat("B", res.prefix);
    b.role = Role::kBooking;
    b.resource = r;
    b.attrs.push_back({"date", AttrType::kDate, {}, 0, 0});
    if (s->constraints.hours) b.attrs.push_back({"time", AttrType::kTime, {}, 0, 0});
    b.attrs.push_back({"status", AttrType::kEnum, {"active", "cancelled"}, 0, 0});
    if (s->constraints.budget) b.attrs.push_back({"paid", AttrType::kMoney, {}, 0, 0});
    const int bi = static_cast<int>(s->entities.size());
    s->entities.push_back(std::move(b));
    s->bookings.push_back(bi);
    s->relations.push_back({RelationType::kOneToMany, s->actor, bi,
                            absl::StrCat(s->entities[s->actor].kind, "_id"), "", "", "made by"});
    s->relations.push_back({RelationType::kOneToMany, r, bi,
                            absl::StrCat(s->entities[r].kind, "_id"), "", "", "books"});
  }
}

}  // namespace

const char* AttrTypeName(AttrType type) {
  switch (type) {
    case AttrType::kText:
      return "text";
    case AttrType::kInt:
      return "integer";
    case AttrType::kMoney:
      return "money";
    case AttrType::kDate:
      return "date";
    case AttrType::kTime:
      return "time";
    case AttrType::kEnum:
      return "enum";
    case AttrType::kList:
      return "list";
  }
  return "text";
}

int Schema::Find(const std::string& kind) const {
  for (size_t i = 0; i < entities.size(); ++i) {
    if (entities[i].kind == kind) return static_cast<int>(i);
  }
  return -1;
}

const std::vector<std::string>& DomainNames() {
  static const std::vector<std::string>* const names = [] {
    auto* n = new std::vector<std::string>;
    for (const DomainPart& d : Catalog()) n->push_back(d.name);
    return n;
  }();
  return *names;
}

absl::StatusOr<uint64_t> SampleShapeCode(const std::string& domain, Rng& rng) {
  const DomainPart* d = FindDomain(domain);
  if (d == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("unknown domain '", domain, "'"));
  const uint64_t raw = rng.Next();
  return raw & Mask(*d, raw);
}

absl::StatusOr<Schema> SchemaFromCode(const std::string& domain, uint64_t code) {
  const DomainPart* d = FindDomain(domain);
  if (d == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("unknown domain '", domain, "'"));
  if ((code & ~Mask(*d, code)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("shape %x is not canonical for domain %s", code, domain));
  }
  Schema s;
  s.domain = domain;
  s.verb = d->verb;
  const std::vector<bool> in = PartsIn(code);
  const std::vector<const EntityPart*> parts = Parts(*d);
  const Role roles[kParts] = {Role::kHub,   Role::kResource, Role::kResource,
                              Role::kActor, Role::kItem,     Role::kItem};
  for (int k = 0; k < kParts; ++k) {
    if (!in[k]) continue;
    const int index = static_cast<int>(s.entities.size());
    s.entities.push_back(EntityOf(*parts[k], roles[k], (code >> (kAttrBits + 4 * k)) & 0xF));
    if (k == 0) s.hub = index;
    if (k == 1 || k == 2) s.resources.push_back(index);
    if (k == 3) s.actor = index;
    if (k >= 4) s.items.push_back(index);
  }
  s.constraints = {Bit(code, 5), Bit(code, 6), Bit(code, 7), Bit(code, 8)};
  s.tools = {Bit(code, 9), Bit(code, 10), Bit(code, 11)};
  if (s.constraints.budget) {
    s.balance = d->balance;
    s.entities[s.actor].attrs.push_back({d->balance, AttrType::kMoney, {}, 0, 600});
  }
  const std::string hub_col = absl::StrCat(s.entities[s.hub].kind, "_id");
  for (int r : s.resources) {
    s.relations.push_back({RelationType::kOneToMany, s.hub, r, hub_col, "", "", "located in"});
  }
  if (Bit(code, 4)) {
    s.actor_hub_relation = static_cast<int>(s.relations.size());
    s.relations.push_back({RelationType::kOneToMany, s.hub, s.actor, absl::StrCat("home_", hub_col),
                           "", "", "lives in"});
  }
  const Entity& r0 = s.entities[s.resources[0]];
  for (size_t i = 0; i < s.items.size(); ++i) {
    const Entity& item = s.entities[s.items[i]];
    const int label = item.kind == d->items[0].kind ? 0 : 1;
    s.relations.push_back({RelationType::kManyToMany, s.resources[0], s.items[i],
                           absl::StrCat(r0.kind, "_id"), absl::StrCat(r0.kind, "_", item.kind),
                           absl::StrCat(item.kind, "_id"), d->item_labels[label]});
  }
  if (s.constraints.prerequisites) {
    s.prerequisite_relation = static_cast<int>(s.relations.size());
    s.relations.push_back({RelationType::kManyToMany, s.resources[0], s.resources[0],
                           absl::StrCat(r0.kind, "_id"), absl::StrCat(r0.kind, "_prerequisite"),
                           "requires_id", "requires"});
  }
  AddBookings(&s);
  return s;
}

std::string SchemaHash(const Schema& s) {
  std::vector<std::string> parts;
  for (const Entity& e : s.entities) {
    std::vector<std::string> attrs;
    for (const Attribute& a : e.attrs) {
      attrs.push_back(
          absl::StrCat(a.name, ":", AttrTypeName(a.type), ":", absl::StrJoin(a.values, "|")));
    }
    parts.push_back(absl::StrCat("E", static_cast<int>(e.role), ":", e.kind, "(",
                                 absl::StrJoin(attrs, ","), ")"));
  }
  for (const Relation& r : s.relations) {
    parts.push_back(absl::StrCat("R", static_cast<int>(r.type), ":", s.entities[r.parent].kind, ">",
                                 s.entities[r.child].kind, ":", r.column, ":", r.table));
  }
  parts.push_back(absl::StrCat("C", s.constraints.capacity, s.constraints.hours,
                               s.constraints.budget, s.constraints.prerequisites));
  return absl::StrFormat("%016x", HashString(absl::StrJoin(parts, ";")));
}

std::vector<ColumnDef> Columns(const Schema& s, int e) {
  std::vector<ColumnDef> cols;
  const Entity& ent = s.entities[e];
  cols.push_back({"id", AttrType::kText, -1, nullptr});
  if (ent.role != Role::kBooking) cols.push_back({"name", AttrType::kText, -1, nullptr});
  for (const Relation& r : s.relations) {
    if (r.type == RelationType::kOneToMany && r.child == e) {
      cols.push_back({r.column, AttrType::kText, r.parent, nullptr});
    }
  }
  for (const Attribute& a : ent.attrs) cols.push_back({a.name, a.type, -1, &a});
  return cols;
}

std::vector<std::string> SchemaDdl(const Schema& s) {
  std::vector<std::string> ddl;
  for (size_t e = 0; e < s.entities.size(); ++e) {
    std::vector<std::string> defs;
    for (const ColumnDef& c : Columns(s, static_cast<int>(e))) {
      const bool integer = c.type == AttrType::kInt || c.type == AttrType::kMoney;
      std::string def = absl::StrCat(c.name, integer ? " INTEGER" : " TEXT", " NOT NULL");
      if (c.name == "id") absl::StrAppend(&def, " PRIMARY KEY");
      if (c.references >= 0)
        absl::StrAppend(&def, " REFERENCES ", s.entities[c.references].kind, "(id)");
      defs.push_back(std::move(def));
    }
    ddl.push_back(
        absl::StrCat("CREATE TABLE ", s.entities[e].kind, " (", absl::StrJoin(defs, ", "), ")"));
  }
  for (const Relation& r : s.relations) {
    if (r.type != RelationType::kManyToMany) continue;
    ddl.push_back(absl::StrCat(
        "CREATE TABLE ", r.table, " (", r.column, " TEXT NOT NULL REFERENCES ",
        s.entities[r.parent].kind, "(id), ", r.other_column, " TEXT NOT NULL REFERENCES ",
        s.entities[r.child].kind, "(id), PRIMARY KEY (", r.column, ", ", r.other_column, "))"));
  }
  return ddl;
}

}  // namespace dsarl::envs::world
