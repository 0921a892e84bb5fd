// `dsarl learner --config X`: the learner process of a cluster job.
#include <iostream>

#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/job_check.h"
#include "cli/signals.h"
#include "learner/learner_job.h"
#include "model/backend.h"
#include "proto/config_loader.h"
#include "proto/rpc_security.h"

namespace dsarl::cli {

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
          "--insecure. See docs/training.md, 'Running a cluster job securely'.",
      .flags = {FlagSpec{"config", "job config", ""},
                FlagSpec{"set", "override a config field: path.to.field=value", "", false, true},
                FlagSpec{"listen", "address to listen on (host:port; port 0 picks one)", ""}},
      .run = [](const Args& args) -> absl::StatusOr<int> {
        if (args.Get("config").empty()) return absl::InvalidArgumentError("--config is required");
        if (!args.Get("listen").empty()) {
          RETURN_IF_ERROR(
              Annotate(rpc::ValidateAddress(args.Get("listen"), /*listening=*/true), "--listen"));
        }
        ASSIGN_OR_RETURN(
            proto::JobConfig config,
            LoadCheckedJobConfig(args.Get("config"), args.GetAll("set"), JobRole::kLearner));
        std::atomic<bool>& stop = StopFlagOnSignals();
        model::SetCpuThreads(config.learner().threads());
        learner::LearnerJobOptions o;
        o.listen = args.Get("listen");
        ASSIGN_OR_RETURN(o.security, LearnerSecurity(args));
        ASSIGN_OR_RETURN(auto job, learner::LearnerJob::Create(config, o));
        std::cout << "learner listening on " << job->port() << std::endl;
        RETURN_IF_ERROR(job->Run(stop));
        std::cout << "learner finished at step " << job->step() << std::endl;
        // A run that trained nothing (every episode an infrastructure error, say) is no success.
        if (!stop.load()) RETURN_IF_ERROR(job->CheckLearned());
        return 0;
      }};
  for (FlagSpec& f : LearnerSecurityFlags()) learner.flags.push_back(std::move(f));
  table->Add(std::move(learner));
}

}  // namespace dsarl::cli
