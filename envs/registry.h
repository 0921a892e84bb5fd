// The table of environment categories: name -> how to pick an environment's parameters and how to
// build an environment from its spec. Filled at start-up (built-ins, then plugins and remote
// environments from the config) and read-only afterwards; there is no global instance.
#ifndef DSARL_ENVS_REGISTRY_H_
#define DSARL_ENVS_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "envs/environment.h"
#include "envs/rng.h"

namespace dsarl::envs {

enum class CategoryKind {
  kReasoning,  // single turn, no tools
  kAgent,      // multi-turn, tools over a synthesized database
  kSearch,     // multi-turn, search/open over a synthesized corpus
  kCode,       // multi-turn, a Python interpreter in the sandbox
  kExternal,   // served by a plugin or a remote server
};

// "reasoning", "agent", "search", "code", "external".
const char* CategoryKindName(CategoryKind kind);

struct Category {
  std::string name;  // unique, e.g. "trip_planning"
  CategoryKind kind = CategoryKind::kReasoning;
  std::string description;  // one line
  int top_level = 0;        // the top of every environment's difficulty ladder (EnvSpec.difficulty)
  // Synthesis makes at most this many tasks per environment (0: no cap); for categories whose
  // tasks are costly to verify (the code interpreter runs Python for each).
  int max_tasks_per_env = 0;
  // Synthesis makes envs_per_category * envs_factor environments of this category (categories
  // whose environments differ in structure, not only in parameters, get a larger share).
  int envs_factor = 1;
  // Where environments of this category run: "" built in, "plugin:PATH", "remote:HOST:PORT"
  // (EnvSpec.backend).
  std::string backend;
  // Picks the parameters of one environment (sizes, tool names and subsets, wording); a function
  // of `rng` only. Null means no parameters.
  std::function<std::map<std::string, std::string>(Rng& rng)> sample_params;
  // Builds an environment from a spec of this category. InvalidArgument for bad parameters.
  std::function<absl::StatusOr<std::unique_ptr<Environment>>(const proto::EnvSpec& spec)> build;
};

class Registry {
 public:
  // Adds a category; AlreadyExists when the name is taken, InvalidArgument when the name is empty
  // or `build` is null.
  absl::Status Add(Category category);
  // The category `name`, or nullptr.
  const Category* Find(const std::string& name) const;
  // All categories in the order they were added (synthesis order).
  std::vector<const Category*> All() const;

 private:
  std::vector<std::unique_ptr<Category>> categories_;
  std::map<std::string, const Category*> by_name_;
};

// Adds every built-in category, in a fixed order: the reasoning families, then the agent
// categories, search and the code interpreter.
void RegisterBuiltinCategories(Registry* registry);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_REGISTRY_H_
