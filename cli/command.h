// A small subcommand framework for the `dsarl` binary: each command declares its flags and
// positional arguments once, and gets parsing, `--help` and error messages from that declaration.
// Commands are registered into a CommandTable built in main (no global registry).
#ifndef DSARL_CLI_COMMAND_H_
#define DSARL_CLI_COMMAND_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dsarl::cli {

struct FlagSpec {
  std::string name;  // without the leading "--"
  std::string help;
  std::string default_value;  // shown in --help; empty means "no default"
  bool is_bool = false;       // takes no value: present means true
  bool repeated = false;      // may be given several times (values collected in order)
};

// Parsed arguments of one command.
class Args {
 public:
  // The flag's last value, or its declared default when absent.
  const std::string& Get(const std::string& name) const;
  // Every value of a repeated flag, in order.
  const std::vector<std::string>& GetAll(const std::string& name) const;
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  bool GetBool(const std::string& name) const { return Has(name) && Get(name) != "false"; }
  absl::StatusOr<int64_t> GetInt(const std::string& name) const;
  absl::StatusOr<double> GetDouble(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend class CommandTable;
  std::map<std::string, std::vector<std::string>> values_;
  std::map<std::string, std::string> defaults_;
  std::vector<std::string> positional_;
};

struct Command {
  std::string name;                     // e.g. "config check"
  std::string summary;                  // one line, for the command list
  std::string description;              // paragraphs for `--help`
  std::vector<std::string> positional;  // names, e.g. {"FILE"}; a trailing "..." allows more
  int min_positional = 0;
  std::vector<FlagSpec> flags;
  // Runs the command; returns the process exit code or an error (printed, exit code 1 or 2).
  std::function<absl::StatusOr<int>(const Args&)> run;
};

class CommandTable {
 public:
  void Add(Command command);
  // Dispatches argv (without the program name). Returns the process exit code.
  int Main(const std::vector<std::string>& argv) const;
  // Parses `argv` for `command`; InvalidArgument names the offending argument.
  absl::StatusOr<Args> Parse(const Command& command, const std::vector<std::string>& argv) const;
  std::string HelpFor(const Command& command) const;
  std::string Overview(const std::string& prefix) const;

 private:
  std::vector<Command> commands_;
};

}  // namespace dsarl::cli

#endif  // DSARL_CLI_COMMAND_H_
