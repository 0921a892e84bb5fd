#include "learner/dist/rank_layout.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dsarl::learner::dist {
namespace {

// An integer variable in [lo, hi]; nullopt when unset.
absl::StatusOr<std::optional<int>> IntVar(const EnvLookup& env, const std::string& name, int lo,
                                          int hi) {
  std::optional<std::string> v = env(name);
  if (!v.has_value()) return std::optional<int>();
  int x = 0;
  if (!absl::SimpleAtoi(*v, &x) || x < lo || x > hi) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", name, "=\"", *v,
                                                   "\" is not an integer in [", lo, ", ", hi, "]"));
  }
  return std::optional<int>(x);
}

// The launcher's variables for rank, world size and local rank, in that order.
struct LauncherVars {
  const char* rank;
  const char* world;
  const char* local;
  const char* source;
};

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::string RankLayout::Describe() const {
  if (!distributed()) return absl::StrCat("rank 0 of 1 (", source, ")");
  return absl::StrCat("rank ", rank, " of ", world_size, " (local rank ", local_rank,
                      "), rendezvous ", master_addr, ":", master_port, ", from the ", source);
}

absl::StatusOr<std::string> FirstSlurmHost(const std::string& list) {
  // The first entry: up to a comma outside brackets.
  size_t end = 0;
  int depth = 0;
  for (; end < list.size(); ++end) {
    if (list[end] == '[') ++depth;
    if (list[end] == ']') --depth;
    if (list[end] == ',' && depth == 0) break;
  }
  const std::string first = list.substr(0, end);
  const size_t open = first.find('[');
  if (first.empty() || depth != 0) {
    return absl::InvalidArgumentError(absl::StrCat("Slurm node list \"", list, "\" is malformed"));
  }
  if (open == std::string::npos) return first;
  const size_t close = first.find(']', open);
  // "prefix[07-09,12]suffix": the first number of the first range, zero padding kept.
  size_t stop = open + 1;
  while (stop < close && first[stop] != '-' && first[stop] != ',') ++stop;
  const std::string number = first.substr(open + 1, stop - open - 1);
  if (close == std::string::npos || number.empty() ||
      number.find_first_not_of("0123456789") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("Slurm node list \"", list, "\" is malformed"));
  }
  return first.substr(0, open) + number + first.substr(close + 1);
}

absl::StatusOr<RankLayout> RankLayoutFromEnv(const EnvLookup& env, int configured) {
  static constexpr LauncherVars kTorchrun{"RANK", "WORLD_SIZE", "LOCAL_RANK",
                                          "torchrun environment"};
  static constexpr LauncherVars kSlurm{"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
                                       "Slurm environment"};
  const LauncherVars& vars =
      env("RANK").has_value() || env("WORLD_SIZE").has_value() ? kTorchrun : kSlurm;
  RankLayout l;
  auto world = IntVar(env, vars.world, 1, 65536);
  if (!world.ok()) return world.status();
  auto rank = IntVar(env, vars.rank, 0, 65535);
  if (!rank.ok()) return rank.status();
  auto local = IntVar(env, vars.local, 0, 65535);
  if (!local.ok()) return local.status();
  if (!world->has_value() && !rank->has_value()) {
    if (configured > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cluster.learner_world_size is ", configured,
          " but no launcher started this learner: start each rank with RANK, WORLD_SIZE, "
          "MASTER_ADDR and MASTER_PORT (torchrun-style) or under Slurm's srun (docs/training.md, "
          "'Clusters')"));
    }
    l.source = "single process";
    return l;
  }
  if (!world->has_value() || !rank->has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment variable ", world->has_value() ? vars.rank : vars.world,
                     " is not set while ", world->has_value() ? vars.world : vars.rank, " is"));
  }
  l.source = vars.source;
  l.world_size = **world;
  l.rank = **rank;
  l.local_rank = local->value_or(0);
  if (l.rank >= l.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", vars.rank, "=", l.rank,
                                                   " is not below ", vars.world, "=",
                                                   l.world_size));
  }
  if (configured > 1 && configured != l.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("cluster.learner_world_size is ", configured,
                                                   " but the launcher started ", l.world_size,
                                                   " ranks (", vars.world, ")"));
  }
  auto port = IntVar(env, "MASTER_PORT", 1, 65535);
  if (!port.ok()) return port.status();
  l.master_port = port->value_or(kDefaultMasterPort);
  if (std::optional<std::string> addr = env("MASTER_ADDR"); addr.has_value() && !addr->empty()) {
    l.master_addr = *addr;
  } else if (vars.rank == kSlurm.rank) {
    std::optional<std::string> nodes = env("SLURM_STEP_NODELIST");
    if (!nodes.has_value()) nodes = env("SLURM_JOB_NODELIST");
    if (!nodes.has_value()) {
      return absl::InvalidArgumentError(
          "neither MASTER_ADDR nor SLURM_STEP_NODELIST/SLURM_JOB_NODELIST is set: the ranks "
          "cannot tell where rank 0 is");
    }
    auto host = FirstSlurmHost(*nodes);
    if (!host.ok()) return host.status();
    l.master_addr = *host;
  } else if (l.world_size > 1) {
    return absl::InvalidArgumentError(
        "environment variable MASTER_ADDR is not set: the ranks cannot tell where rank 0 is");
  } else {
    l.master_addr = "127.0.0.1";
  }
  return l;
}

}  // namespace dsarl::learner::dist
