#include "rollout/eval.h"

#include <chrono>

#include "absl/strings/str_format.h"

namespace dsarl::rollout {

absl::StatusOr<EvalReport> EvaluatePolicy(const model::Transformer& policy,
                                          const std::vector<EvalTask>& tasks, int k,
                                          envs::EnvFactory* factory,
                                          const rewards::Composer& composer, AgentOptions options) {
  const auto start = std::chrono::steady_clock::now();
  options.group_size = k;
  AgentRunner runner(factory, &composer, options);
  EvalReport rep;
  rep.k = k;
  std::atomic<bool> stop{false};
  // Batches of tasks keep the engine's slots full.
  const size_t per_batch = std::max(1, options.engine.max_batch / std::max(k, 1));
  for (size_t start_i = 0; start_i < tasks.size(); start_i += per_batch) {
    std::vector<proto::Lease> leases;
    for (size_t i = start_i; i < std::min(tasks.size(), start_i + per_batch); ++i) {
      proto::Lease l;
      l.set_lease_id(std::to_string(i + 1));
      *l.mutable_prompt() = tasks[i].prompt;
      *l.mutable_env() = tasks[i].env;
      l.set_attempt(0);
      leases.push_back(l);
    }
    std::vector<proto::Group> groups = runner.RunGroups(leases, policy, 0, stop);
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      const proto::Group& g = groups[gi];
      const std::string& cat = leases[gi].prompt().category();
      CategoryEval& c = rep.by_category[cat];
      int solved = 0;
      double reward = 0;
      for (const auto& t : g.trajectories()) {
        if (!t.infra_error().empty()) ++rep.infra_errors;
        bool ok = false;
        for (const auto& comp : t.reward_components()) {
          if (comp.name() == "verifier" && comp.applicable()) ok = comp.value() >= 1.0 - 1e-9;
        }
        solved += ok;
        reward += t.reward();
      }
      const int n = std::max(1, g.trajectories_size());
      c.tasks += 1;
      c.pass_at_1 += double(solved) / n;
      c.pass_at_k += solved > 0;
      c.mean_reward += reward / n;
    }
  }
  for (auto& [name, c] : rep.by_category) {
    rep.all.tasks += c.tasks;
    rep.all.pass_at_1 += c.pass_at_1;
    rep.all.pass_at_k += c.pass_at_k;
    rep.all.mean_reward += c.mean_reward;
    c.pass_at_1 /= std::max(c.tasks, 1);
    c.pass_at_k /= std::max(c.tasks, 1);
    c.mean_reward /= std::max(c.tasks, 1);
  }
  rep.all.pass_at_1 /= std::max(rep.all.tasks, 1);
  rep.all.pass_at_k /= std::max(rep.all.tasks, 1);
  rep.all.mean_reward /= std::max(rep.all.tasks, 1);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return rep;
}

std::string FormatEvalTable(const EvalReport& r) {
  std::string out = absl::StrFormat("%-24s %6s %8s %8s %8s\n", "category", "tasks", "pass@1",
                                    absl::StrFormat("pass@%d", r.k), "reward");
  auto row = [&](const std::string& name, const CategoryEval& c) {
    out += absl::StrFormat("%-24s %6d %7.1f%% %7.1f%% %8.3f\n", name, c.tasks, 100 * c.pass_at_1,
                           100 * c.pass_at_k, c.mean_reward);
  };
  for (const auto& [name, c] : r.by_category) row(name, c);
  row("all", r.all);
  return out;
}

}  // namespace dsarl::rollout
