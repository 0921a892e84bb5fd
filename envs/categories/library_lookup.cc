// library_lookup: a library's books, members and loans, with tools to search the catalogue, find
// members, lend and take back books. The ladder: a publication year; an author's oldest book or
// book count; what a member has borrowed (three rounds: member, loans, books); lending a book
// (loan plus shelf count, verified by the final database); taking back all of a member's books.
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

absl::StatusOr<AgentTask> MakeTask(const Database& db, const ToolSet& ts, Rng& rng, int level) {
  const Table& books = *db.Find("books");
  const Table& members = *db.Find("members");
  const Table& loans = *db.Find("loans");
  AgentTask t;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const Row& b = PickRow(books, rng);
    const std::string author = books.Get(b, "author");
    const Row& m = PickRow(members, rng);
    const std::string name = members.Get(m, "name");
    const auto on_loan = RowsWhere(loans, "member_id", m[0]);
    switch (level) {
      case 0:
        t.user = absl::StrCat("In which year was \"", books.Get(b, "title"), "\" published?");
        t.rounds = {{ts.Call("by_title", {books.Get(b, "title")})}};
        t.answer = books.Get(b, "year");
        t.match = AnswerMatch::kInteger;
        t.answer_is_lookup = true;
        return t;
      case 1: {
        const auto by = RowsWhere(books, "author", author);
        t.rounds = {{ts.Call("by_author", {author})}};
        if (rng.Chance(0.4)) {
          t.user = absl::StrCat("How many books by ", author, " does the library have?");
          t.answer = std::to_string(by.size());
          t.match = AnswerMatch::kInteger;
          return t;
        }
        t.user = absl::StrCat("What is the oldest book by ", author, "? Answer with its title.");
        t.answer = books.Get(*UniqueExtreme(books, by, "year"), "title");
        t.answer_is_lookup = true;
        return t;
      }
      case 2: {
        std::vector<const Row*> borrowed;
        std::vector<ToolCall> reads;
        std::set<std::string> seen;
        for (const Row* l : on_loan) {
          const std::string id = loans.Get(*l, "book_id");
          borrowed.push_back(books.Find(id));
          if (seen.insert(id).second) reads.push_back(ts.Call("book", {id}));
        }
        const Row* newest = UniqueExtreme(books, borrowed, "year", true);
        if (newest == nullptr) continue;
        t.user = absl::StrCat("Of the books ", name, " has on loan, which was published most ",
                              "recently? Answer with its title.");
        t.rounds = {{ts.Call("member", {name})}, {ts.Call("loans_of", {m[0]})}, reads};
        t.answer = books.Get(*newest, "title");
        t.answer_is_lookup = true;
        return t;
      }
      case 3: {
        if (books.Int(b, "copies") < 1) continue;
        Database expected = db;
        Table& el = *expected.Find("loans");
        el.rows.push_back({el.NextKey("L"), b[0], m[0]});
        Table& eb = *expected.Find("books");
        (*eb.Find(b[0]))[eb.Col("copies")] = std::to_string(books.Int(b, "copies") - 1);
        t.user = absl::StrCat("Lend \"", books.Get(b, "title"), "\" to ", name,
                              ": record the loan and take one copy off the shelf.");
        t.rounds = {{ts.Call("by_title", {books.Get(b, "title")}), ts.Call("member", {name})},
                    {ts.Call("checkout", {b[0], m[0]}), ts.Call("copies", {b[0], "-1"})}};
        t.expected = std::move(expected);
        return t;
      }
      default: {
        if (on_loan.empty()) continue;
        Database expected = db;
        Table& el = *expected.Find("loans");
        Table& eb = *expected.Find("books");
        std::vector<ToolCall> calls;
        for (const Row* l : on_loan) {
          const std::string book = loans.Get(*l, "book_id");
          calls.push_back(ts.Call("return", {(*l)[0]}));
          calls.push_back(ts.Call("copies", {book, "1"}));
          el.rows.erase(el.rows.begin() + (el.Find((*l)[0]) - el.rows.data()));
          Row& row = *eb.Find(book);
          row[eb.Col("copies")] = std::to_string(eb.Int(row, "copies") + 1);
        }
        t.user = absl::StrCat(name, " brings back every book they have on loan. End each loan, ",
                              "put each copy back on the shelf, and answer with the number of ",
                              "books returned.");
        t.rounds = {{ts.Call("member", {name})}, {ts.Call("loans_of", {m[0]})}, calls};
        t.answer = std::to_string(on_loan.size());
        t.match = AnswerMatch::kInteger;
        t.expected = std::move(expected);
        return t;
      }
    }
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
