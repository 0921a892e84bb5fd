// trip_planning: cities, hotels, connections between cities and attractions, with tools to look
// them up, book hotels and buy tickets (after DeepSeek's trip-planning environment: get_all_cities,
// get_all_hotels_by_city, get_inter_city_transport, ...). The ladder: one lookup; a choice among
// lookups; the best connection; a booking (verified by the final database); a whole plan with a
// ticket, a booking and its total cost.
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
  add({.id = "cities",
       .description = "Lists every city.",
       .op = ToolOp::kListDistinct,
       .table = "cities",
       .column = "city"},
      {"get_all_cities", "list_cities", "cities"});
  add({.id = "hotels_in_city",
       .description = "Lists the hotels of a city with stars and nightly price.",
       .op = ToolOp::kFind,
       .table = "hotels",
       .params = {{"city", "city", "the city's name"}},
       .output = {"hotel_id", "name", "stars", "price_per_night"}},
      {"get_all_hotels_by_city", "hotels_in_city", "find_hotels"});
  add({.id = "hotel_details",
       .description = "All details of one hotel.",
       .op = ToolOp::kGet,
       .table = "hotels",
       .params = {{"hotel_id", "hotel_id", "the hotel's id, e.g. H3"}}},
      {"get_hotel_details", "hotel_info"}, true);
  add({.id = "count_hotels",
       .description = "How many hotels a city has.",
       .op = ToolOp::kCount,
       .table = "hotels",
       .params = {{"city", "city", "the city's name"}}},
      {"count_hotels_in_city", "hotel_count"}, true);
  add({.id = "transport",
       .description = "Direct connections from one city to another.",
       .op = ToolOp::kFind,
       .table = "transport",
       .params = {{"from_city", "from_city", "departure city"},
                  {"to_city", "to_city", "arrival city"}},
       .output = {"transport_id", "mode", "price", "hours"},
       .min_level = 2},
      {"get_inter_city_transport", "find_connections", "transport_options"});
  add({.id = "attractions",
       .description = "Attractions of a city with their ticket prices.",
       .op = ToolOp::kFind,
       .table = "attractions",
       .params = {{"city", "city", "the city's name"}},
       .output = {"name", "kind", "ticket_price"}},
      {"get_attractions", "attractions_in_city", "list_sights"});
  add({.id = "city_region",
       .description = "The region a city is in.",
       .op = ToolOp::kGet,
       .table = "cities",
       .params = {{"city", "city", "the city's name"}}},
      {"get_city_info", "city_details"}, true);
  add({.id = "book_hotel",
       .description = "Books a hotel for a guest; returns the booking.",
       .op = ToolOp::kInsert,
       .table = "bookings",
       .params = {{"hotel_id", "hotel_id", "the hotel's id"},
                  {"guest", "guest", "guest's full name"},
                  {"nights", "nights", "number of nights"}},
       .key_prefix = "B",
       .min_level = 3},
      {"book_hotel", "reserve_hotel", "make_hotel_booking"});
  add({.id = "buy_ticket",
       .description = "Buys a ticket on a connection for a traveler.",
       .op = ToolOp::kInsert,
       .table = "tickets",
       .params = {{"transport_id", "transport_id", "the connection's id"},
                  {"traveler", "traveler", "traveler's full name"}},
       .key_prefix = "K",
       .min_level = 4},
      {"buy_ticket", "book_transport", "reserve_seat"});
  add({.id = "cancel_booking",
       .description = "Cancels a hotel booking.",
       .op = ToolOp::kDelete,
       .table = "bookings",
       .params = {{"booking_id", "booking_id", "the booking's id"}},
       .min_level = 3},
      {"cancel_booking", "cancel_reservation"}, true);
  return c;
}

