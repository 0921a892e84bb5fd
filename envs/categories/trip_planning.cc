// trip_planning: cities, hotels, connections between cities and attractions, with tools to look
// them up, book hotels and buy tickets (after DeepSeek's trip-planning environment: get_all_cities,
// get_all_hotels_by_city, get_inter_city_transport, ...). The ladder: one lookup; a choice among
// lookups; the best connection; a booking (verified by the final database); a whole plan with a
// ticket, a booking and its total cost.
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

// The map a task maker reads.
struct Trip {
  const Database& db;
  const ToolSet& ts;
  const Table& hotels;
  const Table& transport;
  const Table& cities;
};

// What every attempt at a task draws first: a city and its hotels.
struct CityDraw {
  std::string city;
  std::vector<const Row*> in_city;
};

CityDraw DrawCity(const Trip& c, Rng& rng) {
  CityDraw d;
  d.city = PickRow(c.cities, rng)[0];
  d.in_city = RowsWhere(c.hotels, "city", d.city);
  return d;
}

// A drawn connection (levels 2 and up): its two cities, every direct option between them, and the
// option that is uniquely fastest (by_time) or cheapest.
struct Connection {
  std::string from, to;
  std::vector<const Row*> options;
  bool by_time;
  const Row* best;
};

// nullopt when the best option is not unique.
std::optional<Connection> DrawConnection(const Trip& c, Rng& rng) {
  const Table& transport = c.transport;
  const Row& conn = PickRow(transport, rng);
  Connection x;
  x.from = transport.Get(conn, "from_city");
  x.to = transport.Get(conn, "to_city");
  for (const Row* r : RowsWhere(transport, "from_city", x.from)) {
    if (transport.Get(*r, "to_city") == x.to) x.options.push_back(r);
  }
  x.by_time = rng.Chance(0.4);
  x.best = UniqueExtreme(transport, x.options, x.by_time ? "hours" : "price");
  if (x.best == nullptr) return std::nullopt;
  return x;
}

// A booking of the cheapest hotel at the connection's end for a new guest (levels 3 and 4), and
// the database with it. nullopt when the cheapest hotel is not unique.
struct Booking {
  const Row* hotel;
  std::string guest;
  int64_t nights;
  Database expected;
};

std::optional<Booking> DrawBooking(const Trip& c, const Connection& x, Rng& rng) {
  const Row* hotel = UniqueExtreme(c.hotels, RowsWhere(c.hotels, "city", x.to), "price_per_night");
  if (hotel == nullptr) return std::nullopt;
  std::set<std::string> no_names;
  Booking b{hotel, UniquePersonName(rng, &no_names), 0, c.db};
  b.nights = rng.Uniform(1, 5);
  Table& bookings = *b.expected.Find("bookings");
  bookings.rows.push_back({bookings.NextKey("B"), (*hotel)[0], b.guest, std::to_string(b.nights)});
  return b;
}

// Level 0: a city's region, or one night's price at a hotel.
std::optional<AgentTask> RegionOrNightPrice(const Trip& c, const CityDraw& d, Rng& rng) {
  const ToolSet& ts = c.ts;
  const Table& hotels = c.hotels;
  AgentTask t;
  if (ts.Has("city_region") && rng.Chance(0.3)) {
    t.user = absl::StrCat("In which region is the city of ", d.city, "?");
    t.rounds = {{ts.Call("city_region", {d.city})}};
    t.answer = c.cities.Get(*c.cities.Find(d.city), "region");
    t.match = AnswerMatch::kText;
  } else {
    const Row& h = *d.in_city[rng.Index(d.in_city.size())];
    t.user = absl::StrCat("How much does one night at the ", hotels.Get(h, "name"), " in ", d.city,
                          " cost?");
    t.rounds = {{ts.Call("hotels_in_city", {d.city})}};
    if (ts.Has("hotel_details") && rng.Chance(0.5)) {
      t.rounds.push_back({ts.Call("hotel_details", {h[0]})});
    }
    t.answer = hotels.Get(h, "price_per_night");
    t.match = AnswerMatch::kInteger;
  }
  t.answer_is_lookup = true;
  return t;
}

// Level 1: how many hotels a city has, or its cheapest hotel with at least some stars.
std::optional<AgentTask> HotelCountOrCheapest(const Trip& c, const CityDraw& d, Rng& rng) {
  const ToolSet& ts = c.ts;
  const Table& hotels = c.hotels;
  AgentTask t;
  if (rng.Chance(0.3)) {
    t.user = absl::StrCat("How many hotels are there in ", d.city, "?");
    t.rounds = {{ts.Has("count_hotels") ? ts.Call("count_hotels", {d.city})
                                        : ts.Call("hotels_in_city", {d.city})}};
    t.answer = std::to_string(d.in_city.size());
    t.answer_is_lookup = ts.Has("count_hotels");
    t.match = AnswerMatch::kInteger;
    return t;
  }
  const int64_t stars = rng.Uniform(1, 4);
  std::vector<const Row*> ok;
  for (const Row* h : d.in_city) {
    if (hotels.Int(*h, "stars") >= stars) ok.push_back(h);
  }
  const Row* best = UniqueExtreme(hotels, ok, "price_per_night");
  if (best == nullptr) return std::nullopt;
  t.user = absl::StrCat("What is the cheapest hotel in ", d.city, " with at least ", stars,
                        " stars? Answer with its name.");
  t.rounds = {{ts.Call("hotels_in_city", {d.city})}};
  t.answer = hotels.Get(*best, "name");
  t.answer_is_lookup = true;
  return t;
}

