// shop_inventory: a shop's products (category, price, stock) and its customers' orders, with
// tools to browse, look up, restock, reprice and sell. The ladder: a price lookup; the top product
// of a category; a customer's spending across two rounds of calls; restocking or repricing
// (verified by the final database); a sale that places an order, lowers the stock and answers
// with the bill.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "envs/agent.h"
#include "envs/categories/categories.h"
#include "envs/names.h"

namespace dsarl::envs {
namespace {

constexpr ColumnType kInt = ColumnType::kInt;

// Tools that read: browse, look up, orders (level 2).
std::vector<ToolTemplate> LookupTools() {
  std::vector<ToolTemplate> c;
  auto add = [&](ToolDef def, std::vector<std::string> names, bool optional = false) {
    c.push_back(ToolTemplate{std::move(def), std::move(names), optional});
  };
  add({.id = "categories",
       .description = "Lists the product categories.",
       .op = ToolOp::kListDistinct,
       .table = "products",
       .column = "category"},
      {"list_categories", "get_categories", "product_categories"});
  add({.id = "in_category",
       .description = "Products of a category with price and stock.",
       .op = ToolOp::kFind,
       .table = "products",
       .params = {{"category", "category", "the category"}},
       .output = {"sku", "name", "price", "stock"}},
      {"list_products", "products_in_category", "browse_category"});
  add({.id = "product",
       .description = "One product by its SKU.",
       .op = ToolOp::kGet,
       .table = "products",
       .params = {{"sku", "sku", "the product's SKU, e.g. P7"}}},
      {"get_product", "product_details", "lookup_product"});
  add({.id = "by_name",
       .description = "Finds a product by its exact name.",
       .op = ToolOp::kFind,
       .table = "products",
       .params = {{"name", "name", "the product's name"}}},
      {"find_product_by_name", "search_product"}, true);
  add({.id = "stock",
       .description = "The stock of a product.",
       .op = ToolOp::kGet,
       .table = "products",
       .params = {{"sku", "sku", "the product's SKU"}},
       .output = {"sku", "stock"}},
      {"check_stock", "get_stock_level"}, true);
  add({.id = "orders_of",
       .description = "A customer's orders.",
       .op = ToolOp::kFind,
       .table = "orders",
       .params = {{"customer", "customer", "the customer's full name"}},
       .min_level = 2},
      {"list_orders", "orders_for_customer", "get_customer_orders"});
  return c;
}

// Tools that change the database: restock and reprice (level 3), sell (level 4).
std::vector<ToolTemplate> WriteTools() {
  std::vector<ToolTemplate> c;
  auto add = [&](ToolDef def, std::vector<std::string> names, bool optional = false) {
    c.push_back(ToolTemplate{std::move(def), std::move(names), optional});
  };
  add({.id = "restock",
       .description = "Adds units to a product's stock.",
       .op = ToolOp::kAdd,
       .table = "products",
       .params = {{"sku", "sku", "the product's SKU"}, {"quantity", "stock", "units to add"}},
       .column = "stock",
       .min_level = 3},
      {"restock", "add_stock", "increase_inventory"});
  add({.id = "set_price",
       .description = "Sets a product's price.",
       .op = ToolOp::kSet,
       .table = "products",
       .params = {{"sku", "sku", "the product's SKU"}, {"price", "price", "the new price"}},
       .column = "price",
       .min_level = 3},
      {"update_price", "set_price", "change_price"});
  add({.id = "place_order",
       .description = "Records an order.",
       .op = ToolOp::kInsert,
       .table = "orders",
       .params = {{"sku", "sku", "the product's SKU"},
                  {"customer", "customer", "full name"},
                  {"quantity", "quantity", "units ordered"}},
       .key_prefix = "O",
       .min_level = 4},
      {"place_order", "create_order", "submit_order"});
  add({.id = "adjust_stock",
       .description = "Changes a product's stock by an amount (negative "
                      "to remove units).",
       .op = ToolOp::kAdd,
       .table = "products",
       .params = {{"sku", "sku", "the product's SKU"},
                  {"change", "stock", "units, may be negative"}},
       .column = "stock",
       .min_level = 4},
      {"adjust_stock", "update_stock"});
  return c;
}

std::vector<ToolTemplate> Catalog() {
  std::vector<ToolTemplate> c = LookupTools();
  for (ToolTemplate& t : WriteTools()) c.push_back(std::move(t));
  return c;
}

absl::StatusOr<Database> MakeDb(const proto::EnvSpec& spec) {
  ASSIGN_OR_RETURN(int64_t n_categories, IntParam(spec, "categories", 4, 2, 10));
  ASSIGN_OR_RETURN(int64_t per_category, IntParam(spec, "per_category", 5, 2, 15));
  Rng rng(DeriveSeed({spec.seed(), HashString("shop_inventory/db")}));
  Database db;
  db.tables = {
      {"products", {{"sku"}, {"name"}, {"category"}, {"price", kInt}, {"stock", kInt}}, {}},
      {"orders", {{"order_id"}, {"sku"}, {"customer"}, {"quantity", kInt}}, {}},
  };
  static const char* kCategories[] = {"tools",  "garden", "kitchen", "toys",   "books",
                                      "sports", "office", "music",   "beauty", "outdoor"};
  static const char* kAdjectives[] = {"Compact", "Deluxe", "Classic", "Smart", "Mini",
                                      "Pro",     "Eco",    "Royal",   "Swift", "Bold"};
  Table& products = *db.Find("products");
  std::set<std::string> taken;
  for (size_t ci : rng.Sample(10, n_categories)) {
    const std::vector<int64_t> prices = DistinctInts(rng, per_category, 2, 250);
    const std::vector<int64_t> stock = DistinctInts(rng, per_category, 0, 60);
    for (int64_t i = 0; i < per_category; ++i) {
      std::string name;
      do {
        name = absl::StrCat(rng.Pick(kAdjectives), " ", InventedName(rng, 2));
      } while (!taken.insert(name).second);
      products.rows.push_back({absl::StrCat("P", products.rows.size() + 1), name, kCategories[ci],
                               std::to_string(prices[i]), std::to_string(stock[i])});
    }
  }
  Table& orders = *db.Find("orders");
  std::set<std::string> people;
  for (int i = 0; i < 6; ++i) {
    const std::string customer = UniquePersonName(rng, &people);
    for (int k = 0, n = static_cast<int>(rng.Uniform(1, 4)); k < n; ++k) {
      orders.rows.push_back({absl::StrCat("O", orders.rows.size() + 1), PickRow(products, rng)[0],
                             customer, std::to_string(rng.Uniform(1, 5))});
    }
  }
  return db;
}

// The shop a task maker reads.
struct Shop {
  const Database& db;
  const ToolSet& ts;
  const Table& products;
  const Table& orders;
};

// What every attempt at a task draws first: a product, its category and the category's products.
struct ProductDraw {
  const Row* p;
  std::string category;
  std::vector<const Row*> in_cat;
};

ProductDraw DrawProduct(const Shop& c, Rng& rng) {
  ProductDraw d;
  d.p = &PickRow(c.products, rng);
  d.category = c.products.Get(*d.p, "category");
  d.in_cat = RowsWhere(c.products, "category", d.category);
  return d;
}

// How a task finds a product it names: by name when the shop has that tool.
ToolCall Locate(const Shop& c, const Row& row) {
  return c.ts.Has("by_name") ? c.ts.Call("by_name", {c.products.Get(row, "name")})
                             : c.ts.Call("in_category", {c.products.Get(row, "category")});
}

// Answers are prices, amounts and counts unless a task says otherwise.
AgentTask IntegerTask() {
  AgentTask t;
  t.match = AnswerMatch::kInteger;
  return t;
}

// Level 0: a product's price.
std::optional<AgentTask> Price(const Shop& c, const ProductDraw& d, Rng&) {
  AgentTask t = IntegerTask();
  t.user = absl::StrCat("What is the price of the ", c.products.Get(*d.p, "name"), " (category ",
                        d.category, ")?");
  t.rounds = {{Locate(c, *d.p)}};
  t.answer = c.products.Get(*d.p, "price");
  t.answer_is_lookup = true;
  return t;
}

// Level 1: the product of a category with the most stock, or the most expensive one.
std::optional<AgentTask> TopOfCategory(const Shop& c, const ProductDraw& d, Rng& rng) {
  const bool by_stock = rng.Chance(0.5);
  const Row* best = UniqueExtreme(c.products, d.in_cat, by_stock ? "stock" : "price", true);
  if (best == nullptr) return std::nullopt;
  AgentTask t = IntegerTask();
  t.user = absl::StrCat("Which product in the ", d.category, " category ",
                        by_stock ? "has the most units in stock" : "is the most expensive",
                        "? Answer with its name.");
  t.rounds = {{c.ts.Call("in_category", {d.category})}};
  t.answer = c.products.Get(*best, "name");
  t.match = AnswerMatch::kText;
  t.answer_is_lookup = true;
  return t;
}

// Level 2: what all of a customer's orders cost at today's prices (orders, then products).
std::optional<AgentTask> CustomerSpending(const Shop& c, const ProductDraw&, Rng& rng) {
  const Table& products = c.products;
  const Table& orders = c.orders;
  const Row& o = PickRow(orders, rng);
  const std::string customer = orders.Get(o, "customer");
  int64_t total = 0;
  std::vector<ToolCall> lookups;
  std::set<std::string> seen;
  for (const Row* r : RowsWhere(orders, "customer", customer)) {
    const Row& prod = *products.Find(orders.Get(*r, "sku"));
    total += orders.Int(*r, "quantity") * products.Int(prod, "price");
    if (seen.insert(prod[0]).second) lookups.push_back(c.ts.Call("product", {prod[0]}));
  }
  AgentTask t = IntegerTask();
  t.user = absl::StrCat("How much have all of ", customer,
                        "'s orders cost in total, at today's prices?");
  t.rounds = {{c.ts.Call("orders_of", {customer})}, lookups};
  t.answer = std::to_string(total);
  return t;
}

// Level 3: restock a category's low products, or raise a product's price (verified by the final
// database).
std::optional<AgentTask> RestockOrReprice(const Shop& c, const ProductDraw& d, Rng& rng) {
  const ToolSet& ts = c.ts;
  const Table& products = c.products;
  const Row& p = *d.p;
  AgentTask t = IntegerTask();
  Database expected = c.db;
  Table& ep = *expected.Find("products");
  if (rng.Chance(0.5)) {
    const int64_t below = rng.Uniform(10, 40), add = rng.Uniform(5, 30);
    std::vector<ToolCall> restocks;
    for (const Row* r : d.in_cat) {
      if (products.Int(*r, "stock") >= below) continue;
      restocks.push_back(ts.Call("restock", {(*r)[0], std::to_string(add)}));
      Row& er = *ep.Find((*r)[0]);
      er[ep.Col("stock")] = std::to_string(products.Int(*r, "stock") + add);
    }
    if (restocks.empty()) return std::nullopt;
    t.user = absl::StrCat("Add ", add, " units to the stock of every ", d.category,
                          " product that has fewer than ", below, " units.");
    t.rounds = {{ts.Call("in_category", {d.category})}, restocks};
  } else {
    const int64_t price = products.Int(p, "price") + rng.Uniform(1, 20);
    (*ep.Find(p[0]))[ep.Col("price")] = std::to_string(price);
    t.user = absl::StrCat("Raise the price of the ", products.Get(p, "name"), " (category ",
                          d.category, ") to ", price, ".");
    t.rounds = {{Locate(c, p)}, {ts.Call("set_price", {p[0], std::to_string(price)})}};
  }
  t.expected = std::move(expected);
  return t;
}

// Level 4: a sale to a new customer: place the order, take the units out of stock, answer with
// the bill.
std::optional<AgentTask> Sale(const Shop& c, const ProductDraw& d, Rng& rng) {
  const Table& products = c.products;
  const Row& p = *d.p;
  const int64_t stock = products.Int(p, "stock");
  if (stock < 2) return std::nullopt;
  const int64_t q = rng.Uniform(1, std::min<int64_t>(stock, 6));
  std::set<std::string> people;
  for (const Row& r : c.orders.rows) people.insert(c.orders.Get(r, "customer"));
  const std::string customer = UniquePersonName(rng, &people);
  Database expected = c.db;
  Table& eo = *expected.Find("orders");
  eo.rows.push_back({eo.NextKey("O"), p[0], customer, std::to_string(q)});
  Table& ep = *expected.Find("products");
  (*ep.Find(p[0]))[ep.Col("stock")] = std::to_string(stock - q);
  AgentTask t = IntegerTask();
  t.user = absl::StrCat(customer, " buys ", q, " of the ", products.Get(p, "name"), " (category ",
                        d.category, "). Record the order, take the units out ",
                        "of stock, and answer with the amount to pay.");
  t.rounds = {{Locate(c, p)},
              {c.ts.Call("place_order", {p[0], customer, std::to_string(q)}),
               c.ts.Call("adjust_stock", {p[0], std::to_string(-q)})}};
  t.answer = std::to_string(q * products.Int(p, "price"));
  t.expected = std::move(expected);
  return t;
}

// One attempt at a task of one level: the task, or nullopt when this draw cannot make one.
using LevelTask = std::optional<AgentTask> (*)(const Shop&, const ProductDraw&, Rng&);
// Level -> its task (the ladder of the file comment).
constexpr LevelTask kLevelTasks[] = {Price, TopOfCategory, CustomerSpending, RestockOrReprice,
                                     Sale};

absl::StatusOr<AgentTask> MakeTask(const Database& db, const ToolSet& ts, Rng& rng, int level) {
  const Shop c{db, ts, *db.Find("products"), *db.Find("orders")};
  for (int attempt = 0; attempt < 50; ++attempt) {
    const ProductDraw d = DrawProduct(c, rng);
    if (std::optional<AgentTask> t = ForLevel(kLevelTasks, level)(c, d, rng)) return *std::move(t);
  }
  return absl::InternalError("shop_inventory: no task found for this database");
}

}  // namespace

Category ShopInventoryCategory() {
  return AgentCategory(
      "shop_inventory", "products, stock and orders: look up, compare, restock, reprice, sell",
      "You run a shop's back office. Use the tools; the database is the only source of truth.",
      Catalog(), MakeDb, MakeTask, [](Rng& rng, std::map<std::string, std::string>* p) {
        (*p)["categories"] = std::to_string(rng.Uniform(3, 6));
        (*p)["per_category"] = std::to_string(rng.Uniform(3, 7));
      });
}

}  // namespace dsarl::envs
