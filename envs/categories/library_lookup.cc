// library_lookup: a library's books, members and loans, with tools to search the catalogue, find
// members, lend and take back books. The ladder: a publication year; an author's oldest book or
// book count; what a member has borrowed (three rounds: member, loans, books); lending a book
// (loan plus shelf count, verified by the final database); taking back all of a member's books.
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

std::vector<ToolTemplate> Catalog() {
  std::vector<ToolTemplate> c;
  auto add = [&](ToolDef def, std::vector<std::string> names, bool optional = false) {
    c.push_back(ToolTemplate{std::move(def), std::move(names), optional});
  };
  add({.id = "by_author",
       .description = "Books by an author.",
       .op = ToolOp::kFind,
       .table = "books",
       .params = {{"author", "author", "the author's full name"}},
       .output = {"book_id", "title", "year", "copies"}},
      {"search_by_author", "books_by_author", "find_author"});
  add({.id = "by_title",
       .description = "Finds a book by its exact title.",
       .op = ToolOp::kFind,
       .table = "books",
       .params = {{"title", "title", "the exact title"}},
       .output = {"book_id", "author", "year", "copies"}},
      {"search_by_title", "find_book", "lookup_title"});
  add({.id = "book",
       .description = "One book by id.",
       .op = ToolOp::kGet,
       .table = "books",
       .params = {{"book_id", "book_id", "the book's id, e.g. BK4"}}},
      {"get_book", "book_details"});
  add({.id = "genres",
       .description = "Lists the genres.",
       .op = ToolOp::kListDistinct,
       .table = "books",
       .column = "genre"},
      {"list_genres", "get_genres"}, true);
  add({.id = "by_genre",
       .description = "Books of a genre.",
       .op = ToolOp::kFind,
       .table = "books",
       .params = {{"genre", "genre", "the genre"}},
       .output = {"book_id", "title", "author"}},
      {"books_in_genre", "browse_genre"}, true);
  add({.id = "member",
       .description = "Finds a member by full name.",
       .op = ToolOp::kFind,
       .table = "members",
       .params = {{"name", "name", "the member's full name"}},
       .min_level = 2},
      {"find_member", "lookup_member", "search_members"});
  add({.id = "loans_of",
       .description = "The books a member has on loan.",
       .op = ToolOp::kFind,
       .table = "loans",
       .params = {{"member_id", "member_id", "the member's id, e.g. M2"}},
       .min_level = 2},
      {"list_loans", "member_loans", "get_loans"});
  add({.id = "checkout",
       .description = "Records a loan of a book to a member.",
       .op = ToolOp::kInsert,
       .table = "loans",
       .params = {{"book_id", "book_id", "the book's id"}, {"member_id", "member_id", "member id"}},
       .key_prefix = "L",
       .min_level = 3},
      {"checkout_book", "lend_book", "record_loan"});
  add({.id = "copies",
       .description = "Changes how many copies are on the shelf.",
       .op = ToolOp::kAdd,
       .table = "books",
       .params = {{"book_id", "book_id", "the book's id"},
                  {"change", "copies",
                   "copies to add "
                   "(negative removes)"}},
       .column = "copies",
       .min_level = 3},
      {"update_copies", "adjust_copies"});
  add({.id = "return",
       .description = "Ends a loan.",
       .op = ToolOp::kDelete,
       .table = "loans",
       .params = {{"loan_id", "loan_id", "the loan's id"}},
       .min_level = 3},
      {"return_book", "end_loan", "close_loan"});
  return c;
}

