// `dsarl learner --config X`: the learner process of a cluster job, one per rank. The launcher
// (torchrun-style variables, or Slurm's srun) says how many ranks there are and which this is;
// rank 0 is the learner the workers talk to, the others train beside it (learner/rank_link.h).
#include <chrono>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/job_check.h"
#include "cli/signals.h"
#include "learner/dist/rank_layout.h"
#include "learner/dist/world.h"
#include "learner/learner_job.h"
#include "learner/rank_link.h"
#include "model/backend.h"
#include "proto/config_loader.h"
#include "proto/rpc_security.h"

namespace dsarl::cli {
namespace {

// The world this rank joins: its layout from the launcher, its backend from cluster.use_gpu.
absl::StatusOr<std::unique_ptr<learner::dist::World>> JoinWorld(
    const proto::JobConfig& config, const learner::dist::RankLayout& layout,
    const rpc::ServerSecurity& security) {
  learner::dist::WorldOptions wo;
  wo.timeout = std::chrono::milliseconds(int64_t(config.cluster().collective_timeout_s() * 1000));
  wo.use_gpu = config.cluster().use_gpu();
  wo.job_secret = security.job_secret;
  // The store is authenticated by the job secret, not encrypted: like the ranks' Gloo traffic,
  // which no backend encrypts. With a secret it may listen beyond loopback without TLS.
  wo.insecure = security.insecure || !security.job_secret.empty();
  if (const char* iface = std::getenv("GLOO_SOCKET_IFNAME"); iface != nullptr) wo.iface = iface;
  ASSIGN_OR_RETURN(auto world, learner::dist::World::Join(layout, wo));
  DSARL_LOG_INFO("learner: {}", world->Describe());
  return world;
}

// Workers learn that the job is finished from their next call: the service keeps answering until
// no prompt has been leased for 2 s (at most 15 s), so that they exit cleanly instead of finding
// the port closed mid-call.
void LingerForWorkers(learner::LearnerJob* job) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto quiet_since = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(15)) {
    if (job->state()->Status().prompts_leased() > 0) quiet_since = Clock::now();
    if (Clock::now() - quiet_since >= std::chrono::seconds(2)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

absl::StatusOr<int> RunLearner(const Args& args) {
  if (args.Get("config").empty()) return absl::InvalidArgumentError("--config is required");
  if (!args.Get("listen").empty()) {
    RETURN_IF_ERROR(
        Annotate(rpc::ValidateAddress(args.Get("listen"), /*listening=*/true), "--listen"));
  }
  ASSIGN_OR_RETURN(proto::JobConfig loose,
                   proto::LoadJobConfig(args.Get("config"), args.GetAll("set")));
  ASSIGN_OR_RETURN(learner::dist::RankLayout layout,
                   learner::dist::RankLayoutFromEnv(learner::dist::ProcessEnv(),
                                                    loose.cluster().learner_world_size()));
  const JobRole role = layout.rank == 0 ? JobRole::kLearner : JobRole::kLearnerRank;
  ASSIGN_OR_RETURN(proto::JobConfig config,
                   LoadCheckedJobConfig(args.Get("config"), args.GetAll("set"), role));
  std::atomic<bool>& stop = StopFlagOnSignals();
  model::SetCpuThreads(config.learner().threads());
  learner::LearnerJobOptions o;
  o.listen = args.Get("listen");
  ASSIGN_OR_RETURN(o.security, LearnerSecurity(args));
  ASSIGN_OR_RETURN(std::unique_ptr<learner::dist::World> world,
                   JoinWorld(config, layout, o.security));
  if (layout.rank != 0) {
    const absl::Status s = learner::RunFollowerRank(
        config, world->comm(), [](const std::string& line) { DSARL_LOG_INFO("{}", line); });
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("learner rank ", layout.rank, ": ", s.message()));
    }
    std::cout << "learner rank " << layout.rank << " finished" << std::endl;
    return 0;
  }
  o.comm = world->comm();
  ASSIGN_OR_RETURN(auto job, learner::LearnerJob::Create(config, o));
  std::cout << "learner listening on " << job->port() << std::endl;
  RETURN_IF_ERROR(job->Run(stop));
  if (stop.load()) {
    std::cout << "learner stopped at step " << job->step() << std::endl;
    return 0;
  }
  LingerForWorkers(job.get());
  std::cout << "learner finished at step " << job->step() << std::endl;
  // A run that trained nothing (every episode an infrastructure error, say) is no success.
  RETURN_IF_ERROR(job->CheckLearned());
  return 0;
}

}  // namespace

void RegisterLearnerCommand(CommandTable* table) {
  Command learner{
      .name = "learner",
      .summary = "run the learner: serve prompts and weights to rollout workers, train with GRPO",
      .description =
          "Opens OUTPUT_DIR/store (environments must be synthesized there), starts or resumes the\n"
          "run named by the config, listens for rollout workers (cluster.learner_listen, or\n"
          "--listen), and trains until learner.total_steps. Ctrl-C checkpoints and stops; running\n"
          "the same command again resumes. The port is printed as 'learner listening on PORT'.\n"
          "With --token-file every call needs a worker token of that job secret; with\n"
          "--tls-cert/--tls-key the service speaks TLS, with --tls-client-ca mutual TLS. Beyond\n"
          "loopback it refuses to listen without TLS and a token (or client CA) unless\n"
          "--insecure. See docs/training.md, 'Running a cluster job securely'.\n"
          "\n"
          "Data-parallel: start one process per rank with RANK, WORLD_SIZE, LOCAL_RANK,\n"
          "MASTER_ADDR, MASTER_PORT set (torchrun-style), or under Slurm's srun (SLURM_PROCID,\n"
          "SLURM_NTASKS, SLURM_LOCALID; the rendezvous host is the first of the job's nodes).\n"
          "Rank 0 is the learner above; the other ranks train beside it and exit with it. The\n"
          "ranks all-reduce over NCCL when cluster.use_gpu and a GPU is visible, else Gloo; a\n"
          "rank that dies or hangs stops the others within cluster.collective_timeout_s, naming\n"
          "it. See docs/training.md, 'Clusters'.",
      .flags = {FlagSpec{"config", "job config", ""},
                FlagSpec{"set", "override a config field: path.to.field=value", "", false, true},
                FlagSpec{"listen", "address to listen on (host:port; port 0 picks one)", ""}},
      .run = RunLearner};
  for (FlagSpec& f : LearnerSecurityFlags()) learner.flags.push_back(std::move(f));
  table->Add(std::move(learner));
}

}  // namespace dsarl::cli
