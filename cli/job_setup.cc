#include "cli/job_setup.h"

#include <iostream>
#include <map>

#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "envs/synthesis.h"
#include "rewards/builtins.h"
#include "store/env_writer.h"

namespace dsarl::cli {

absl::StatusOr<std::unique_ptr<store::Store>> OpenJobStore(const proto::JobConfig& config,
                                                           bool read_only) {
  store::OpenOptions o;
  o.create_if_missing = !read_only;
  o.read_only = read_only;
  o.config = config.store();
  return store::Store::Open(config.output_dir() + "/store", o);
}

envs::SynthesisOptions SynthesisOptionsOf(const proto::JobConfig& c) {
  envs::SynthesisOptions o;
  o.categories.assign(c.envs().categories().begin(), c.envs().categories().end());
  o.envs_per_category = c.envs().envs_per_category();
  o.tasks_per_env = c.envs().tasks_per_env();
  o.min_level = c.envs().min_difficulty();
  o.max_level = c.envs().max_difficulty();
  o.seed = c.seed();
  o.heldout_fraction = c.envs().heldout_fraction();
  return o;
}

absl::Status EnsureEnvironments(const proto::JobConfig& c, store::Store* store) {
  if (store->Counts().envs() > 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto factory, envs::EnvFactory::Create(c.envs()));
  ASSIGN_OR_RETURN(envs::SynthesisResult r,
                   envs::Synthesize(factory->registry(), SynthesisOptionsOf(c)));
  RETURN_IF_ERROR(store::WriteEnvironments(r.envs, r.prompts, store));
  std::cout << absl::StrFormat("synthesized %d environments and %d tasks in %.1f s\n",
                               r.report.total_envs, r.report.total_tasks, r.report.seconds);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<rollout::EvalTask>> SelectTasks(const proto::JobConfig& c,
                                                           const store::Store& store, bool heldout,
                                                           int limit) {
  std::map<std::string, std::vector<proto::Prompt>> by_cat;
  RETURN_IF_ERROR(store.ScanPrompts([&](const proto::Prompt& p) {
    if (p.heldout() != heldout) return true;
    if (p.difficulty() < c.envs().min_difficulty() || p.difficulty() > c.envs().max_difficulty()) {
      return true;
    }
    bool wanted = c.envs().categories_size() == 0;
    for (const auto& cat : c.envs().categories()) wanted |= cat == p.category();
    if (wanted) by_cat[p.category()].push_back(p);
    return true;
  }));
  // Round-robin over categories so a limit keeps every category.
  std::vector<rollout::EvalTask> out;
  std::map<uint64_t, proto::EnvSpec> envs;
  for (size_t i = 0;; ++i) {
    bool any = false;
    for (auto& [cat, ps] : by_cat) {
      if (i >= ps.size()) continue;
      any = true;
      if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
      const proto::Prompt& p = ps[i];
      if (!envs.count(p.env_id())) {
        ASSIGN_OR_RETURN(envs[p.env_id()], store.GetEnv(p.env_id()));
      }
      out.push_back({p, envs[p.env_id()]});
    }
    if (!any || (limit > 0 && static_cast<int>(out.size()) >= limit)) break;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<rewards::Composer>> MakeComposer(const proto::JobConfig& c) {
  proto::RewardsConfig rc = c.rewards();
  if (rc.components_size() == 0) rc.add_components()->set_name("verifier");
  static const rewards::Registry kRegistry = rewards::BuiltinRegistry();
  return rewards::Composer::Create(rc, kRegistry);
}

}  // namespace dsarl::cli
