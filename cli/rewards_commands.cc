// `dsarl rewards test|list`: score saved trajectories offline with a config's rewards and print a
// per-component table, so a reward can be iterated on without training (docs/rewards.md).
//
// The file formats are read by rewards/offline.h; what needs the model lives here: store rows
// carry token ids, decoded with model/'s tokenizer and parsed with its chat-format parser (the
// rewards library may not depend on model/).
#include <algorithm>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "cli/child_process.h"
#include "cli/commands.h"
#include "model/tokenizer.h"
#include "model/tool_call_parser.h"
#include "proto/config_loader.h"
#include "rewards/builtins.h"
#include "rewards/composer.h"
#include "rewards/offline.h"
#include "rewards/summary.h"

namespace dsarl::cli {
namespace {

using rewards::Message;
using rewards::Role;

// Fills an assistant message from the text the model wrote, with the rollout's parser.
void FillFromText(const std::string& raw, bool starts_in_reasoning, Message* m) {
  model::ParseOptions options;
  options.starts_in_reasoning = starts_in_reasoning;
  const model::ParsedAssistantOutput parsed = model::ParseAssistantOutput(raw, options);
  m->reasoning = parsed.reasoning;
  m->content = parsed.content;
  m->tool_calls = parsed.tool_calls;
  m->parse_error = parsed.error.has_value() ? parsed.error->message : "";
}

// The tokens of a store trajectory back into messages (SPEC §4): the prompt's system and user
// text, each run of policy tokens (loss mask 1) as one assistant turn, and each <result> of a
// <function_results> block as one tool message.
absl::StatusOr<rewards::DecodedEpisode> DecodeTrajectory(const proto::Trajectory& t) {
  if (t.loss_mask_size() != t.token_ids_size()) {
    return absl::InvalidArgumentError(absl::StrCat("token_ids has ", t.token_ids_size(),
                                                   " entries but loss_mask ", t.loss_mask_size()));
  }
  const model::Tokenizer tokenizer;
  const auto ids = t.token_ids();
  const int n = ids.size();
  auto decode = [&](int from, int to) {
    return tokenizer.Decode(absl::MakeConstSpan(ids.data() + from, std::max(0, to - from)));
  };
  rewards::DecodedEpisode episode;
  int first = 0;
  while (first < n && t.loss_mask(first) == 0) ++first;
  // The prompt: <bos>{system}<|User|>{user}<|Assistant|>...
  int user_at = -1, assistant_at = -1;
  for (int i = 0; i < first; ++i) {
    if (ids[i] == model::kUserId) user_at = i, assistant_at = -1;
    if (ids[i] == model::kAssistantId && assistant_at < 0 && user_at >= 0) assistant_at = i;
  }
  if (user_at >= 0) {
    episode.system = decode(ids[0] == model::kBosId ? 1 : 0, user_at);
    episode.user = decode(user_at + 1, assistant_at < 0 ? first : assistant_at);
  }
  int i = first;
  while (i < n) {
    const int start = i;
    const bool generated = t.loss_mask(i) != 0;
    while (i < n && (t.loss_mask(i) != 0) == generated) ++i;
    if (generated) {
      Message m{.role = Role::kAssistant, .raw_text = decode(start, i), .num_tokens = i - start};
      FillFromText(m.raw_text, start == 0 || ids[start - 1] != model::kEndThinkId, &m);
      episode.turns.push_back(std::move(m));
      continue;
    }
    for (int k = start; k < i; ++k) {  // tool results in this context run
      if (ids[k] != model::kResultId) continue;
      int end = k + 1;
      while (end < i && ids[end] != model::kEndResultId) ++end;
      episode.turns.push_back(Message{.role = Role::kTool, .content = decode(k + 1, end)});
      k = end;
    }
  }
  return episode;
}

std::string Cell(const proto::RewardComponent* c) {
  if (c == nullptr) return "?";
  if (!c->applicable()) return "-";
  return absl::StrFormat("%.4g", c->value());
}

// The table `rewards test` prints: line and sample, one column per reward entry, then the reward,
// the stored reward and a note (gate or infrastructure error).
class ScoreTable {
 public:
  explicit ScoreTable(std::vector<std::string> columns) : columns_(std::move(columns)) {
    for (const std::string& c : columns_) widths_.push_back(std::max<int>(8, c.size()));
  }

