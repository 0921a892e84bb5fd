// shop_inventory: a shop's products (category, price, stock) and its customers' orders, with
// tools to browse, look up, restock, reprice and sell. The ladder: a price lookup; the top product
// of a category; a customer's spending across two rounds of calls; restocking or repricing
// (verified by the final database); a sale that places an order, lowers the stock and answers
// with the bill.
#include <map>
#include <memory>
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

std::vector<ToolTemplate> Catalog() {
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

absl::StatusOr<AgentTask> MakeTask(const Database& db, const ToolSet& ts, Rng& rng, int level) {
  const Table& products = *db.Find("products");
  const Table& orders = *db.Find("orders");
  AgentTask t;
  t.match = AnswerMatch::kInteger;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const Row& p = PickRow(products, rng);
    const std::string category = products.Get(p, "category");
    const auto in_cat = RowsWhere(products, "category", category);
    // How a task finds a product it names: by name when the shop has that tool.
    auto locate = [&](const Row& row) {
      return ts.Has("by_name") ? ts.Call("by_name", {products.Get(row, "name")})
                               : ts.Call("in_category", {products.Get(row, "category")});
    };
    switch (level) {
      case 0:
        t.user = absl::StrCat("What is the price of the ", products.Get(p, "name"), " (category ",
                              category, ")?");
        t.rounds = {{locate(p)}};
        t.answer = products.Get(p, "price");
        t.answer_is_lookup = true;
        return t;
      case 1: {
        const bool by_stock = rng.Chance(0.5);
        const Row* best = UniqueExtreme(products, in_cat, by_stock ? "stock" : "price", true);
        if (best == nullptr) continue;
        t.user = absl::StrCat("Which product in the ", category, " category ",
                              by_stock ? "has the most units in stock" : "is the most expensive",
                              "? Answer with its name.");
        t.rounds = {{ts.Call("in_category", {category})}};
        t.answer = products.Get(*best, "name");
        t.match = AnswerMatch::kText;
        t.answer_is_lookup = true;
        return t;
      }
      case 2: {
        const Row& o = PickRow(orders, rng);
        const std::string customer = orders.Get(o, "customer");
        int64_t total = 0;
        std::vector<ToolCall> lookups;
        std::set<std::string> seen;
        for (const Row* r : RowsWhere(orders, "customer", customer)) {
          const Row& prod = *products.Find(orders.Get(*r, "sku"));
          total += orders.Int(*r, "quantity") * products.Int(prod, "price");
          if (seen.insert(prod[0]).second) lookups.push_back(ts.Call("product", {prod[0]}));
        }
        t.user = absl::StrCat("How much have all of ", customer,
                              "'s orders cost in total, at today's prices?");
        t.rounds = {{ts.Call("orders_of", {customer})}, lookups};
        t.answer = std::to_string(total);
        return t;
      }
      case 3: {
        Database expected = db;
        Table& ep = *expected.Find("products");
        if (rng.Chance(0.5)) {
          const int64_t below = rng.Uniform(10, 40), add = rng.Uniform(5, 30);
          std::vector<ToolCall> restocks;
          for (const Row* r : in_cat) {
            if (products.Int(*r, "stock") >= below) continue;
            restocks.push_back(ts.Call("restock", {(*r)[0], std::to_string(add)}));
            Row& er = *ep.Find((*r)[0]);
            er[ep.Col("stock")] = std::to_string(products.Int(*r, "stock") + add);
          }
          if (restocks.empty()) continue;
          t.user = absl::StrCat("Add ", add, " units to the stock of every ", category,
                                " product that has fewer than ", below, " units.");
          t.rounds = {{ts.Call("in_category", {category})}, restocks};
        } else {
          const int64_t price = products.Int(p, "price") + rng.Uniform(1, 20);
          (*ep.Find(p[0]))[ep.Col("price")] = std::to_string(price);
          t.user = absl::StrCat("Raise the price of the ", products.Get(p, "name"), " (category ",
                                category, ") to ", price, ".");
          t.rounds = {{locate(p)}, {ts.Call("set_price", {p[0], std::to_string(price)})}};
        }
        t.expected = std::move(expected);
        return t;
      }
      default: {
        const int64_t stock = products.Int(p, "stock");
        if (stock < 2) continue;
        const int64_t q = rng.Uniform(1, std::min<int64_t>(stock, 6));
        std::set<std::string> people;
        for (const Row& r : orders.rows) people.insert(orders.Get(r, "customer"));
        const std::string customer = UniquePersonName(rng, &people);
        Database expected = db;
        Table& eo = *expected.Find("orders");
        eo.rows.push_back({eo.NextKey("O"), p[0], customer, std::to_string(q)});
        Table& ep = *expected.Find("products");
        (*ep.Find(p[0]))[ep.Col("stock")] = std::to_string(stock - q);
        t.user = absl::StrCat(customer, " buys ", q, " of the ", products.Get(p, "name"),
                              " (category ", category, "). Record the order, take the units out ",
                              "of stock, and answer with the amount to pay.");
        t.rounds = {{locate(p)},
                    {ts.Call("place_order", {p[0], customer, std::to_string(q)}),
                     ts.Call("adjust_stock", {p[0], std::to_string(-q)})}};
        t.answer = std::to_string(q * products.Int(p, "price"));
        t.expected = std::move(expected);
        return t;
      }
    }
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