absl::StatusOr<Database> MakeDb(const proto::EnvSpec& spec) {
  ASSIGN_OR_RETURN(int64_t n_authors, IntParam(spec, "authors", 6, 2, 30));
  ASSIGN_OR_RETURN(int64_t n_members, IntParam(spec, "members", 6, 2, 30));
  Rng rng(DeriveSeed({spec.seed(), HashString("library_lookup/db")}));
  Database db;
  db.tables = {{"books",
                {{"book_id"}, {"title"}, {"author"}, {"year", kInt}, {"genre"}, {"copies", kInt}},
                {}},
               {"members", {{"member_id"}, {"name"}}, {}},
               {"loans", {{"loan_id"}, {"book_id"}, {"member_id"}}, {}}};
  static const char* kGenres[] = {"mystery", "poetry", "history", "science", "fantasy", "travel"};
  static const char* kTitleWords[] = {"Silent",  "Hidden", "Last",   "Golden", "Broken",
                                      "Distant", "Secret", "Winter", "Lost",   "Seventh"};
  std::set<std::string> taken;
  Table& books = *db.Find("books");
  for (int64_t a = 0; a < n_authors; ++a) {
    const std::string author = UniquePersonName(rng, &taken);
    const int n = static_cast<int>(rng.Uniform(1, 5));
    const std::vector<int64_t> years = DistinctInts(rng, n, 1850, 2024);
    for (int i = 0; i < n; ++i) {
      std::string title;
      do {
        title = absl::StrCat("The ", rng.Pick(kTitleWords), " ", InventedName(rng, 2));
      } while (!taken.insert(title).second);
      books.rows.push_back({absl::StrCat("BK", books.rows.size() + 1), title, author,
                            std::to_string(years[i]), rng.Pick(kGenres),
                            std::to_string(rng.Uniform(0, 4))});
    }
  }
  Table& members = *db.Find("members");
  Table& loans = *db.Find("loans");
  for (int64_t m = 0; m < n_members; ++m) {
    members.rows.push_back({absl::StrCat("M", m + 1), UniquePersonName(rng, &taken)});
    for (int k = 0, n = static_cast<int>(rng.Uniform(0, 3)); k < n; ++k) {
      loans.rows.push_back({absl::StrCat("L", loans.rows.size() + 1), PickRow(books, rng)[0],
                            members.rows.back()[0]});
    }
  }
  return db;
}

// The library a task maker reads.
struct Library {
  const Database& db;
  const ToolSet& ts;
  const Table& books;
  const Table& members;
  const Table& loans;
};

// What every attempt at a task draws first: a book and its author, a member and their loans.
struct LibraryDraw {
  const Row* b;
  std::string author;
  const Row* m;
  std::string name;
  std::vector<const Row*> on_loan;
};

LibraryDraw DrawBookAndMember(const Library& c, Rng& rng) {
  LibraryDraw d;
  d.b = &PickRow(c.books, rng);
  d.author = c.books.Get(*d.b, "author");
  d.m = &PickRow(c.members, rng);
  d.name = c.members.Get(*d.m, "name");
  d.on_loan = RowsWhere(c.loans, "member_id", (*d.m)[0]);
  return d;
}

// Level 0: the year a book was published.
std::optional<AgentTask> PublicationYear(const Library& c, const LibraryDraw& d, Rng&) {
  const std::string& title = c.books.Get(*d.b, "title");
  AgentTask t;
  t.user = absl::StrCat("In which year was \"", title, "\" published?");
  t.rounds = {{c.ts.Call("by_title", {title})}};
  t.answer = c.books.Get(*d.b, "year");
  t.match = AnswerMatch::kInteger;
  t.answer_is_lookup = true;
  return t;
}

// Level 1: how many books by an author the library has, or the author's oldest.
std::optional<AgentTask> AuthorCountOrOldest(const Library& c, const LibraryDraw& d, Rng& rng) {
  const Table& books = c.books;
  const auto by = RowsWhere(books, "author", d.author);
  AgentTask t;
  t.rounds = {{c.ts.Call("by_author", {d.author})}};
  if (rng.Chance(0.4)) {
    t.user = absl::StrCat("How many books by ", d.author, " does the library have?");
    t.answer = std::to_string(by.size());
    t.match = AnswerMatch::kInteger;
    return t;
  }
  t.user = absl::StrCat("What is the oldest book by ", d.author, "? Answer with its title.");
  t.answer = books.Get(*UniqueExtreme(books, by, "year"), "title");
  t.answer_is_lookup = true;
  return t;
}

// Level 2: the most recent of the books a member has on loan (member, loans, then the books).
std::optional<AgentTask> NewestOnLoan(const Library& c, const LibraryDraw& d, Rng&) {
  const Table& books = c.books;
  std::vector<const Row*> borrowed;
  std::vector<ToolCall> reads;
  std::set<std::string> seen;
  for (const Row* l : d.on_loan) {
    const std::string id = c.loans.Get(*l, "book_id");
    borrowed.push_back(books.Find(id));
    if (seen.insert(id).second) reads.push_back(c.ts.Call("book", {id}));
  }
  const Row* newest = UniqueExtreme(books, borrowed, "year", true);
  if (newest == nullptr) return std::nullopt;
  AgentTask t;
  t.user = absl::StrCat("Of the books ", d.name, " has on loan, which was published most ",
                        "recently? Answer with its title.");
  t.rounds = {{c.ts.Call("member", {d.name})}, {c.ts.Call("loans_of", {(*d.m)[0]})}, reads};
  t.answer = books.Get(*newest, "title");
  t.answer_is_lookup = true;
  return t;
}