  std::string Header() const {
    std::string header = absl::StrFormat("%6s %6s", "line", "sample");
    for (size_t c = 0; c < columns_.size(); ++c) {
      absl::StrAppendFormat(&header, " %*s", widths_[c], columns_[c]);
    }
    absl::StrAppendFormat(&header, " %9s %9s  %s", "reward", "stored", "note");
    return header;
  }

  std::string Row(const rewards::OfflineTrajectory& t, const rewards::ScoredSample& s) const {
    std::string line = absl::StrFormat("%6d %6d", t.line, t.sample_index);
    for (size_t c = 0; c < columns_.size(); ++c) {
      const proto::RewardComponent* found = nullptr;
      for (const auto& rc : s.components) {
        if (rc.name() == columns_[c]) found = &rc;
      }
      absl::StrAppendFormat(&line, " %*s", widths_[c], Cell(found));
    }
    const std::string stored =
        t.stored_reward.has_value() ? absl::StrFormat("%.4g", *t.stored_reward) : "";
    std::string note = s.gated ? absl::StrCat("gated: ", s.gate_details) : "";
    if (!s.infra_error.empty()) note = absl::StrCat("INFRA ERROR: ", s.infra_error);
    absl::StrAppendFormat(&line, " %9s %9s  %s",
                          s.infra_error.empty() ? absl::StrFormat("%.4g", s.reward) : "ERR", stored,
                          note);
    return line;
  }

 private:
  std::vector<std::string> columns_;
  std::vector<int> widths_;
};

// How `rewards test` reads trajectories: store rows decoded with the model's tokenizer, text
// parsed with its chat-format parser, prompts from --prompts when given.
absl::StatusOr<rewards::ReadOptions> OfflineReadOptions(const Args& args) {
  rewards::ReadOptions options;
  options.decode_tokens = DecodeTrajectory;
  options.parse_text = [](Message* m) { FillFromText(m->raw_text, true, m); };
  options.verdict_component = args.Get("verdict-component");
  if (args.Has("prompts")) {
    std::ifstream in(args.Get("prompts"));
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", args.Get("prompts")));
    ASSIGN_OR_RETURN(options.prompts, rewards::ReadPromptsJsonl(in, args.Get("prompts")));
  }
  return options;
}

absl::StatusOr<int> ScoreTrajectories(const Args& args, const ChildProgress& progress) {
  if (!args.Has("config") || !args.Has("trajectories")) {
    return absl::InvalidArgumentError("--config and --trajectories are required");
  }
  ASSIGN_OR_RETURN(proto::JobConfig config,
                   proto::LoadJobConfig(args.Get("config"), args.GetAll("set")));
  if (config.rewards().components().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(args.Get("config"), ": rewards has no components"));
  }
  ASSIGN_OR_RETURN(int64_t max_rows, args.GetInt("rows"));
  const bool details = args.GetBool("details");
  const rewards::Registry registry = rewards::BuiltinRegistry();
  progress.Step("loading the rewards (plugins' create)");
  ASSIGN_OR_RETURN(auto composer, rewards::Composer::Create(config.rewards(), registry));
  ASSIGN_OR_RETURN(const rewards::ReadOptions options, OfflineReadOptions(args));
  const std::string& path = args.Get("trajectories");
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));

  const ScoreTable table(composer->entry_names());
  std::cout << table.Header() << "\n";
  rewards::Summary summary;
  int64_t rows = 0, groups = 0;
  RETURN_IF_ERROR(rewards::ReadTrajectoriesJsonl(
      in, path, options, [&](rewards::OfflineGroup group) -> absl::Status {
        ++groups;
        std::vector<rewards::Sample> samples;
        for (const auto& t : group.trajectories) samples.push_back(t.sample);
        std::cout.flush();
        progress.Step(absl::StrCat("scoring of group ", groups, " (prompt ", group.task.id(), ")"));
        const std::vector<rewards::ScoredSample> scored = composer->ScoreGroup(group.task, samples);
        for (size_t k = 0; k < scored.size(); ++k) {
          const rewards::ScoredSample& s = scored[k];
          summary.Add(s);
          if (max_rows >= 0 && rows >= max_rows) continue;
          ++rows;
          std::cout << table.Row(group.trajectories[k], s) << "\n";
          if (!details) continue;
          for (const auto& rc : s.components) {
            if (!rc.details().empty())
              std::cout << "         " << rc.name() << ": " << rc.details() << "\n";
          }
        }
        return absl::OkStatus();
      }));
  if (summary.trajectories() > rows) {
    std::cout << "(" << summary.trajectories() - rows << " more rows; --rows -1 prints all)\n";
  }
  std::cout << "\n"
            << summary.trajectories() << " trajectories in " << groups << " groups from " << path
            << "\n\n"
            << summary.FormatTable();
  return summary.infra_errors() > 0 ? 3 : 0;
}

