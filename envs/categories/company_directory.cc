// company_directory: a company's employees (department, title, office, manager), with tools to
// find people, walk the reporting tree and change records. The ladder: a job title; an office or
// a department head count; a manager's manager or a count of reports (several rounds); a transfer
// or a new title (verified by the final database); handing a leaver's reports to their manager.
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

std::vector<ToolTemplate> Catalog() {
  std::vector<ToolTemplate> c;
  auto add = [&](ToolDef def, std::vector<std::string> names, bool optional = false) {
    c.push_back(ToolTemplate{std::move(def), std::move(names), optional});
  };
  add({.id = "departments",
       .description = "Lists the departments.",
       .op = ToolOp::kListDistinct,
       .table = "employees",
       .column = "department"},
      {"list_departments", "get_departments"});
  add({.id = "find",
       .description = "Finds employees by full name.",
       .op = ToolOp::kFind,
       .table = "employees",
       .params = {{"name", "name", "the person's full name"}},
       .output = {"employee_id", "department", "title"}},
      {"find_employee", "search_employee", "lookup_person"});
  add({.id = "employee",
       .description = "Everything about one employee.",
       .op = ToolOp::kGet,
       .table = "employees",
       .params = {{"employee_id", "employee_id", "the id, e.g. E12"}}},
      {"get_employee", "employee_details", "employee_record"});
  add({.id = "in_department",
       .description = "The employees of a department.",
       .op = ToolOp::kFind,
       .table = "employees",
       .params = {{"department", "department", "the department"}},
       .output = {"employee_id", "name", "title"}},
      {"list_department", "department_members", "people_in_department"});
  add({.id = "reports",
       .description = "An employee's direct reports.",
       .op = ToolOp::kFind,
       .table = "employees",
       .params = {{"manager_id", "manager_id", "the manager's id"}},
       .output = {"employee_id", "name"},
       .min_level = 2},
      {"list_direct_reports", "get_reports", "direct_reports"});
  add({.id = "by_office",
       .description = "Who works in an office.",
       .op = ToolOp::kFind,
       .table = "employees",
       .params = {{"office", "office", "the office"}},
       .output = {"employee_id", "name"}},
      {"who_sits_in", "office_occupants"}, true);
  add({.id = "count_department",
       .description = "How many people a department has.",
       .op = ToolOp::kCount,
       .table = "employees",
       .params = {{"department", "department", "the department"}}},
      {"department_size", "count_department"}, true);
  add({.id = "transfer",
       .description = "Moves an employee to another department.",
       .op = ToolOp::kSet,
       .table = "employees",
       .params = {{"employee_id", "employee_id", "the id"},
                  {"department", "department", "new department"}},
       .column = "department",
       .min_level = 3},
      {"transfer_employee", "move_to_department", "change_department"});
  add({.id = "set_title",
       .description = "Changes an employee's job title.",
       .op = ToolOp::kSet,
       .table = "employees",
       .params = {{"employee_id", "employee_id", "the id"}, {"title", "title", "the new title"}},
       .column = "title",
       .min_level = 3},
      {"update_title", "set_job_title"});
  add({.id = "set_manager",
       .description = "Sets whom an employee reports to.",
       .op = ToolOp::kSet,
       .table = "employees",
       .params = {{"employee_id", "employee_id", "the id"},
                  {"manager_id", "manager_id", "the new manager's id"}},
       .column = "manager_id",
       .min_level = 4},
      {"assign_manager", "set_manager", "change_manager"});
  return c;
}

const char* kDepartments[] = {"engineering", "sales",   "finance",  "legal",
                              "design",      "support", "research", "marketing"};
const char* kTitles[] = {"analyst",  "engineer",  "manager",    "specialist",
                         "director", "associate", "consultant", "coordinator"};

