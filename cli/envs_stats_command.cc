// `dsarl envs stats --store DIR`: how structurally distinct a store's environments are (schemas,
// tool signatures and toolsets, task families), so a set that is many copies of a few shapes shows
// as such before it is trained on. Its own file because envs_commands.cc is near its size limit.
#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "envs/factory.h"
#include "store/store.h"

namespace dsarl::cli {
namespace {

// What one environment is made of: its schema hash ("" without a schema), the sorted signatures
// of the tools its prompts offer, and its tasks per family.
struct EnvFacts {
  uint64_t id = 0;
  std::string category;
  std::string schema;
  std::set<std::string> tools;
  std::map<std::string, int64_t> families;
};

// "name(p1:type,p2:type?)": a tool's name and parameters in declared order, optional ones
// marked with "?".
std::string ToolSignature(const proto::ToolSpec& tool) {
  std::vector<std::string> params;
  for (const proto::ToolParameter& p : tool.parameters()) {
    params.push_back(absl::StrCat(p.name(), ":", p.type(), p.required() ? "" : "?"));
  }
  return absl::StrCat(tool.name(), "(", absl::StrJoin(params, ","), ")");
}

// The family of a task: reference "family" when the category sets one, else the category.
std::string TaskFamily(const proto::Prompt& p) {
  const auto it = p.reference().find("family");
  return it != p.reference().end() ? it->second : p.category();
}

// The facts of every environment of `store`, in id order; each environment is rebuilt through
// `factory` for its schema hash. `orphans` counts prompts whose environment is not in the store.
// Errors: the store's, and an environment that does not build (naming its id and category).
absl::StatusOr<std::vector<EnvFacts>> CollectFacts(const store::Store& store,
                                                   envs::EnvFactory* factory, int64_t* orphans) {
  std::vector<proto::EnvSpec> specs;
  RETURN_IF_ERROR(store.ScanEnvs([&](const proto::EnvSpec& e) {
    specs.push_back(e);
    return true;
  }));
  std::vector<EnvFacts> facts(specs.size());
  std::map<uint64_t, size_t> index;
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::StatusOr<std::unique_ptr<envs::Environment>> env = factory->Make(specs[i]);
    if (!env.ok()) {
      return absl::Status(
          env.status().code(),
          absl::StrCat("environment ", specs[i].id(), " (", specs[i].category(), ") of ",
                       store.dir(), " does not build: ", env.status().message()));
    }
    facts[i].id = specs[i].id();
    facts[i].category = specs[i].category();
    facts[i].schema = (*env)->SchemaHash();
    index[specs[i].id()] = i;
  }
  *orphans = 0;
  RETURN_IF_ERROR(store.ScanPrompts([&](const proto::Prompt& p) {
    const auto it = index.find(p.env_id());
    if (it == index.end()) {
      ++*orphans;
      return true;
    }
    EnvFacts& f = facts[it->second];
    for (const proto::ToolSpec& t : p.tools()) f.tools.insert(ToolSignature(t));
    ++f.families[TaskFamily(p)];
    return true;
  }));
  return facts;
}

struct MinMeanMax {
  int64_t min = 0;
  double mean = 0;
  int64_t max = 0;
};

// Over `values`; all zero when there are none.
MinMeanMax Summarize(const std::vector<int64_t>& values) {
  MinMeanMax s;
  if (values.empty()) return s;
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  int64_t sum = 0;
  for (int64_t v : values) sum += v;
  s.mean = static_cast<double>(sum) / static_cast<double>(values.size());
  return s;
}

struct FamilyRow {
  int64_t tasks = 0;
  int64_t envs = 0;
};

struct CategoryRow {
  int64_t envs = 0;
  std::set<std::string> schemas;   // non-empty hashes
  std::set<std::string> toolsets;  // non-empty toolsets
  std::set<std::string> families;
};

struct EnvsStats {
  int64_t envs = 0;
  int64_t tasks = 0;
  int64_t orphan_tasks = 0;  // prompts whose environment is not in the store
  int64_t distinct_schemas = 0;
  int64_t without_schema = 0;
  int64_t distinct_signatures = 0;
  int64_t distinct_toolsets = 0;  // among environments with tools
  int64_t without_tools = 0;
  MinMeanMax tools_per_env;     // over environments with tools
  int64_t distinct_pairs = 0;   // (schema, toolset) among environments with a schema
  int64_t pair_duplicates = 0;  // environments sharing a pair with an earlier one
  MinMeanMax families_per_env;  // over environments with tasks
  std::map<std::string, FamilyRow> families;
  std::map<std::string, CategoryRow> categories;
};

// Tasks and families of one environment, into the totals, the histogram and its category's row.
void AddFamilies(const EnvFacts& f, EnvsStats* s, std::vector<int64_t>* families_per_env) {
  CategoryRow& row = s->categories[f.category];
  for (const auto& [family, tasks] : f.families) {
    s->tasks += tasks;
    s->families[family].tasks += tasks;
    ++s->families[family].envs;
    row.families.insert(family);
  }
  if (!f.families.empty()) families_per_env->push_back(static_cast<int64_t>(f.families.size()));
}

EnvsStats ComputeStats(const std::vector<EnvFacts>& facts, int64_t orphans) {
  EnvsStats s;
  s.envs = static_cast<int64_t>(facts.size());
  s.tasks = orphans;
  s.orphan_tasks = orphans;
  std::set<std::string> schemas, signatures, toolsets;
  std::set<std::pair<std::string, std::string>> pairs;
  std::vector<int64_t> tools_per_env, families_per_env;
  for (const EnvFacts& f : facts) {
    CategoryRow& row = s.categories[f.category];
    ++row.envs;
    const std::string toolset = absl::StrJoin(f.tools, ";");
    signatures.insert(f.tools.begin(), f.tools.end());
    if (!f.tools.empty()) {
      toolsets.insert(toolset);
      row.toolsets.insert(toolset);
      tools_per_env.push_back(static_cast<int64_t>(f.tools.size()));
    } else {
      ++s.without_tools;
    }
    if (f.schema.empty()) {
      ++s.without_schema;
    } else {
      schemas.insert(f.schema);
      row.schemas.insert(f.schema);
      if (!pairs.insert({f.schema, toolset}).second) ++s.pair_duplicates;
    }
    AddFamilies(f, &s, &families_per_env);
  }
  s.distinct_schemas = static_cast<int64_t>(schemas.size());
  s.distinct_signatures = static_cast<int64_t>(signatures.size());
  s.distinct_toolsets = static_cast<int64_t>(toolsets.size());
  s.distinct_pairs = static_cast<int64_t>(pairs.size());
  s.tools_per_env = Summarize(tools_per_env);
  s.families_per_env = Summarize(families_per_env);
  return s;
}

Json SummaryJson(const MinMeanMax& m) {
  Json j = Json::Object();
  j.Set("min", Json::Int(m.min));
  j.Set("mean", Json::Number(m.mean));
  j.Set("max", Json::Int(m.max));
  return j;
}

// The numbers PrintStats prints, as one object (docs/envs.md lists its keys).
Json StatsJson(const EnvsStats& s, const std::string& dir) {
  Json j = Json::Object();
  j.Set("store", Json::String(dir));
  j.Set("environments", Json::Int(s.envs));
  j.Set("tasks", Json::Int(s.tasks));
  j.Set("tasks_without_environment", Json::Int(s.orphan_tasks));
  j.Set("distinct_schemas", Json::Int(s.distinct_schemas));
  j.Set("environments_without_schema", Json::Int(s.without_schema));
  j.Set("distinct_tool_signatures", Json::Int(s.distinct_signatures));
  j.Set("distinct_toolsets", Json::Int(s.distinct_toolsets));
  j.Set("environments_without_tools", Json::Int(s.without_tools));
  j.Set("tools_per_environment", SummaryJson(s.tools_per_env));
  j.Set("distinct_schema_toolset_pairs", Json::Int(s.distinct_pairs));
  j.Set("schema_toolset_duplicates", Json::Int(s.pair_duplicates));
  j.Set("task_types_per_environment", SummaryJson(s.families_per_env));
  Json families = Json::Array();
  for (const auto& [name, f] : s.families) {
    Json row = Json::Object();
    row.Set("family", Json::String(name));
    row.Set("tasks", Json::Int(f.tasks));
    row.Set("environments", Json::Int(f.envs));
    families.Push(std::move(row));
  }
  j.Set("families", std::move(families));
  Json categories = Json::Array();
  for (const auto& [name, c] : s.categories) {
    Json row = Json::Object();
    row.Set("category", Json::String(name));
    row.Set("environments", Json::Int(c.envs));
    row.Set("distinct_schemas", Json::Int(static_cast<int64_t>(c.schemas.size())));
    row.Set("distinct_toolsets", Json::Int(static_cast<int64_t>(c.toolsets.size())));
    row.Set("families", Json::Int(static_cast<int64_t>(c.families.size())));
    categories.Push(std::move(row));
  }
  j.Set("categories", std::move(categories));
  return j;
}

std::string SummaryText(const MinMeanMax& m) {
  return absl::StrFormat("min %d, mean %.1f, max %d", m.min, m.mean, m.max);
}

void PrintStats(const EnvsStats& s, const std::string& dir) {
  std::cout << absl::StrFormat("%s: %d environments, %d tasks\n", dir, s.envs, s.tasks);
  if (s.orphan_tasks > 0) {
    std::cout << absl::StrFormat("  %d tasks name an environment the store does not hold\n",
                                 s.orphan_tasks);
  }
  std::cout << absl::StrFormat("%-27s%d (%d environments without a schema)\n", "distinct schemas",
                               s.distinct_schemas, s.without_schema);
  std::cout << absl::StrFormat("%-27s%d\n", "distinct tool signatures", s.distinct_signatures);
  std::cout << absl::StrFormat("%-27s%d (%d environments without tools)\n", "distinct toolsets",
                               s.distinct_toolsets, s.without_tools);
  std::cout << absl::StrFormat("%-27s%s\n", "tools per environment", SummaryText(s.tools_per_env));
  std::cout << absl::StrFormat("%-27s%d distinct, %d duplicates\n", "(schema, toolset) pairs",
                               s.distinct_pairs, s.pair_duplicates);
  std::cout << absl::StrFormat("%-27s%s\n", "task types per environment",
                               SummaryText(s.families_per_env));
  std::cout << absl::StrFormat("\n%-24s %8s %6s\n", "family", "tasks", "envs");
  for (const auto& [name, f] : s.families) {
    std::cout << absl::StrFormat("%-24s %8d %6d\n", name, f.tasks, f.envs);
  }
  std::cout << absl::StrFormat("\n%-24s %6s %8s %8s %8s\n", "category", "envs", "schemas",
                               "toolsets", "families");
  for (const auto& [name, c] : s.categories) {
    std::cout << absl::StrFormat("%-24s %6d %8d %8d %8d\n", name, c.envs, c.schemas.size(),
                                 c.toolsets.size(), c.families.size());
  }
}

absl::StatusOr<int> RunStats(const Args& args) {
  const std::string& dir = args.Get("store");
  if (dir.empty()) return absl::InvalidArgumentError("--store DIR is required");
  store::OpenOptions options;
  options.read_only = true;
  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store, store::Store::Open(dir, options));
  // Built-in categories by name; plugin and remote environments load from their spec's backend.
  ASSIGN_OR_RETURN(std::unique_ptr<envs::EnvFactory> factory,
                   envs::EnvFactory::Create(proto::EnvsConfig()));
  int64_t orphans = 0;
  ASSIGN_OR_RETURN(std::vector<EnvFacts> facts, CollectFacts(*store, factory.get(), &orphans));
  const EnvsStats stats = ComputeStats(facts, orphans);
  if (args.GetBool("json")) {
    std::cout << StatsJson(stats, dir).Dump() << "\n";
  } else {
    PrintStats(stats, dir);
  }
  return 0;
}

}  // namespace

void RegisterEnvsStatsCommand(CommandTable* table) {
  table->Add(Command{
      .name = "envs stats",
      .summary = "how structurally distinct a store's environments are (schemas, tools, families)",
      .description =
          "Rebuilds every environment of --store for its schema hash and reads the tools and\n"
          "families of its tasks. Prints: environments and tasks; distinct schemas (and how many\n"
          "environments have none); distinct tool signatures, name(param:type,optional:type?);\n"
          "distinct toolsets (an environment's sorted signatures) and tools per environment;\n"
          "distinct (schema, toolset) pairs and the environments that repeat an earlier pair;\n"
          "task families (reference \"family\", else the category) per environment and as a\n"
          "histogram; and the same per category. --json prints the numbers as one JSON object.",
      .flags = {FlagSpec{"store", "store directory", ""},
                FlagSpec{"json", "print one JSON object instead of the tables", "", true}},
      .run = RunStats});
}

}  // namespace dsarl::cli
