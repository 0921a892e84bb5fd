// The kit of the general-agent categories: a small in-memory database of tables, tools that are
// declared (not coded) as operations over it, and an Environment that runs them per episode and
// verifies the final answer and/or the final database state.
//
// Why declarative tools: five categories, each with a dozen tools whose names and subsets vary
// between environments, would otherwise be five hand-written tool layers with five sets of
// argument bugs. Here a category only writes its schema, its data generator and its task makers;
// calling, validation, output and state handling are shared and tested once.
//
// Episodes share the environment's database read-only and copy it on their first write, so
// concurrent episodes never see each other's changes.
#ifndef DSARL_ENVS_AGENT_H_
#define DSARL_ENVS_AGENT_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/json.h"
#include "envs/answer.h"
#include "envs/environment.h"
#include "envs/registry.h"
#include "envs/rng.h"

namespace dsarl::envs {

enum class ColumnType { kText, kInt };

struct Column {
  std::string name;
  ColumnType type = ColumnType::kText;
  bool operator==(const Column&) const = default;
};

using Row = std::vector<std::string>;

struct Table {
  std::string name;
  std::vector<Column> columns;  // column 0 is the key: unique, never empty
  std::vector<Row> rows;        // values as text (integers in decimal)

  // The index of column `name`, or -1.
  int Col(absl::string_view name) const;
  // The row with key `key` (exact match), or nullptr.
  const Row* Find(absl::string_view key) const;
  Row* Find(absl::string_view key);
  // The integer in column `col` of `row` (0 when it does not parse).
  int64_t Int(const Row& row, absl::string_view col) const;
  const std::string& Get(const Row& row, absl::string_view col) const;
  // The key a new row gets: `prefix` followed by one more than the number of rows ever keyed so
  // (the row count plus one, skipping taken keys).
  std::string NextKey(absl::string_view prefix) const;
  // {"col":value,...} for `cols` (all columns when empty), integers as numbers.
  Json RowObject(const Row& row, const std::vector<std::string>& cols = {}) const;
  std::string RowJson(const Row& row, const std::vector<std::string>& cols = {}) const {
    return RowObject(row, cols).Dump();
  }
  bool operator==(const Table&) const = default;
};

struct Database {
  std::vector<Table> tables;
  Table* Find(absl::string_view name);
  const Table* Find(absl::string_view name) const;
  bool operator==(const Database&) const = default;
};

// The canonical text of `db`'s structure, rows left out: its tables sorted by name, each as
// "name(key:type,col:type,...)" with the key column first and the others sorted by name; types
// are "text" or "int". Two databases with the same tables and columns give the same text.
std::string CanonicalSchema(const Database& db);

// What a declared tool does.
enum class ToolOp {
  kListDistinct,  // no parameters: the sorted distinct values of `column`
  kFind,          // rows whose parameter columns equal the arguments (text ignores case)
  kGet,           // the row whose key equals the first argument; is_error when there is none
  kSet,           // sets `column` of the row keyed by the first argument to the second
  kAdd,           // adds the integer second argument to `column` of the keyed row (is_error if
                  // the result would be negative)
  kInsert,        // appends a row keyed `key_prefix`N with the arguments in their columns; other
                  // columns empty (text) or 0 (integers); returns the new key
  kDelete,        // removes the keyed row
  kCount,         // how many rows kFind would return
};

struct ToolParamDef {
  std::string name;    // as the model writes it
  std::string column;  // the column it matches or fills (its type gives the parameter type)
  std::string description;
};

struct ToolDef {
  std::string id;    // the logical tool, stable across environments ("hotels_in_city")
  std::string name;  // the name this environment shows ("get_all_hotels_by_city")
  std::string description;
  ToolOp op = ToolOp::kFind;
  std::string table;
  std::vector<ToolParamDef> params;
  std::vector<std::string> output;  // columns shown by kFind / kGet; all when empty
  std::string column;               // kListDistinct, kSet, kAdd: the column
  std::string key_prefix;           // kInsert
  int min_level = 0;                // offered to tasks of this level and above
};

// A tool as a category declares it: its candidate names and whether every environment has it.
struct ToolTemplate {
  ToolDef def;                     // def.name is ignored
  std::vector<std::string> names;  // at least one
  bool optional = false;
};

class ToolSet {
 public:
  ToolSet() = default;
  explicit ToolSet(std::vector<ToolDef> tools) : tools_(std::move(tools)) {}

