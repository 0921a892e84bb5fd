// company_directory: a company's employees (department, title, office, manager), with tools to
// find people, walk the reporting tree and change records. The ladder: a job title; an office or
// a department head count; a manager's manager or a count of reports (several rounds); a transfer
// or a new title (verified by the final database); handing a leaver's reports to their manager.
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

absl::StatusOr<AgentTask> MakeTask(const Database& db, const ToolSet& ts, Rng& rng, int level) {
  const Table& e = *db.Find("employees");
  AgentTask t;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const Row& p = PickRow(e, rng);
    const std::string name = e.Get(p, "name");
    const std::string manager = e.Get(p, "manager_id");
    const auto reports = RowsWhere(e, "manager_id", p[0]);
    switch (level) {
      case 0:
        t.user = absl::StrCat("What is ", name, "'s job title?");
        t.rounds = {{ts.Call("find", {name})}};
        t.answer = e.Get(p, "title");
        t.answer_is_lookup = true;
        return t;
      case 1: {
        if (rng.Chance(0.5)) {
          t.user = absl::StrCat("In which office does ", name, " work?");
          t.rounds = {{ts.Call("find", {name})}, {ts.Call("employee", {p[0]})}};
          t.answer = e.Get(p, "office");
          t.answer_is_lookup = true;
          return t;
        }
        const std::string dept = e.Get(p, "department");
        t.user = absl::StrCat("How many people work in the ", dept, " department?");
        t.rounds = {{ts.Has("count_department") ? ts.Call("count_department", {dept})
                                                : ts.Call("in_department", {dept})}};
        t.answer = std::to_string(RowsWhere(e, "department", dept).size());
        t.answer_is_lookup = ts.Has("count_department");
        t.match = AnswerMatch::kInteger;
        return t;
      }
      case 2: {
        if (rng.Chance(0.5)) {
          if (manager.empty()) continue;
          const Row& m = *e.Find(manager);
          const std::string grand = e.Get(m, "manager_id");
          if (grand.empty()) continue;
          t.user = absl::StrCat("Who is the manager of ", name,
                                "'s manager? Answer with the full name.");
          t.rounds = {{ts.Call("find", {name})},
                      {ts.Call("employee", {p[0]})},
                      {ts.Call("employee", {manager})},
                      {ts.Call("employee", {grand})}};
          t.answer = e.Get(*e.Find(grand), "name");
          t.answer_is_lookup = true;
          return t;
        }
        t.user = absl::StrCat("How many direct reports does ", name, " have?");
        t.rounds = {{ts.Call("find", {name})}, {ts.Call("reports", {p[0]})}};
        t.answer = std::to_string(reports.size());
        t.match = AnswerMatch::kInteger;
        return t;
      }
      case 3: {
        Database expected = db;
        Table& ee = *expected.Find("employees");
        Row& row = *ee.Find(p[0]);
        if (rng.Chance(0.5)) {
          std::string dept;
          do {
            dept = rng.Pick(kDepartments);
          } while (dept == e.Get(p, "department"));
          row[ee.Col("department")] = dept;
          t.user = absl::StrCat("Transfer ", name, " to the ", dept, " department.");
          t.rounds = {{ts.Call("find", {name})}, {ts.Call("transfer", {p[0], dept})}};
        } else {
          const std::string title = absl::StrCat("senior ", e.Get(p, "title"));
          row[ee.Col("title")] = title;
          t.user = absl::StrCat("Promote ", name, ": their new job title is \"", title, "\".");
          t.rounds = {{ts.Call("find", {name})}, {ts.Call("set_title", {p[0], title})}};
        }
        t.expected = std::move(expected);
        return t;
      }
      default: {
        if (manager.empty() || reports.empty()) continue;
        Database expected = db;
        Table& ee = *expected.Find("employees");
        std::vector<ToolCall> moves;
        for (const Row* r : reports) {
          (*ee.Find((*r)[0]))[ee.Col("manager_id")] = manager;
          moves.push_back(ts.Call("set_manager", {(*r)[0], manager}));
        }
        t.user = absl::StrCat(name, " is leaving. Make everyone who reports directly to ", name,
                              " report to ", name, "'s manager instead, and answer with how many ",
                              "people you moved.");
        t.rounds = {{ts.Call("find", {name})},
                    {ts.Call("employee", {p[0]}), ts.Call("reports", {p[0]})},
                    moves};
        t.answer = std::to_string(reports.size());
        t.match = AnswerMatch::kInteger;
        t.expected = std::move(expected);
        return t;
      }
    }
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
