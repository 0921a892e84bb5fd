// The `dsarl` binary: builds the command table and dispatches.
#include <iostream>
#include <string>
#include <vector>

#include "base/log.h"
#include "cli/commands.h"
#include "model/cpu/isa.h"

int main(int argc, char** argv) {
  dsarl::InitLogging();
  // A mistyped DSARL_CPU_ISA would otherwise quietly run other kernels than the operator asked for.
  if (absl::Status isa = dsarl::model::cpu::ValidateCpuIsaEnv(); !isa.ok()) {
    std::cerr << "dsarl: " << isa.message() << "\n";
    return 2;
  }
  dsarl::cli::CommandTable table;
  dsarl::cli::RegisterConfigCommands(&table);
  dsarl::cli::RegisterDoctorCommand(&table);
  dsarl::cli::RegisterModelCommands(&table);
  dsarl::cli::RegisterLearnerCommand(&table);
  dsarl::cli::RegisterStageCommands(&table);
  dsarl::cli::RegisterJobCommands(&table);
  dsarl::cli::RegisterRunCommand(&table);
  dsarl::cli::RegisterStoreCommands(&table);
  dsarl::cli::RegisterRewardsCommands(&table);
  dsarl::cli::RegisterEnvsCommands(&table);
  dsarl::cli::RegisterEnvsStatsCommand(&table);
  dsarl::cli::RegisterEnvsDbCommand(&table);
  dsarl::cli::RegisterTokenCommands(&table);
  return table.Main(std::vector<std::string>(argv + 1, argv + argc));
}
