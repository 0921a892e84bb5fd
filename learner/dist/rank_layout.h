// Where this process sits among the learner's ranks, read from what launched it: torchrun-style
// RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT, or Slurm's SLURM_PROCID/SLURM_NTASKS/
// SLURM_LOCALID with the first host of the job's node list as the rendezvous host, or, with
// neither, a world of one. The launcher's word wins over cluster.learner_world_size, which must
// then agree with it (a config written for 4 ranks started as 2 is a mistake to name, not guess).
#ifndef DSARL_LEARNER_DIST_RANK_LAYOUT_H_
#define DSARL_LEARNER_DIST_RANK_LAYOUT_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace dsarl::learner::dist {

inline constexpr int kDefaultMasterPort = 29500;

struct RankLayout {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;       // among the ranks on this host (which GPU it takes)
  std::string master_addr;  // the rendezvous host (rank 0's); "" for a world of one
  int master_port = kDefaultMasterPort;
  std::string source;  // "torchrun environment", "Slurm environment" or "single process"

  bool distributed() const { return world_size > 1; }
  // "rank 1 of 2 (local rank 1), rendezvous 10.0.0.1:29500, from the Slurm environment".
  std::string Describe() const;
};

// The value of an environment variable, or nullopt when unset (tests pass their own).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// The layout the environment describes. `configured_world_size` is cluster.learner_world_size:
// without launcher variables it must be 1 (more ranks need a launcher to start them); with them it
// must be 1 (unset) or equal WORLD_SIZE. InvalidArgument naming the variable for a malformed or
// inconsistent value (RANK >= WORLD_SIZE, a port outside [1, 65535], RANK without WORLD_SIZE...).
absl::StatusOr<RankLayout> RankLayoutFromEnv(const EnvLookup& env, int configured_world_size);

// The first host of a Slurm host list ("node[07-09,12],gpu1" -> "node07"). InvalidArgument for an
// empty or malformed list.
absl::StatusOr<std::string> FirstSlurmHost(const std::string& nodelist);

}  // namespace dsarl::learner::dist

#endif  // DSARL_LEARNER_DIST_RANK_LAYOUT_H_