// Scores in a child process (child_process.h): a reward plugin that calls exit(0) or crashes is
// an infrastructure failure (3), never a clean run read off the exit status.
absl::StatusOr<int> RunTest(const Args& args) {
  ASSIGN_OR_RETURN(ChildOutcome child, RunInChildProcess([&args](const ChildProgress& progress) {
                     const absl::StatusOr<int> rc = ScoreTrajectories(args, progress);
                     if (rc.ok()) return *rc;
                     std::cout.flush();
                     std::cerr << "dsarl rewards test: " << rc.status().message() << "\n";
                     return rc.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
                   }));
  if (child.finished) return child.code;
  std::cerr << "dsarl rewards test: the process scoring the trajectories ended with " << child.ended
            << " during the " << child.last_step
            << ", before it finished (a reward plugin that calls exit() or crashes inside a call "
               "ends the process; serve untrusted rewards as remote services instead)\n";
  return 3;
}

absl::StatusOr<int> RunList(const Args&) {
  const rewards::Registry registry = rewards::BuiltinRegistry();
  for (const auto& [name, summary] : registry.List()) {
    std::cout << absl::StrFormat("%-18s %s\n", name, summary);
  }
  std::cout << absl::StrFormat("%-18s %s\n", "plugin",
                               "params.type: a shared library (rewards/plugin_abi.h)");
  std::cout << absl::StrFormat("%-18s %s\n", "remote",
                               "params.type: a gRPC reward service (proto/reward.proto)");
  return 0;
}

}  // namespace

void RegisterRewardsCommands(CommandTable* table) {
  table->Add(Command{
      .name = "rewards test",
      .summary = "score saved trajectories with a config's rewards; print a per-component table",
      .description =
          "Reads trajectories from a JSON Lines FILE (what `dsarl store export --cf trajectories`\n"
          "writes, or the plain format of docs/rewards.md), scores each group with the rewards\n"
          "section of the job config, and prints one row per trajectory (component values, '-'\n"
          "for not applicable, the composed reward and the reward stored with it) and a summary\n"
          "per component. Store rows get their tasks from --prompts (`dsarl store export --cf\n"
          "prompts`) and their verdict from the stored component --verdict-component.\n"
          "Exits 0; 3 when some trajectory had an infrastructure error, or when a reward plugin\n"
          "crashed or exited inside a call (scoring runs in a child process); 2 for usage and\n"
          "config errors; 1 for other errors (a file that cannot be read).",
      .flags = {FlagSpec{"config", "job config whose rewards section is used", ""},
                FlagSpec{"trajectories", "JSON Lines file of trajectories", ""},
                FlagSpec{"prompts", "JSON Lines file of prompts (tasks by id)", ""},
                FlagSpec{"set", "override a config field: path.to.field=value", "", false, true},
                FlagSpec{"rows", "trajectory rows to print (-1: all)", "20"},
                FlagSpec{"details", "print every component's details under its row", "", true},
                FlagSpec{"verdict-component", "stored component read as the verdict", "verifier"}},
      .run = RunTest});
  table->Add(Command{
      .name = "rewards list",
      .summary = "list the reward functions a config can name",
      .description = "Prints the built-in reward functions and the plugin and remote types.",
      .run = RunList});
}

}  // namespace dsarl::cli
