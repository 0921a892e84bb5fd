// The agent kit (agent.h): tables, declared tools, and the copy-on-write episode state.
#include "envs/agent.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "envs/toolbox.h"

namespace dsarl::envs {
namespace {

const std::string kEmpty;

class AgentState : public EpisodeState {
 public:
  AgentState(std::shared_ptr<const Database> initial, AgentTask task, int level)
      : initial(std::move(initial)), task(std::move(task)), level(level) {}
  const Database& current() const { return changed ? *changed : *initial; }
  Database* writable() {
    if (!changed) changed = std::make_unique<Database>(*initial);
    return changed.get();
  }
  std::shared_ptr<const Database> initial;
  std::unique_ptr<Database> changed;  // null until the first write
  AgentTask task;
  int level;
};

bool Matches(const Table& t, const Row& row, const ToolDef& def, const ToolArgs& args) {
  for (const ToolParamDef& p : def.params) {
    const int c = t.Col(p.column);
    if (c < 0) return false;
    if (t.columns[c].type == ColumnType::kInt) {
      if (row[c] != std::to_string(args.Int(p.name))) return false;
    } else if (!absl::EqualsIgnoreCase(row[c], args.Str(p.name))) {
      return false;
    }
  }
  return true;
}

std::string Describe(const Database& db, const ToolDef& def, const ToolParamDef& p,
                     std::string* type) {
  const Table* t = db.Find(def.table);
  const int c = t ? t->Col(p.column) : -1;
  *type = c >= 0 && t->columns[c].type == ColumnType::kInt ? "integer" : "string";
  return p.description;
}

// The tool called `name` among `tools` offered at `level` (the last declared when two share the
// name), or nullptr.
const ToolDef* FindOffered(const std::vector<ToolDef>& tools, absl::string_view name, int level) {
  const ToolDef* def = nullptr;
  for (const ToolDef& t : tools) {
    if (t.name == name && t.min_level <= level) def = &t;
  }
  return def;
}

// The spec a call of `def` is checked against: its parameters and their types (no descriptions).
proto::ToolSpec CallSpec(const Database& db, const ToolDef& def) {
  std::vector<ParamSpec> params;
  for (const ToolParamDef& p : def.params) {
    ParamSpec ps;
    ps.name = p.name;
    Describe(db, def, p, &ps.type);
    params.push_back(ps);
  }
  return MakeToolSpec(def.name, "", params);
}

// kListDistinct: the sorted distinct values of def.column, as a JSON array of strings.
ToolResult ListDistinct(const Table& t, const ToolDef& def) {
  std::set<std::string> values;
  const int c = t.Col(def.column);
  for (const Row& r : t.rows) values.insert(r[c]);
  Json items = Json::Array();
  for (const std::string& v : values) items.Push(Json::String(v));
  return {items.Dump(), false};
}

// kFind: the matching rows (their def.output columns) as a JSON array; kCount: how many match.
ToolResult FindRows(const Table& t, const ToolDef& def, const ToolArgs& args) {
  Json items = Json::Array();
  for (const Row& r : t.rows) {
    if (Matches(t, r, def, args)) items.Push(t.RowObject(r, def.output));
  }
  if (def.op == ToolOp::kCount) return {std::to_string(items.array().size()), false};
  return {items.Dump(), false};
}

// kGet: the row keyed `key` (its def.output columns); is_error when there is none.
ToolResult GetRow(const Table& t, const ToolDef& def, const std::string& key) {
  const Row* r = t.Find(key);
  if (r == nullptr) return ErrorResult(absl::StrCat("no ", def.table, " entry '", key, "'"));
  return {t.RowJson(*r, def.output), false};
}

// kSet, kAdd, kDelete on the row keyed `key` of the writable copy: is_error when there is no such
// row (nothing is copied then) or when kAdd would take the column below 0. Returns the changed
// row, or {"deleted":key}.
ToolResult ChangeRow(const Table& t, const ToolDef& def, const ToolArgs& args,
                     const std::string& key, const std::function<Database*()>& writable) {
  if (t.Find(key) == nullptr) {
    return ErrorResult(absl::StrCat("no ", def.table, " entry '", key, "'"));
  }
  Table* w = writable()->Find(def.table);
  Row* r = w->Find(key);
  if (def.op == ToolOp::kDelete) {
    w->rows.erase(w->rows.begin() + (r - w->rows.data()));
    Json deleted = Json::Object();
    deleted.Set("deleted", Json::String(key));
    return {deleted.Dump(), false};
  }
  const int c = w->Col(def.column);
  const std::string& value = args.Str(def.params[1].name);
  if (def.op == ToolOp::kAdd) {
    const int64_t v = w->Int(*r, def.column) + args.Int(def.params[1].name);
    if (v < 0) {
      return ErrorResult(absl::StrCat(def.column, " of ", key, " cannot go below 0 (it is ",
                                      w->Int(*r, def.column), ")"));
    }
    (*r)[c] = std::to_string(v);
  } else {
    (*r)[c] = w->columns[c].type == ColumnType::kInt ? std::to_string(args.Int(def.params[1].name))
                                                     : value;
  }
  return {w->RowJson(*r), false};
}

// kInsert: appends a row keyed def.key_prefix N to the writable copy, the arguments in their
// columns and the other columns empty (text) or 0 (integers). Returns the new row.
ToolResult InsertRow(const ToolDef& def, const ToolArgs& args,
                     const std::function<Database*()>& writable) {
  Table* w = writable()->Find(def.table);
  Row row;
  row.reserve(w->columns.size());
  row.push_back(w->NextKey(def.key_prefix));
  for (size_t i = 1; i < w->columns.size(); ++i) {
    row.push_back(w->columns[i].type == ColumnType::kInt ? "0" : "");
  }
  for (const ToolParamDef& p : def.params) {
    const int c = w->Col(p.column);
    row[c] = w->columns[c].type == ColumnType::kInt ? std::to_string(args.Int(p.name))
                                                    : args.Str(p.name);
  }
  w->rows.push_back(row);
  return {w->RowJson(row), false};
}

// First difference between two databases, for Verify's details.
std::string FirstDifference(const Database& got, const Database& want) {
  for (const Table& w : want.tables) {
    const Table* g = got.Find(w.name);
    if (g == nullptr) return absl::StrCat("table ", w.name, " is missing");
    if (*g == w) continue;
    for (const Row& row : w.rows) {
      const Row* other = g->Find(row[0]);
      if (other == nullptr) return absl::StrCat(w.name, ": expected a row ", w.RowJson(row));
      if (*other != row) {
        return absl::StrCat(w.name, ": row ", row[0], " is ", g->RowJson(*other), ", expected ",
                            w.RowJson(row));
      }
    }
    for (const Row& row : g->rows) {
      if (w.Find(row[0]) == nullptr) {
        return absl::StrCat(w.name, ": unexpected row ", g->RowJson(row));
      }
    }
    return absl::StrCat(w.name, ": rows differ in order");
  }
  return "";
}

}  // namespace

int Table::Col(absl::string_view col) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == col) return static_cast<int>(i);
  }
  return -1;
}