// Level 2: the hours of the fastest, or the price of the cheapest, direct connection.
std::optional<AgentTask> BestConnection(const Trip& c, const CityDraw&, Rng& rng) {
  const std::optional<Connection> x = DrawConnection(c, rng);
  if (!x) return std::nullopt;
  AgentTask t;
  t.user = x->by_time ? absl::StrCat("How many hours does the fastest direct connection from ",
                                     x->from, " to ", x->to, " take?")
                      : absl::StrCat("What does the cheapest direct connection from ", x->from,
                                     " to ", x->to, " cost?");
  t.rounds = {{c.ts.Call("transport", {x->from, x->to})}};
  t.answer = c.transport.Get(*x->best, x->by_time ? "hours" : "price");
  t.answer_is_lookup = true;
  t.match = AnswerMatch::kInteger;
  return t;
}

// Level 3: book the cheapest hotel at a connection's end (verified by the final database).
std::optional<AgentTask> BookCheapestHotel(const Trip& c, const CityDraw&, Rng& rng) {
  const std::optional<Connection> x = DrawConnection(c, rng);
  if (!x) return std::nullopt;
  std::optional<Booking> b = DrawBooking(c, *x, rng);
  if (!b) return std::nullopt;
  AgentTask t;
  t.user = absl::StrCat("Book the cheapest hotel in ", x->to, " for ", b->guest, " for ", b->nights,
                        " night", b->nights > 1 ? "s" : "", ".");
  t.rounds = {{c.ts.Call("hotels_in_city", {x->to})},
              {c.ts.Call("book_hotel", {(*b->hotel)[0], b->guest, std::to_string(b->nights)})}};
  t.expected = std::move(b->expected);
  return t;
}

// Level 4: a whole plan: a ticket on the cheapest connection, the cheapest hotel there, and the
// total cost of both.
std::optional<AgentTask> PlanTrip(const Trip& c, const CityDraw&, Rng& rng) {
  const ToolSet& ts = c.ts;
  const std::optional<Connection> x = DrawConnection(c, rng);
  if (!x) return std::nullopt;
  std::optional<Booking> b = DrawBooking(c, *x, rng);
  if (!b) return std::nullopt;
  const Row* ride = UniqueExtreme(c.transport, x->options, "price");
  Table& tickets = *b->expected.Find("tickets");
  tickets.rows.push_back({tickets.NextKey("K"), (*ride)[0], b->guest});
  const std::string& hotel_id = (*b->hotel)[0];
  AgentTask t;
  t.user = absl::StrCat(b->guest, " travels from ", x->from, " to ", x->to,
                        " on the cheapest direct connection and stays ", b->nights, " night",
                        b->nights > 1 ? "s" : "", " at the cheapest hotel there. Buy the ticket, ",
                        "book the hotel, and answer with the total cost of both.");
  t.rounds = {{ts.Call("transport", {x->from, x->to}), ts.Call("hotels_in_city", {x->to})},
              {ts.Call("buy_ticket", {(*ride)[0], b->guest}),
               ts.Call("book_hotel", {hotel_id, b->guest, std::to_string(b->nights)})}};
  t.answer = std::to_string(c.transport.Int(*ride, "price") +
                            b->nights * c.hotels.Int(*b->hotel, "price_per_night"));
  t.match = AnswerMatch::kInteger;
  t.expected = std::move(b->expected);
  return t;
}

// One attempt at a task of one level: the task, or nullopt when this draw cannot make one.
using LevelTask = std::optional<AgentTask> (*)(const Trip&, const CityDraw&, Rng&);
struct Level {
  LevelTask make;
  bool needs_connection;  // a map without connections has no task of this level
};
// Level -> its task (the ladder of the file comment).
constexpr Level kLevels[] = {{RegionOrNightPrice, false},
                             {HotelCountOrCheapest, false},
                             {BestConnection, true},
                             {BookCheapestHotel, true},
                             {PlanTrip, true}};

absl::StatusOr<AgentTask> MakeTask(const Database& db, const ToolSet& ts, Rng& rng, int level) {
  const Trip c{db, ts, *db.Find("hotels"), *db.Find("transport"), *db.Find("cities")};
  const Level& task = ForLevel(kLevels, level);
  const bool possible = !task.needs_connection || !c.transport.rows.empty();
  for (int attempt = 0; possible && attempt < 50; ++attempt) {
    const CityDraw d = DrawCity(c, rng);
    if (std::optional<AgentTask> t = task.make(c, d, rng)) return *std::move(t);
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