  bool Has(absl::string_view id) const { return Get(id) != nullptr; }
  const ToolDef* Get(absl::string_view id) const;
  // A call of tool `id` with `values` in its parameters' order. `id` must be in the set.
  ToolCall Call(absl::string_view id, std::vector<std::string> values) const;
  // The specs of the tools offered at `level`, in declaration order.
  std::vector<proto::ToolSpec> Specs(const Database& db, int level) const;
  // Runs `call` against `db` (only tools offered at `level`); invalid calls give is_error
  // results. `writable` is called before the first change and returns the database to change.
  ToolResult Run(const ToolCall& call, const Database& db, int level,
                 const std::function<Database*()>& writable) const;
  const std::vector<ToolDef>& tools() const { return tools_; }

 private:
  std::vector<ToolDef> tools_;
};

// Picks one environment's tools: "naming" (an integer) chooses each tool's name among its
// candidates; "extra_tools" (comma-separated ids) lists the optional tools it has.
void SampleToolParams(const std::vector<ToolTemplate>& catalog, Rng& rng,
                      std::map<std::string, std::string>* params);
// The ToolSet `spec`'s parameters select. InvalidArgument for an unknown optional id.
absl::StatusOr<ToolSet> SelectTools(const std::vector<ToolTemplate>& catalog,
                                    const proto::EnvSpec& spec);

// One task of an agent environment, as a category's task maker returns it.
struct AgentTask {
  std::string user;
  std::vector<std::vector<ToolCall>> rounds;  // the reference solution's calls
  std::string answer;  // expected final answer; "" when only the state counts
  AnswerMatch match = AnswerMatch::kText;
  std::optional<Database> expected;  // the database the episode must end with, if any
  // The answer is looked up (not computed): synthesis checks the tool outputs contain it.
  bool answer_is_lookup = false;
};

using TaskMaker = std::function<absl::StatusOr<AgentTask>(const Database& db, const ToolSet& tools,
                                                          Rng& rng, int level)>;

class AgentEnvironment : public Environment {
 public:
  AgentEnvironment(proto::EnvSpec spec, std::string system, Database db, ToolSet tools,
                   TaskMaker make_task);

  const proto::EnvSpec& spec() const override { return spec_; }
  // Calls the task maker with a generator seeded from (spec seed, seed, level).
  absl::StatusOr<Episode> Reset(uint64_t seed, int level) const override;
  absl::StatusOr<StepResult> Step(EpisodeState* state,
                                  absl::Span<const ToolCall> calls) const override;
  // 1 when the answer matches (if the task has one) and the database equals the expected one
  // (if the task has one); details name the first difference.
  absl::StatusOr<Verdict> Verify(const EpisodeState& state,
                                 absl::string_view final_answer) const override;
  // HashString (rng.h) of CanonicalSchema(database()), as 16 lowercase hex digits: stable across
  // runs and machines, the same for every environment whose tables have the same columns.
  std::string SchemaHash() const override;

  const Database& database() const { return *db_; }
  const ToolSet& tool_set() const { return tools_; }

 private:
  proto::EnvSpec spec_;
  std::string system_;
  std::shared_ptr<const Database> db_;
  ToolSet tools_;
  TaskMaker make_task_;
};

// The registry entry of an agent category: `make_db` synthesizes the database from the spec (its
// seed and parameters); the environment's tools come from `catalog`; `sample_params` adds
// category parameters to the tool parameters. The ladder is 0..4.
Category AgentCategory(
    std::string name, std::string description, std::string system,
    std::vector<ToolTemplate> catalog,
    std::function<absl::StatusOr<Database>(const proto::EnvSpec&)> make_db, TaskMaker make_task,
    std::function<void(Rng&, std::map<std::string, std::string>*)> sample_params = nullptr);

// Helpers for categories.
// A random row of `table` (which must not be empty).
const Row& PickRow(const Table& table, Rng& rng);
// `n` distinct integers from [lo, hi] in random order (fewer when the range is smaller).
std::vector<int64_t> DistinctInts(Rng& rng, size_t n, int64_t lo, int64_t hi);
// The rows of `table` whose column `col` equals `value`.
std::vector<const Row*> RowsWhere(const Table& table, absl::string_view col,
                                  absl::string_view value);
// The row of `rows` with the smallest (or largest) integer in `col`; nullptr when `rows` is empty
// or the extreme is shared (a task asking for it would be ambiguous).
const Row* UniqueExtreme(const Table& table, const std::vector<const Row*>& rows,
                         absl::string_view col, bool largest = false);
// The entry of a per-level table (level -> what that level's task is) for `level`: levels past the
// end of the table, and below 0, get its last entry.
template <typename T, size_t N>
const T& ForLevel(const T (&table)[N], int level) {
  return table[level >= 0 && static_cast<size_t>(level) < N ? level : N - 1];
}
// "Done." — the final answer of tasks verified by their state.
inline constexpr char kDoneAnswer[] = "Done.";

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_AGENT_H_