const Row* Table::Find(absl::string_view key) const {
  for (const Row& r : rows) {
    if (r[0] == key) return &r;
  }
  return nullptr;
}

Row* Table::Find(absl::string_view key) {
  for (Row& r : rows) {
    if (r[0] == key) return &r;
  }
  return nullptr;
}

int64_t Table::Int(const Row& row, absl::string_view col) const {
  int64_t v = 0;
  const int c = Col(col);
  if (c >= 0) (void)absl::SimpleAtoi(row[c], &v);
  return v;
}

const std::string& Table::Get(const Row& row, absl::string_view col) const {
  const int c = Col(col);
  return c >= 0 ? row[c] : kEmpty;
}

std::string Table::NextKey(absl::string_view prefix) const {
  for (size_t n = rows.size() + 1;; ++n) {
    std::string key = absl::StrCat(prefix, n);
    if (Find(key) == nullptr) return key;
  }
}

Json Table::RowObject(const Row& row, const std::vector<std::string>& cols) const {
  Json o = Json::Object();
  for (size_t i = 0; i < columns.size(); ++i) {
    if (!cols.empty() && std::find(cols.begin(), cols.end(), columns[i].name) == cols.end()) {
      continue;
    }
    if (columns[i].type == ColumnType::kInt) {
      int64_t v = 0;  // an empty cell reads as 0
      (void)absl::SimpleAtoi(row[i], &v);
      o.Set(columns[i].name, Json::Int(v));
    } else {
      o.Set(columns[i].name, Json::String(row[i]));
    }
  }
  return o;
}