// Level 3: lend a book to a member: the loan plus one copy off the shelf (verified by the final
// database).
std::optional<AgentTask> Lend(const Library& c, const LibraryDraw& d, Rng&) {
  const ToolSet& ts = c.ts;
  const Table& books = c.books;
  const Row& b = *d.b;
  const Row& m = *d.m;
  if (books.Int(b, "copies") < 1) return std::nullopt;
  Database expected = c.db;
  Table& el = *expected.Find("loans");
  el.rows.push_back({el.NextKey("L"), b[0], m[0]});
  Table& eb = *expected.Find("books");
  (*eb.Find(b[0]))[eb.Col("copies")] = std::to_string(books.Int(b, "copies") - 1);
  AgentTask t;
  t.user = absl::StrCat("Lend \"", books.Get(b, "title"), "\" to ", d.name,
                        ": record the loan and take one copy off the shelf.");
  t.rounds = {{ts.Call("by_title", {books.Get(b, "title")}), ts.Call("member", {d.name})},
              {ts.Call("checkout", {b[0], m[0]}), ts.Call("copies", {b[0], "-1"})}};
  t.expected = std::move(expected);
  return t;
}

// Level 4: a member brings back every book on loan: end each loan, put each copy back, answer
// with the number returned.
std::optional<AgentTask> ReturnAll(const Library& c, const LibraryDraw& d, Rng&) {
  const ToolSet& ts = c.ts;
  if (d.on_loan.empty()) return std::nullopt;
  Database expected = c.db;
  Table& el = *expected.Find("loans");
  Table& eb = *expected.Find("books");
  std::vector<ToolCall> calls;
  for (const Row* l : d.on_loan) {
    const std::string book = c.loans.Get(*l, "book_id");
    calls.push_back(ts.Call("return", {(*l)[0]}));
    calls.push_back(ts.Call("copies", {book, "1"}));
    el.rows.erase(el.rows.begin() + (el.Find((*l)[0]) - el.rows.data()));
    Row& row = *eb.Find(book);
    row[eb.Col("copies")] = std::to_string(eb.Int(row, "copies") + 1);
  }
  AgentTask t;
  t.user = absl::StrCat(d.name, " brings back every book they have on loan. End each loan, ",
                        "put each copy back on the shelf, and answer with the number of ",
                        "books returned.");
  t.rounds = {{ts.Call("member", {d.name})}, {ts.Call("loans_of", {(*d.m)[0]})}, calls};
  t.answer = std::to_string(d.on_loan.size());
  t.match = AnswerMatch::kInteger;
  t.expected = std::move(expected);
  return t;
}

// One attempt at a task of one level: the task, or nullopt when this draw cannot make one.
using LevelTask = std::optional<AgentTask> (*)(const Library&, const LibraryDraw&, Rng&);
// Level -> its task (the ladder of the file comment).
constexpr LevelTask kLevelTasks[] = {PublicationYear, AuthorCountOrOldest, NewestOnLoan, Lend,
                                     ReturnAll};

absl::StatusOr<AgentTask> MakeTask(const Database& db, const ToolSet& ts, Rng& rng, int level) {
  const Library c{db, ts, *db.Find("books"), *db.Find("members"), *db.Find("loans")};
  for (int attempt = 0; attempt < 50; ++attempt) {
    const LibraryDraw d = DrawBookAndMember(c, rng);
    if (std::optional<AgentTask> t = ForLevel(kLevelTasks, level)(c, d, rng)) return *std::move(t);
  }
  return absl::InternalError("library_lookup: no task found for this database");
}

}  // namespace

Category LibraryLookupCategory() {
  return AgentCategory(
      "library_lookup", "books, members and loans: search, compare, lend, take back",
      "You are a librarian's assistant. Look everything up with the tools.", Catalog(), MakeDb,
      MakeTask, [](Rng& rng, std::map<std::string, std::string>* p) {
        (*p)["authors"] = std::to_string(rng.Uniform(4, 10));
        (*p)["members"] = std::to_string(rng.Uniform(6, 16));
      });
}

}  // namespace dsarl::envs