absl::StatusOr<Database> MakeDb(const proto::EnvSpec& spec) {
  ASSIGN_OR_RETURN(int64_t n_cities, IntParam(spec, "cities", 8, 3, 30));
  ASSIGN_OR_RETURN(int64_t max_hotels, IntParam(spec, "max_hotels", 5, 2, 12));
  Rng rng(DeriveSeed({spec.seed(), HashString("trip_planning/db")}));
  Database db;
  db.tables = {
      {"cities", {{"city"}, {"region"}}, {}},
      {"hotels",
       {{"hotel_id"}, {"name"}, {"city"}, {"stars", kInt}, {"price_per_night", kInt}},
       {}},
      {"transport",
       {{"transport_id"}, {"from_city"}, {"to_city"}, {"mode"}, {"price", kInt}, {"hours", kInt}},
       {}},
      {"attractions",
       {{"attraction_id"}, {"name"}, {"city"}, {"kind"}, {"ticket_price", kInt}},
       {}},
      {"bookings", {{"booking_id"}, {"hotel_id"}, {"guest"}, {"nights", kInt}}, {}},
      {"tickets", {{"ticket_id"}, {"transport_id"}, {"traveler"}}, {}},
  };
  std::set<std::string> taken;
  std::vector<std::string> regions;
  for (int i = 0; i < 3; ++i) regions.push_back(UniqueInventedName(rng, &taken, 2));
  std::vector<std::string> cities;
  for (int64_t i = 0; i < n_cities; ++i) {
    cities.push_back(UniqueInventedName(rng, &taken));
    db.Find("cities")->rows.push_back({cities.back(), rng.Pick(regions)});
  }
  static const char* kHotelWords[] = {"Grand",  "Plaza",  "Inn",  "Lodge",
                                      "Palace", "Suites", "House"};
  Table& hotels = *db.Find("hotels");
  for (const std::string& city : cities) {
    const int n = static_cast<int>(rng.Uniform(2, max_hotels));
    const std::vector<int64_t> prices = DistinctInts(rng, n, 40, 400);
    for (int i = 0; i < n; ++i) {
      std::string name;
      do {
        name = absl::StrCat(rng.Pick(kHotelWords), " ", InventedName(rng, 2));
      } while (!taken.insert(name).second);
      hotels.rows.push_back({absl::StrCat("H", hotels.rows.size() + 1), name, city,
                             std::to_string(rng.Uniform(1, 5)), std::to_string(prices[i])});
    }
  }
  static const char* kModes[] = {"train", "bus", "flight"};
  Table& transport = *db.Find("transport");
  for (const std::string& a : cities) {
    for (const std::string& b : cities) {
      if (a == b || !rng.Chance(0.35)) continue;
      const int n = static_cast<int>(rng.Uniform(1, 3));
      const std::vector<int64_t> prices = DistinctInts(rng, n, 15, 300);
      const std::vector<int64_t> hours = DistinctInts(rng, n, 1, 14);
      for (int i = 0; i < n; ++i) {
        transport.rows.push_back({absl::StrCat("T", transport.rows.size() + 1), a, b,
                                  rng.Pick(kModes), std::to_string(prices[i]),
                                  std::to_string(hours[i])});
      }
    }
  }
  static const char* kKinds[] = {"museum", "park", "castle", "gallery", "market", "tower"};
  Table& sights = *db.Find("attractions");
  for (const std::string& city : cities) {
    for (int i = 0, n = static_cast<int>(rng.Uniform(1, 4)); i < n; ++i) {
      const std::string kind = rng.Pick(kKinds);
      sights.rows.push_back({absl::StrCat("A", sights.rows.size() + 1),
                             absl::StrCat(InventedName(rng, 2), " ", kind), city, kind,
                             std::to_string(rng.Uniform(0, 40))});
    }
  }
  return db;
}

