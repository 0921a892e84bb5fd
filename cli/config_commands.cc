// `dsarl config check` and `dsarl config print`.
#include <iostream>

#include "cli/commands.h"
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
          "and checks every range and cross-field rule. Errors name FILE:LINE:COLUMN and the\n"
          "field path. Exits 0 when valid, 2 otherwise.",
      .positional = {"FILE"},
      .min_positional = 1,
      .flags = {kSetFlag},
      .run = [](const Args& args) -> absl::StatusOr<int> {
        auto config = proto::LoadJobConfig(args.positional()[0], args.GetAll("set"));
        if (!config.ok()) {
          std::cerr << config.status().message() << "\n";
          return 2;
        }
        std::cout << args.positional()[0] << ": OK\n";
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