Table* Database::Find(absl::string_view name) {
  for (Table& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const Table* Database::Find(absl::string_view name) const {
  for (const Table& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const ToolDef* ToolSet::Get(absl::string_view id) const {
  for (const ToolDef& t : tools_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

ToolCall ToolSet::Call(absl::string_view id, std::vector<std::string> values) const {
  const ToolDef* def = Get(id);
  ToolCall call;
  if (def == nullptr) return call;  // a task maker bug; synthesis reports the failing solution
  call.name = def->name;
  for (size_t i = 0; i < def->params.size() && i < values.size(); ++i) {
    call.arguments.emplace_back(def->params[i].name, std::move(values[i]));
  }
  return call;
}

std::vector<proto::ToolSpec> ToolSet::Specs(const Database& db, int level) const {
  std::vector<proto::ToolSpec> specs;
  for (const ToolDef& def : tools_) {
    if (def.min_level > level) continue;
    std::vector<ParamSpec> params;
    for (const ToolParamDef& p : def.params) {
      ParamSpec ps;
      ps.name = p.name;
      ps.description = Describe(db, def, p, &ps.type);
      params.push_back(ps);
    }
    specs.push_back(MakeToolSpec(def.name, def.description, params));
  }
  return specs;
}

ToolResult ToolSet::Run(const ToolCall& call, const Database& db, int level,
                        const std::function<Database*()>& writable) const {
  const ToolDef* def = FindOffered(tools_, call.name, level);
  if (def == nullptr) return UnknownToolResult(call.name, Specs(db, level));
  ToolArgs args;
  ToolResult error;
  if (CheckCall(CallSpec(db, *def), call, &args, &error) != nullptr) return error;
  const Table* t = db.Find(def->table);
  if (t == nullptr) return ErrorResult(absl::StrCat("internal: no table ", def->table));
  const std::string key = def->params.empty() ? "" : args.Str(def->params[0].name);
  switch (def->op) {
    case ToolOp::kListDistinct:
      return ListDistinct(*t, *def);
    case ToolOp::kFind:
    case ToolOp::kCount:
      return FindRows(*t, *def, args);
    case ToolOp::kGet:
      return GetRow(*t, *def, key);
    case ToolOp::kSet:
    case ToolOp::kAdd:
    case ToolOp::kDelete:
      return ChangeRow(*t, *def, args, key, writable);
    case ToolOp::kInsert:
      return InsertRow(*def, args, writable);
  }
  return ErrorResult("internal: unknown operation");
}

void SampleToolParams(const std::vector<ToolTemplate>& catalog, Rng& rng,
                      std::map<std::string, std::string>* params) {
  (*params)["naming"] = std::to_string(rng.Uniform(0, 999));
  std::vector<std::string> extra;
  for (const ToolTemplate& t : catalog) {
    if (t.optional && rng.Chance(0.5)) extra.push_back(t.def.id);
  }
  (*params)["extra_tools"] = absl::StrJoin(extra, ",");
}

absl::StatusOr<ToolSet> SelectTools(const std::vector<ToolTemplate>& catalog,
                                    const proto::EnvSpec& spec) {
  ASSIGN_OR_RETURN(int64_t naming, IntParam(spec, "naming", 0, 0, 1 << 30));
  std::set<std::string> extra;
  if (auto it = spec.params().find("extra_tools"); it != spec.params().end()) {
    for (absl::string_view id : absl::StrSplit(it->second, ',', absl::SkipEmpty())) {
      extra.insert(std::string(id));
    }
  }
  for (const std::string& id : extra) {
    bool known = false;
    for (const ToolTemplate& t : catalog) known |= t.optional && t.def.id == id;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(spec.category(), ": extra_tools names '", id,
                                                     "', which is not an optional tool"));
    }
  }
  std::vector<ToolDef> tools;
  for (const ToolTemplate& t : catalog) {
    if (t.optional && extra.count(t.def.id) == 0) continue;
    ToolDef def = t.def;
    def.name =
        t.names[Mix64(static_cast<uint64_t>(naming) ^ HashString(t.def.id)) % t.names.size()];
    tools.push_back(std::move(def));
  }
  return ToolSet(std::move(tools));
}

std::string CanonicalSchema(const Database& db) {
  std::vector<std::string> tables;
  for (const Table& t : db.tables) {
    std::vector<std::string> cols;
    for (const Column& c : t.columns) {
      cols.push_back(absl::StrCat(c.name, ":", c.type == ColumnType::kInt ? "int" : "text"));
    }
    // The key (column 0) keeps its place; the order of the others carries no meaning.
    if (!cols.empty()) std::sort(cols.begin() + 1, cols.end());
    tables.push_back(absl::StrCat(t.name, "(", absl::StrJoin(cols, ","), ")"));
  }
  std::sort(tables.begin(), tables.end());
  return absl::StrJoin(tables, ";");
}

AgentEnvironment::AgentEnvironment(proto::EnvSpec spec, std::string system, Database db,
                                   ToolSet tools, TaskMaker make_task)
    : spec_(std::move(spec)),
      system_(std::move(system)),
      db_(std::make_shared<const Database>(std::move(db))),
      tools_(std::move(tools)),
      make_task_(std::move(make_task)) {}

absl::StatusOr<Episode> AgentEnvironment::Reset(uint64_t seed, int level) const {
  RETURN_IF_ERROR(CheckLevel(spec_, level));
  Rng rng(DeriveSeed({spec_.seed(), seed, static_cast<uint64_t>(level)}));
  ASSIGN_OR_RETURN(AgentTask task, make_task_(*db_, tools_, rng, level));
  Episode e;
  e.task.system = system_;
  e.task.user = task.user;
  e.task.tools = tools_.Specs(*db_, level);
  if (!task.answer.empty()) {
    e.task.reference["answer"] = task.answer;
    e.task.reference["match"] = AnswerMatchName(task.match);
  }
  e.task.reference["verifier"] =
      task.expected ? (task.answer.empty() ? "state" : "answer+state") : "answer";
  e.task.solution.rounds = task.rounds;
  e.task.solution.final_answer = task.answer.empty() ? kDoneAnswer : task.answer;
  e.task.check_answer_in_outputs = task.answer_is_lookup && !task.answer.empty();
  e.task.check_noop_fails = task.expected.has_value();
  e.state = std::make_unique<AgentState>(db_, std::move(task), level);
  return e;
}

absl::StatusOr<StepResult> AgentEnvironment::Step(EpisodeState* state,
                                                  absl::Span<const ToolCall> calls) const {
  auto* s = dynamic_cast<AgentState*>(state);
  if (s == nullptr || s->initial != db_) {
    return absl::FailedPreconditionError("Step: the episode state is not one of this environment");
  }
  StepResult out;
  for (const ToolCall& call : calls) {
    out.results.push_back(tools_.Run(call, s->current(), s->level, [s] { return s->writable(); }));
  }
  return out;
}

absl::StatusOr<Verdict> AgentEnvironment::Verify(const EpisodeState& state,
                                                 absl::string_view final_answer) const {
  const auto* s = dynamic_cast<const AgentState*>(&state);
  if (s == nullptr || s->initial != db_) {
    return absl::FailedPreconditionError(
        "Verify: the episode state is not one of this environment");
  }
  Verdict v{1.0, ""};
  std::vector<std::string> details;
  if (!s->task.answer.empty()) {
    Verdict a = MatchAnswer(s->task.match, s->task.answer, final_answer);
    if (a.score < 1) v.score = 0;
    details.push_back(absl::StrCat("answer ", a.details));
  }
  if (s->task.expected) {
    const std::string diff = FirstDifference(s->current(), *s->task.expected);
    if (!diff.empty()) v.score = 0;
    details.push_back(diff.empty() ? "database as expected" : absl::StrCat("database: ", diff));
  }
  v.details = absl::StrJoin(details, "; ");
  return v;
}

std::string AgentEnvironment::SchemaHash() const {
  return absl::StrFormat("%016x", HashString(CanonicalSchema(*db_)));
}

Category AgentCategory(
    std::string name, std::string description, std::string system,
    std::vector<ToolTemplate> catalog,
    std::function<absl::StatusOr<Database>(const proto::EnvSpec&)> make_db, TaskMaker make_task,
    std::function<void(Rng&, std::map<std::string, std::string>*)> sample_params) {
  Category c;
  c.name = std::move(name);
  c.kind = CategoryKind::kAgent;
  c.description = std::move(description);
  c.top_level = 4;
  auto shared_catalog = std::make_shared<const std::vector<ToolTemplate>>(std::move(catalog));
  c.sample_params = [shared_catalog, extra = std::move(sample_params)](Rng& rng) {
    std::map<std::string, std::string> params;
    SampleToolParams(*shared_catalog, rng, &params);
    if (extra) extra(rng, &params);
    return params;
  };
  c.build = [shared_catalog, system = std::move(system), make_db = std::move(make_db),
             make_task = std::move(make_task)](
                const proto::EnvSpec& spec) -> absl::StatusOr<std::unique_ptr<Environment>> {
    ASSIGN_OR_RETURN(ToolSet tools, SelectTools(*shared_catalog, spec));
    ASSIGN_OR_RETURN(Database db, make_db(spec));
    return std::unique_ptr<Environment>(
        new AgentEnvironment(spec, system, std::move(db), std::move(tools), make_task));
  };
  return c;
}

const Row& PickRow(const Table& table, Rng& rng) {
  return table.rows[rng.Index(table.rows.size())];
}

std::vector<int64_t> DistinctInts(Rng& rng, size_t n, int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  for (size_t i : rng.Sample(static_cast<size_t>(hi - lo + 1), n)) {
    out.push_back(lo + static_cast<int64_t>(i));
  }
  return out;
}

std::vector<const Row*> RowsWhere(const Table& table, absl::string_view col,
                                  absl::string_view value) {
  std::vector<const Row*> out;
  const int c = table.Col(col);
  for (const Row& r : table.rows) {
    if (c >= 0 && r[c] == value) out.push_back(&r);
  }
  return out;
}

const Row* UniqueExtreme(const Table& table, const std::vector<const Row*>& rows,
                         absl::string_view col, bool largest) {
  const Row* best = nullptr;
  bool tie = false;
  for (const Row* r : rows) {
    if (best == nullptr) {
      best = r;
      continue;
    }
    const int64_t a = table.Int(*r, col), b = table.Int(*best, col);
    if (a == b) {
      tie = true;
    } else if ((a < b) != largest) {
      best = r;
      tie = false;
    }
  }
  return tie ? nullptr : best;
}

}  // namespace dsarl::envs
