// Registration functions, one per group of subcommands; main() calls each into one table.
#ifndef DSARL_CLI_COMMANDS_H_
#define DSARL_CLI_COMMANDS_H_

#include "cli/command.h"
#include "model/tokenizer_config.h"
#include "model/transformer.h"
#include "proto/config.pb.h"
#include "proto/rpc_security.h"
#include "rollout/eval.h"

namespace dsarl::cli {

void RegisterConfigCommands(CommandTable* table);
void RegisterDoctorCommand(CommandTable* table);
void RegisterModelCommands(CommandTable* table);
void RegisterLearnerCommand(CommandTable* table);
void RegisterStageCommands(CommandTable* table);
void RegisterJobCommands(CommandTable* table);
void RegisterRunCommand(CommandTable* table);
void RegisterStoreCommands(CommandTable* table);
void RegisterRewardsCommands(CommandTable* table);
void RegisterEnvsCommands(CommandTable* table);
void RegisterEnvsStatsCommand(CommandTable* table);
void RegisterEnvsDbCommand(CommandTable* table);
void RegisterTokenCommands(CommandTable* table);

// The security flags of `dsarl learner` and `dsarl rollout` (cli/token_commands.cc) and what they
// say. WorkerSecurity turns a job secret into this worker's token and, when `worker_id` is empty,
// names the worker after its token (else worker-PID). Errors: unreadable token files.
std::vector<FlagSpec> LearnerSecurityFlags();
std::vector<FlagSpec> WorkerSecurityFlags();
absl::StatusOr<rpc::ServerSecurity> LearnerSecurity(const Args& args);
absl::StatusOr<rpc::ClientSecurity> WorkerSecurity(const Args& args, std::string* worker_id);

// Threads for a rollout worker and for the learner when they share this machine
// (rollout.threads / learner.threads; 0 splits the cores between the learner and the workers).
int WorkerThreads(const proto::JobConfig& config);
int LearnerThreads(const proto::JobConfig& config);

// Shared by `dsarl sft|eval` and `dsarl run`.
// The configured checkpoint, or a seeded random initialization.
absl::StatusOr<std::unique_ptr<model::Transformer>> StartingModel(
    const proto::JobConfig& config, const model::Tokenizer& tok = model::Tokenizer());
absl::StatusOr<std::string> RunSft(const proto::JobConfig& config, const std::string& data,
                                   const std::string& out_dir);
absl::StatusOr<rollout::EvalReport> RunEval(const proto::JobConfig& config,
                                            const model::Transformer& policy, int k, int tasks);

}  // namespace dsarl::cli

#endif  // DSARL_CLI_COMMANDS_H_