absl::StatusOr<AgentTask> MakeTask(const Database& db, const ToolSet& ts, Rng& rng, int level) {
  const Table& hotels = *db.Find("hotels");
  const Table& transport = *db.Find("transport");
  const Table& cities = *db.Find("cities");
  AgentTask t;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const std::string city = PickRow(cities, rng)[0];
    const auto in_city = RowsWhere(hotels, "city", city);
    switch (level) {
      case 0: {
        if (ts.Has("city_region") && rng.Chance(0.3)) {
          t.user = absl::StrCat("In which region is the city of ", city, "?");
          t.rounds = {{ts.Call("city_region", {city})}};
          t.answer = cities.Get(*cities.Find(city), "region");
          t.match = AnswerMatch::kText;
        } else {
          const Row& h = *in_city[rng.Index(in_city.size())];
          t.user = absl::StrCat("How much does one night at the ", hotels.Get(h, "name"), " in ",
                                city, " cost?");
          t.rounds = {{ts.Call("hotels_in_city", {city})}};
          if (ts.Has("hotel_details") && rng.Chance(0.5)) {
            t.rounds.push_back({ts.Call("hotel_details", {h[0]})});
          }
          t.answer = hotels.Get(h, "price_per_night");
          t.match = AnswerMatch::kInteger;
        }
        t.answer_is_lookup = true;
        return t;
      }
      case 1: {
        if (rng.Chance(0.3)) {
          t.user = absl::StrCat("How many hotels are there in ", city, "?");
          t.rounds = {{ts.Has("count_hotels") ? ts.Call("count_hotels", {city})
                                              : ts.Call("hotels_in_city", {city})}};
          t.answer = std::to_string(in_city.size());
          t.answer_is_lookup = ts.Has("count_hotels");
          t.match = AnswerMatch::kInteger;
          return t;
        }
        const int64_t stars = rng.Uniform(1, 4);
        std::vector<const Row*> ok;
        for (const Row* h : in_city) {
          if (hotels.Int(*h, "stars") >= stars) ok.push_back(h);
        }
        const Row* best = UniqueExtreme(hotels, ok, "price_per_night");
        if (best == nullptr) continue;
        t.user = absl::StrCat("What is the cheapest hotel in ", city, " with at least ", stars,
                              " stars? Answer with its name.");
        t.rounds = {{ts.Call("hotels_in_city", {city})}};
        t.answer = hotels.Get(*best, "name");
        t.answer_is_lookup = true;
        return t;
      }
      default:
        break;
    }
    if (transport.rows.empty()) break;
    const Row& conn = PickRow(transport, rng);
    const std::string from = transport.Get(conn, "from_city"), to = transport.Get(conn, "to_city");
    std::vector<const Row*> options;
    for (const Row* r : RowsWhere(transport, "from_city", from)) {
      if (transport.Get(*r, "to_city") == to) options.push_back(r);
    }
    const bool by_time = rng.Chance(0.4);
    const Row* best = UniqueExtreme(transport, options, by_time ? "hours" : "price");
    if (best == nullptr) continue;
    if (level == 2) {
      t.user = by_time ? absl::StrCat("How many hours does the fastest direct connection from ",
                                      from, " to ", to, " take?")
                       : absl::StrCat("What does the cheapest direct connection from ", from,
                                      " to ", to, " cost?");
      t.rounds = {{ts.Call("transport", {from, to})}};
      t.answer = transport.Get(*best, by_time ? "hours" : "price");
      t.answer_is_lookup = true;
      t.match = AnswerMatch::kInteger;
      return t;
    }
    const auto there = RowsWhere(hotels, "city", to);
    const Row* hotel = UniqueExtreme(hotels, there, "price_per_night");
    if (hotel == nullptr) continue;
    std::set<std::string> no_names;
    const std::string guest = UniquePersonName(rng, &no_names);
    const int64_t nights = rng.Uniform(1, 5);
    Database expected = db;
    Table& bookings = *expected.Find("bookings");
    bookings.rows.push_back({bookings.NextKey("B"), (*hotel)[0], guest, std::to_string(nights)});
    if (level == 3) {
      t.user = absl::StrCat("Book the cheapest hotel in ", to, " for ", guest, " for ", nights,
                            " night", nights > 1 ? "s" : "", ".");
      t.rounds = {{ts.Call("hotels_in_city", {to})},
                  {ts.Call("book_hotel", {(*hotel)[0], guest, std::to_string(nights)})}};
      t.expected = std::move(expected);
      return t;
    }
    const Row* ride = UniqueExtreme(transport, options, "price");
    Table& tickets = *expected.Find("tickets");
    tickets.rows.push_back({tickets.NextKey("K"), (*ride)[0], guest});
    t.user = absl::StrCat(guest, " travels from ", from, " to ", to,
                          " on the cheapest direct connection and stays ", nights, " night",
                          nights > 1 ? "s" : "", " at the cheapest hotel there. Buy the ticket, ",
                          "book the hotel, and answer with the total cost of both.");
    t.rounds = {{ts.Call("transport", {from, to}), ts.Call("hotels_in_city", {to})},
                {ts.Call("buy_ticket", {(*ride)[0], guest}),
                 ts.Call("book_hotel", {(*hotel)[0], guest, std::to_string(nights)})}};
    t.answer = std::to_string(transport.Int(*ride, "price") +
                              nights * hotels.Int(*hotel, "price_per_night"));
    t.match = AnswerMatch::kInteger;
    t.expected = std::move(expected);
    return t;
  }
  return absl::InternalError("trip_planning: no task found for this database");
}

}  // namespace

Category TripPlanningCategory() {
  return AgentCategory(
      "trip_planning", "cities, hotels, connections: look up, compare, book, plan a trip",
      "You are a travel assistant. Use the tools to find facts; never guess prices or names.",
      Catalog(), MakeDb, MakeTask, [](Rng& rng, std::map<std::string, std::string>* p) {
        (*p)["cities"] = std::to_string(rng.Uniform(5, 12));
        (*p)["max_hotels"] = std::to_string(rng.Uniform(3, 6));
      });
}

}  // namespace dsarl::envs
