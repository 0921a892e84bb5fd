// `dsarl config check` and `dsarl config print`.
#include <iostream>

#include "base/memory_info.h"
#include "cli/commands.h"
#include "cli/job_check.h"
#include "google/protobuf/text_format.h"
#include "proto/config_loader.h"

namespace dsarl::cli {

namespace {

const FlagSpec kSetFlag{"set", "override a field: path.to.field=value", "", false, true};

}  // namespace

void RegisterConfigCommands(CommandTable* table) {
  table->Add(Command{
      .name = "config check",
      .summary = "validate a job config (text-format JobConfig)",
      .description =
          "Parses FILE against proto/config.proto, applies --set overrides and the model preset,\n"
          "and runs every check `dsarl run` makes before it starts: ranges and finite numbers,\n"
          "cross-field rules, reward, parameter, category and plugin names resolved against\n"
          "their registries, files and directories, addresses, the longest prompt plus\n"
          "rollout.max_new_tokens within the context, and the memory the job needs against\n"
          "this machine's (or cluster.memory_limit_mb). Errors name FILE:LINE:COLUMN (or the\n"
          "--set override) and the field path. Exits 0 when valid, 2 otherwise.",
      .positional = {"FILE"},
      .min_positional = 1,
      .flags = {kSetFlag},
      .run = [](const Args& args) -> absl::StatusOr<int> {
        const std::string& path = args.positional()[0];
        auto job = proto::LoadJobConfigWithLocations(path, args.GetAll("set"));
        if (!job.ok()) {
          std::cerr << job.status().message() << "\n";
          return 2;
        }
        JobCheckReport report;
        const absl::Status s = CheckJob(*job, JobRole::kRun, &report);
        for (const std::string& w : report.warnings) std::cerr << "warning: " << w << "\n";
        if (!s.ok()) {
          std::cerr << s.message() << "\n";
          return 2;
        }
        if (report.longest_prompt_tokens > 0) {
          std::cout << "longest prompt: " << report.longest_prompt_tokens << " tokens\n";
        }
        std::cout << "memory: about " << FormatBytes(report.memory_bytes) << " of "
                  << FormatBytes(report.memory_limit_bytes) << "\n  " << report.memory << "\n";
        std::cout << path << ": OK\n";
        return 0;
      }});
  table->Add(Command{
      .name = "config print",
      .summary = "print the effective job config after overrides, with every default filled in",
      .description = "Prints the merged config in text format; --brief prints only fields set in\n"
                     "FILE or by --set.",
      .positional = {"FILE"},
      .min_positional = 1,
      .flags = {kSetFlag, FlagSpec{"brief", "print only fields that are set", "", true, false}},
      .run = [](const Args& args) -> absl::StatusOr<int> {
        auto config = proto::LoadJobConfig(args.positional()[0], args.GetAll("set"));
        if (!config.ok()) {
          std::cerr << config.status().message() << "\n";
          return 2;
        }
        proto::JobConfig out =
            args.GetBool("brief") ? *config : proto::WithDefaultsMaterialized(*config);
        std::string text;
        google::protobuf::TextFormat::PrintToString(out, &text);
        std::cout << text;
        return 0;
      }});
}

}  // namespace dsarl::cli
