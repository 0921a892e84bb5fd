// Registration functions, one per group of subcommands; main() calls each into one table.
#ifndef DSARL_CLI_COMMANDS_H_
#define DSARL_CLI_COMMANDS_H_

#include "cli/command.h"

namespace dsarl::cli {

void RegisterConfigCommands(CommandTable* table);
void RegisterDoctorCommand(CommandTable* table);
void RegisterModelCommands(CommandTable* table);
void RegisterLearnerCommand(CommandTable* table);
void RegisterStageCommands(CommandTable* table);
void RegisterStoreCommands(CommandTable* table);
void RegisterRewardsCommands(CommandTable* table);

}  // namespace dsarl::cli

#endif  // DSARL_CLI_COMMANDS_H_
