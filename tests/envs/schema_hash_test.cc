// Environment::SchemaHash of the agent environments: the same spec gives the same 16-hex-digit
// hash, different categories give different ones, rows and the order of tables and non-key columns
// do not count, and environments without a database give "".
#include <map>
#include <set>

#include "envs/agent.h"
#include "envs/registry.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::envs {
namespace {

proto::EnvSpec SpecFor(const Category& c, uint64_t seed) {
  proto::EnvSpec spec;
  spec.set_id(seed);
  spec.set_category(c.name);
  spec.set_seed(seed);
  spec.set_difficulty(c.top_level);
  if (c.sample_params) {
    Rng rng(seed);
    for (const auto& [k, v] : c.sample_params(rng)) (*spec.mutable_params())[k] = v;
  }
  return spec;
}

Registry Builtins() {
  Registry r;
  RegisterBuiltinCategories(&r);
  return r;
}

std::string HashOf(const Category& c, uint64_t seed) {
  absl::StatusOr<std::unique_ptr<Environment>> env = c.build(SpecFor(c, seed));
  EXPECT_OK(env.status());
  return env.ok() ? (*env)->SchemaHash() : "";
}

TEST(SchemaHashTest, SameSpecSameHashAndAgentCategoriesDiffer) {
  const Registry r = Builtins();
  std::map<std::string, std::string> by_category;
  for (const Category* c : r.All()) {
    if (c->kind != CategoryKind::kAgent) continue;
    const std::string h = HashOf(*c, 3);
    EXPECT_EQ(h.size(), 16u) << c->name << ": " << h;
    EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos) << c->name << ": " << h;
    EXPECT_EQ(HashOf(*c, 3), h) << c->name << ": the same spec gave another hash";
    by_category[c->name] = h;
  }
  ASSERT_GE(by_category.size(), 2u) << "expected several agent categories";
  std::set<std::string> distinct;
  for (const auto& [name, h] : by_category) distinct.insert(h);
  EXPECT_EQ(distinct.size(), by_category.size()) << "two agent categories share a schema hash";
}

TEST(SchemaHashTest, NonAgentEnvironmentsHaveNoSchema) {
  const Registry r = Builtins();
  int checked = 0;
  for (const Category* c : r.All()) {
    if (c->kind == CategoryKind::kAgent) continue;
    EXPECT_EQ(HashOf(*c, 3), "") << c->name;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

Database Shop() {
  Database db;
  db.tables.push_back(
      Table{"items",
            {{"sku", ColumnType::kText}, {"price", ColumnType::kInt}, {"name", ColumnType::kText}},
            {{"a1", "3", "pen"}}});
  db.tables.push_back(Table{"orders", {{"id", ColumnType::kText}, {"sku", ColumnType::kText}}, {}});
  return db;
}

TEST(SchemaHashTest, CanonicalSchemaIgnoresRowsAndOrder) {
  const Database a = Shop();
  EXPECT_EQ(CanonicalSchema(a), "items(sku:text,name:text,price:int);orders(id:text,sku:text)");
  Database b = Shop();
  std::swap(b.tables[0], b.tables[1]);
  std::swap(b.tables[1].columns[1], b.tables[1].columns[2]);
  for (Row& row : b.tables[1].rows) std::swap(row[1], row[2]);
  b.tables[1].rows.push_back({"b2", "pencil", "1"});
  EXPECT_EQ(CanonicalSchema(b), CanonicalSchema(a));
  Database c = Shop();
  c.tables[0].columns[1].type = ColumnType::kText;
  EXPECT_NE(CanonicalSchema(c), CanonicalSchema(a));
  Database d = Shop();
  std::swap(d.tables[0].columns[0], d.tables[0].columns[2]);  // another key
  EXPECT_NE(CanonicalSchema(d), CanonicalSchema(a));
}

}  // namespace
}  // namespace dsarl::envs
