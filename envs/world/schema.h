// The structure of a synthesized agent environment: entities with typed attributes, the relations
// between them and the constraints its actions enforce, chosen from a catalog of domain parts.
//
// Why a code: an environment's schema is a pure function of (domain, shape code). The shape code
// says which optional parts are in (resource and item kinds, attributes, constraints, the
// actor-hub relation, optional tools) and is canonical: bits of parts that are out are zero. So
// two environments with different codes have different schemas, and synthesis can make every
// environment of a set structurally distinct by giving each a code no other has.
#ifndef DSARL_ENVS_WORLD_SCHEMA_H_
#define DSARL_ENVS_WORLD_SCHEMA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "envs/rng.h"

namespace dsarl::envs::world {

enum class AttrType { kText, kInt, kMoney, kDate, kTime, kEnum, kList };

// "text", "integer", "money", "date", "time", "enum", "list".
const char* AttrTypeName(AttrType type);

struct Attribute {
  std::string name;
  AttrType type = AttrType::kText;
  std::vector<std::string> values;  // kEnum, kList: the choices; kText: a pool to draw from
  int64_t lo = 0, hi = 0;           // kInt, kMoney: the range of values
};

enum class Role { kHub, kResource, kActor, kItem, kBooking };

struct Entity {
  std::string kind;    // singular, also the table name: "hotel"
  std::string plural;  // "hotels"
  std::string prefix;  // of its keys: "HT" -> HT1, HT2, ...
  Role role = Role::kItem;
  std::vector<Attribute> attrs;    // besides "id" (and "name", which every non-booking has)
  std::vector<std::string> nouns;  // the last word of generated names ("Inn", "Lodge")
  std::string price;               // kResource: its money attribute ("nightly_rate")
  int resource = -1;               // kBooking: the resource entity it books
};

enum class RelationType {
  kOneToMany,   // the child has a column `column` holding the parent's id
  kManyToMany,  // a link table `table` with columns (`column`, `other_column`)
};

struct Relation {
  RelationType type = RelationType::kOneToMany;
  int parent = 0;  // entity indices
  int child = 0;
  std::string column;        // kOneToMany: in the child; kManyToMany: the parent's id column
  std::string table;         // kManyToMany: the link table
  std::string other_column;  // kManyToMany: the child's id column
  std::string label;         // what the relation means, for tool descriptions ("taught by")
};

// The constraints the state-changing actions check.
struct Constraints {
  bool capacity = false;       // resources hold `capacity` active bookings per date
  bool hours = false;          // resources open `opens`..`closes`; a booking names a time
  bool budget = false;         // actors pay the price from `balance`, refunded on cancel
  bool prerequisites = false;  // a resource may require an active booking of another first
};

// Optional tools (beyond what the schema implies).
struct ToolChoices {
  bool count = false;      // count_<plural>: how many rows a search matches
  bool summarize = false;  // summarize_<plural>: count, min, max, total of the price
  bool transfer = false;   // transfer_<balance>: moves money between actors (needs budget)
};

struct Schema {
  std::string domain;
  std::vector<Entity> entities;
  std::vector<Relation> relations;
  Constraints constraints;
  ToolChoices tools;
  int hub = 0;  // entity indices
  int actor = 0;
  std::vector<int> resources;      // one or two
  std::vector<int> items;          // zero to two, each many-to-many with resources[0]
  std::vector<int> bookings;       // one per resource, same order
  std::string verb;                // "book", "enroll", ...
  std::string balance;             // the actor's money attribute when constraints.budget
  int prerequisite_relation = -1;  // index in relations, when constraints.prerequisites
  int actor_hub_relation = -1;     // when the actor has a home hub

  int Find(const std::string& kind) const;  // entity index by kind, or -1
};

// The domains of the catalog, in a fixed order ("travel", "retail", ...).
const std::vector<std::string>& DomainNames();

// A random canonical shape code for `domain` (InvalidArgument for an unknown domain).
absl::StatusOr<uint64_t> SampleShapeCode(const std::string& domain, Rng& rng);

// The schema of (domain, code). InvalidArgument for an unknown domain or a code that is not
// canonical (it has bits of parts that are out, or bits past the domain's parts).
absl::StatusOr<Schema> SchemaFromCode(const std::string& domain, uint64_t code);

// 16 hex digits over the canonical structure: entity kinds, roles, attribute names and types,
// relations, constraints. Names of generated rows are not part of it.
std::string SchemaHash(const Schema& schema);

// The SQL that creates the schema's tables (SQLite dialect), one statement per table.
std::vector<std::string> SchemaDdl(const Schema& schema);

// The columns of entity `e`'s table, in order: id, name (not for bookings), foreign keys,
// attributes.
struct ColumnDef {
  std::string name;
  AttrType type = AttrType::kText;
  int references = -1;              // an entity index when this is a foreign key
  const Attribute* attr = nullptr;  // when it is an attribute
};
std::vector<ColumnDef> Columns(const Schema& schema, int e);

}  // namespace dsarl::envs::world

#endif  // DSARL_ENVS_WORLD_SCHEMA_H_