absl::StatusOr<Database> MakeDb(const proto::EnvSpec& spec) {
  ASSIGN_OR_RETURN(int64_t n, IntParam(spec, "employees", 20, 3, 200));
  ASSIGN_OR_RETURN(int64_t n_departments, IntParam(spec, "departments", 4, 2, 8));
  Rng rng(DeriveSeed({spec.seed(), HashString("company_directory/db")}));
  Database db;
  db.tables = {{"employees",
                {{"employee_id"}, {"name"}, {"department"}, {"title"}, {"manager_id"}, {"office"}},
                {}}};
  std::vector<std::string> departments;
  for (size_t i : rng.Sample(8, n_departments)) departments.push_back(kDepartments[i]);
  std::set<std::string> taken;
  std::vector<std::string> offices;
  for (int i = 0; i < 4; ++i)
    offices.push_back(
        absl::StrCat(UniqueInventedName(rng, &taken, 2), " ", rng.Uniform(1, 9), "F"));
  Table& e = *db.Find("employees");
  for (int64_t i = 0; i < n; ++i) {
    // A tree: each employee reports to an earlier one, mostly to the first few (managers).
    const std::string manager =
        i == 0 ? "" : absl::StrCat("E", 1 + rng.Uniform(0, std::min<int64_t>(i - 1, 1 + i / 3)));
    e.rows.push_back({absl::StrCat("E", i + 1), UniquePersonName(rng, &taken),
                      rng.Pick(departments), rng.Pick(kTitles), manager, rng.Pick(offices)});
  }
  return db;
}

// The directory a task maker reads.
struct Directory {
  const Database& db;
  const ToolSet& ts;
  const Table& e;
};

// What every attempt at a task draws first: an employee, their manager's id ("" for the top) and
// their direct reports.
struct EmployeeDraw {
  const Row* p;
  std::string name;
  std::string manager;
  std::vector<const Row*> reports;
};

EmployeeDraw DrawEmployee(const Directory& c, Rng& rng) {
  EmployeeDraw d;
  d.p = &PickRow(c.e, rng);
  d.name = c.e.Get(*d.p, "name");
  d.manager = c.e.Get(*d.p, "manager_id");
  d.reports = RowsWhere(c.e, "manager_id", (*d.p)[0]);
  return d;
}

// Level 0: an employee's job title.
std::optional<AgentTask> JobTitle(const Directory& c, const EmployeeDraw& d, Rng&) {
  AgentTask t;
  t.user = absl::StrCat("What is ", d.name, "'s job title?");
  t.rounds = {{c.ts.Call("find", {d.name})}};
  t.answer = c.e.Get(*d.p, "title");
  t.answer_is_lookup = true;
  return t;
}

// Level 1: an employee's office, or how many people work in their department.
std::optional<AgentTask> OfficeOrHeadcount(const Directory& c, const EmployeeDraw& d, Rng& rng) {
  const ToolSet& ts = c.ts;
  const Table& e = c.e;
  AgentTask t;
  if (rng.Chance(0.5)) {
    t.user = absl::StrCat("In which office does ", d.name, " work?");
    t.rounds = {{ts.Call("find", {d.name})}, {ts.Call("employee", {(*d.p)[0]})}};
    t.answer = e.Get(*d.p, "office");
    t.answer_is_lookup = true;
    return t;
  }
  const std::string dept = e.Get(*d.p, "department");
  t.user = absl::StrCat("How many people work in the ", dept, " department?");
  t.rounds = {{ts.Has("count_department") ? ts.Call("count_department", {dept})
                                          : ts.Call("in_department", {dept})}};
  t.answer = std::to_string(RowsWhere(e, "department", dept).size());
  t.answer_is_lookup = ts.Has("count_department");
  t.match = AnswerMatch::kInteger;
  return t;
}

// Level 2: who manages an employee's manager (a walk up the tree), or how many direct reports the
// employee has.
std::optional<AgentTask> WalkTheTree(const Directory& c, const EmployeeDraw& d, Rng& rng) {
  const ToolSet& ts = c.ts;
  const Table& e = c.e;
  const std::string& id = (*d.p)[0];
  AgentTask t;
  if (rng.Chance(0.5)) {
    if (d.manager.empty()) return std::nullopt;
    const Row& m = *e.Find(d.manager);
    const std::string grand = e.Get(m, "manager_id");
    if (grand.empty()) return std::nullopt;
    t.user =
        absl::StrCat("Who is the manager of ", d.name, "'s manager? Answer with the full name.");
    t.rounds = {{ts.Call("find", {d.name})},
                {ts.Call("employee", {id})},
                {ts.Call("employee", {d.manager})},
                {ts.Call("employee", {grand})}};
    t.answer = e.Get(*e.Find(grand), "name");
    t.answer_is_lookup = true;
    return t;
  }
  t.user = absl::StrCat("How many direct reports does ", d.name, " have?");
  t.rounds = {{ts.Call("find", {d.name})}, {ts.Call("reports", {id})}};
  t.answer = std::to_string(d.reports.size());
  t.match = AnswerMatch::kInteger;
  return t;
}

// Level 3: transfer an employee to another department, or promote them (verified by the final
// database).
std::optional<AgentTask> TransferOrPromote(const Directory& c, const EmployeeDraw& d, Rng& rng) {
  const ToolSet& ts = c.ts;
  const Table& e = c.e;
  const Row& p = *d.p;
  AgentTask t;
  Database expected = c.db;
  Table& ee = *expected.Find("employees");
  Row& row = *ee.Find(p[0]);
  if (rng.Chance(0.5)) {
    std::string dept;
    do {
      dept = rng.Pick(kDepartments);
    } while (dept == e.Get(p, "department"));
    row[ee.Col("department")] = dept;
    t.user = absl::StrCat("Transfer ", d.name, " to the ", dept, " department.");
    t.rounds = {{ts.Call("find", {d.name})}, {ts.Call("transfer", {p[0], dept})}};
  } else {
    const std::string title = absl::StrCat("senior ", e.Get(p, "title"));
    row[ee.Col("title")] = title;
    t.user = absl::StrCat("Promote ", d.name, ": their new job title is \"", title, "\".");
    t.rounds = {{ts.Call("find", {d.name})}, {ts.Call("set_title", {p[0], title})}};
  }
  t.expected = std::move(expected);
  return t;
}

// Level 4: an employee leaves; their direct reports move to their manager. The answer is how
// many moved.
std::optional<AgentTask> Leaver(const Directory& c, const EmployeeDraw& d, Rng&) {
  const ToolSet& ts = c.ts;
  const std::string& id = (*d.p)[0];
  if (d.manager.empty() || d.reports.empty()) return std::nullopt;
  Database expected = c.db;
  Table& ee = *expected.Find("employees");
  std::vector<ToolCall> moves;
  for (const Row* r : d.reports) {
    (*ee.Find((*r)[0]))[ee.Col("manager_id")] = d.manager;
    moves.push_back(ts.Call("set_manager", {(*r)[0], d.manager}));
  }
  AgentTask t;
  t.user = absl::StrCat(d.name, " is leaving. Make everyone who reports directly to ", d.name,
                        " report to ", d.name, "'s manager instead, and answer with how many ",
                        "people you moved.");
  t.rounds = {
      {ts.Call("find", {d.name})}, {ts.Call("employee", {id}), ts.Call("reports", {id})}, moves};
  t.answer = std::to_string(d.reports.size());
  t.match = AnswerMatch::kInteger;
  t.expected = std::move(expected);
  return t;
}

// One attempt at a task of one level: the task, or nullopt when this draw cannot make one.
using LevelTask = std::optional<AgentTask> (*)(const Directory&, const EmployeeDraw&, Rng&);
// Level -> its task (the ladder of the file comment).
constexpr LevelTask kLevelTasks[] = {JobTitle, OfficeOrHeadcount, WalkTheTree, TransferOrPromote,
                                     Leaver};

absl::StatusOr<AgentTask> MakeTask(const Database& db, const ToolSet& ts, Rng& rng, int level) {
  const Directory c{db, ts, *db.Find("employees")};
  for (int attempt = 0; attempt < 50; ++attempt) {
    const EmployeeDraw d = DrawEmployee(c, rng);
    if (std::optional<AgentTask> t = ForLevel(kLevelTasks, level)(c, d, rng)) return *std::move(t);
  }
  return absl::InternalError("company_directory: no task found for this database");
}

}  // namespace

Category CompanyDirectoryCategory() {
  return AgentCategory(
      "company_directory", "employees, departments and the reporting tree: look up, walk, update",
      "You are an HR assistant with access to the company directory through tools.", Catalog(),
      MakeDb, MakeTask, [](Rng& rng, std::map<std::string, std::string>* p) {
        (*p)["employees"] = std::to_string(rng.Uniform(10, 40));
        (*p)["departments"] = std::to_string(rng.Uniform(3, 6));
      });
}

}  // namespace dsarl::envs
