// `dsarl envs synthesize|list|show|try`: make the environments and tasks of a job, look at them,
// and play one by hand. `try` reads what a person types exactly as the model would write it (the
// chat markup of SPEC §4), parsed by the model's own parser, so a task can be checked end to end;
// it plays in a child process (child_process.h), so its exit code tells a failed verdict (1) from
// a plugin or server that failed, crashed or exited (3).
// `synthesize --filter-checkpoint` plays a model on every task (the pass@k > 0 filter).
#include <chrono>
#include <iostream>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/message.h"
#include "base/status_macros.h"
#include "cli/child_process.h"
#include "cli/commands.h"
#include "envs/episode.h"
#include "envs/factory.h"
#include "envs/synthesis.h"
#include "model/chat_format.h"
#include "model/checkpoint.h"
#include "model/generator.h"
#include "model/sampler.h"
#include "model/tokenizer.h"
#include "model/tokenizer_config.h"
#include "model/tool_call_parser.h"
#include "proto/chat_proto.h"
#include "proto/config_loader.h"
#include "store/env_writer.h"
#include "store/store.h"

namespace dsarl::cli {
namespace {

const FlagSpec kConfigFlag{"config",
                           "job config whose envs section gives the defaults "
                           "(categories, counts, levels, plugins, remote servers)",
                           ""};
const FlagSpec kPluginFlag{"plugin", "environment plugin (shared library) to load", "", false,
                           true};
const FlagSpec kRemoteFlag{"remote", "remote environment server HOST:PORT", "", false, true};
const FlagSpec kStoreFlag{"store", "store directory", ""};

// The envs section of --config (or defaults), with --plugin / --remote added.
absl::StatusOr<proto::EnvsConfig> EnvsConfigFrom(const Args& args) {
  proto::EnvsConfig config;
  if (!args.Get("config").empty()) {
    ASSIGN_OR_RETURN(proto::JobConfig job, proto::LoadJobConfig(args.Get("config"), {}));
    config = job.envs();
  }
  for (const std::string& p : args.GetAll("plugin")) config.add_plugin_paths(p);
  for (const std::string& r : args.GetAll("remote")) config.add_remote_addresses(r);
  return config;
}

absl::StatusOr<std::unique_ptr<store::Store>> OpenStore(const std::string& dir, bool write) {
  if (dir.empty()) return absl::InvalidArgumentError("--store DIR is required");
  store::OpenOptions options;
  options.create_if_missing = write;
  options.read_only = !write;
  return store::Store::Open(dir, options);
}

std::vector<std::string> SplitList(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values) {
    for (absl::string_view part : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      out.push_back(std::string(absl::StripAsciiWhitespace(part)));
    }
  }
  return out;
}

// ---- the model as a policy (for --filter-checkpoint) ------------------------------------------

struct ModelPolicyOptions {
  model::SamplingParams sampling;
  int max_new_tokens = 256;
};

// One episode's policy: renders the conversation so far, samples one assistant turn, parses it.
// Text that does not parse into tool calls is taken as the final answer (its content).
envs::Policy ModelPolicy(const model::Transformer* m, const ModelPolicyOptions& options,
                         uint64_t seed) {
  auto said = std::make_shared<std::vector<Message>>();  // the model's own turns
  auto rng = std::make_shared<model::Rng>(seed);
  return [m, options, said, rng](
             const envs::Task& task,
             const std::vector<envs::Turn>& turns) -> absl::StatusOr<envs::Action> {
    model::Conversation conv;
    conv.system = task.system;
    conv.tools = task.tools;
    conv.messages.push_back(Message::User(task.user));
    for (size_t i = 0; i < turns.size() && i < said->size(); ++i) {
      conv.messages.push_back((*said)[i]);
      for (const envs::ToolResult& r : turns[i].results) {
        conv.messages.push_back(Message::Tool(r.output, r.is_error));
      }
    }
    ASSIGN_OR_RETURN(model::RenderedTokens prompt, model::RenderForGeneration(conv));
    model::Generator gen(m, m->dims().mode);
    const auto seq = gen.NewSequence();
    std::vector<int> ids(prompt.ids.begin(), prompt.ids.end());
    if (static_cast<int>(ids.size()) >= m->dims().max_pos) {
      return envs::Action{};  // out of context: an empty answer
    }
    ASSIGN_OR_RETURN(auto step, gen.Step({seq}, {ids}));
    std::vector<int32_t> out;
    for (int t = 0; t < options.max_new_tokens; ++t) {
      ASSIGN_OR_RETURN(model::SampleResult s,
                       model::Sample(step.logits, options.sampling, rng.get()));
      if (s.token == model::kEosId) break;
      out.push_back(s.token);
      if (gen.Length(seq) + 1 >= m->dims().max_pos) break;
      ASSIGN_OR_RETURN(step, gen.Step({seq}, {{s.token}}));
    }
    const model::ParsedAssistantOutput parsed =
        model::ParseAssistantOutput(model::Tokenizer().Decode(out));
    envs::Action action;
    if (!parsed.error && !parsed.tool_calls.empty()) {
      said->push_back(Message::Assistant(parsed.reasoning, parsed.content, parsed.tool_calls));
      action.calls = parsed.tool_calls;
    } else {
      action.final_answer = parsed.content;
    }
    return action;
  };
}

// ---- synthesize -------------------------------------------------------------------------------

// The synthesis options: flags where given, else the config's envs section (with --config), else
// the flags' defaults.
absl::StatusOr<envs::SynthesisOptions> SynthesisOptionsFrom(const Args& args,
                                                            const proto::EnvsConfig& config) {
  const bool from_config = !args.Get("config").empty();
  envs::SynthesisOptions o;
  o.categories = SplitList(args.GetAll("categories"));
  if (o.categories.empty() && from_config) {
    o.categories.assign(config.categories().begin(), config.categories().end());
  }
  auto int_flag = [&](const char* name, int config_value, int* out) -> absl::Status {
    if (args.Has(name) || !from_config) {
      ASSIGN_OR_RETURN(int64_t v, args.GetInt(name));
      *out = static_cast<int>(v);
    } else {
      *out = config_value;
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(int_flag("envs-per-category", config.envs_per_category(), &o.envs_per_category));
  RETURN_IF_ERROR(int_flag("tasks-per-env", config.tasks_per_env(), &o.tasks_per_env));
  RETURN_IF_ERROR(int_flag("min-level", config.min_difficulty(), &o.min_level));
  RETURN_IF_ERROR(int_flag("max-level", config.max_difficulty(), &o.max_level));
  ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed"));
  ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads"));
  ASSIGN_OR_RETURN(o.heldout_fraction, args.GetDouble("heldout"));
  if (from_config && !args.Has("heldout")) o.heldout_fraction = config.heldout_fraction();
  o.seed = static_cast<uint64_t>(seed);
  o.threads = static_cast<int>(threads);
  return o;
}

// The pass@k > 0 filter of --filter-checkpoint: plays that model k times on every task of
// `result` and keeps the tasks it solved at least once.
absl::Status FilterWithCheckpoint(const Args& args, const envs::EnvFactory& factory, uint64_t seed,
                                  envs::SynthesisResult* result) {
  const std::string& checkpoint = args.Get("filter-checkpoint");
  ASSIGN_OR_RETURN(int64_t k, args.GetInt("k"));
  ASSIGN_OR_RETURN(int64_t max_new, args.GetInt("max-new-tokens"));
  ASSIGN_OR_RETURN(double temperature, args.GetDouble("temperature"));
  ASSIGN_OR_RETURN(std::unique_ptr<model::Transformer> m, model::LoadCheckpoint(checkpoint));
  ASSIGN_OR_RETURN(const model::Tokenizer tok, model::Tokenizer::ForCheckpoint(checkpoint));
  RETURN_IF_ERROR(model::RequireByteTokenizer(tok, "--filter-checkpoint"));
  ModelPolicyOptions po;
  po.sampling.temperature = static_cast<float>(temperature);
  po.max_new_tokens = static_cast<int>(max_new);
  const model::Transformer* mp = m.get();
  ASSIGN_OR_RETURN(
      envs::FilterReport f,
      envs::FilterSolvable(
          factory.registry(),
          [&](const proto::Prompt& p, int attempt) {
            return ModelPolicy(mp, po, envs::DeriveSeed({seed, p.id(), uint64_t(attempt)}));
          },
          static_cast<int>(k), /*threads=*/1, result));
  std::cout << absl::StrFormat(
      "pass@%d filter with %s: kept %d tasks, removed %d "
      "(%d infrastructure errors)\n",
      k, checkpoint, f.kept, f.removed, f.infra_errors);
  return absl::OkStatus();
}

// The per-category table of a synthesis and the line that sums it up.
void PrintSynthesisReport(const envs::SynthesisReport& r, const std::string& out, double secs,
                          uint64_t seed) {
  std::cout << absl::StrFormat("%-20s %-9s %6s %8s  %-34s %7s %6s\n", "category", "kind", "envs",
                               "tasks", "tasks by level 0..4", "failed", "dups");
  for (const envs::CategoryReport& c : r.categories) {
    std::vector<std::string> levels;
    for (const auto& [level, n] : c.tasks_by_level) levels.push_back(absl::StrCat(n));
    std::cout << absl::StrFormat("%-20s %-9s %6d %8d  %-34s %7d %6d\n", c.name,
                                 envs::CategoryKindName(c.kind), c.envs, c.tasks,
                                 absl::StrJoin(levels, " "), c.failed, c.duplicates);
  }
  std::cout << absl::StrFormat("%-20s %-9s %6d %8d  %-34s %7d %6d\n", "total", "", r.total_envs,
                               r.total_tasks, "", r.total_failed, r.total_duplicates);
  for (const std::string& f : r.failures) std::cout << "  left out: " << f << "\n";
  std::cout << absl::StrFormat(
      "wrote %d environments and %d tasks to %s in %.1f s (synthesis %.1f s, seed %d, digest %s)\n",
      r.total_envs, r.total_tasks, out, secs, r.seconds, seed, r.digest);
}

absl::StatusOr<int> RunSynthesize(const Args& args) {
  if (args.Get("out").empty()) return absl::InvalidArgumentError("--out DIR is required");
  ASSIGN_OR_RETURN(proto::EnvsConfig config, EnvsConfigFrom(args));
  ASSIGN_OR_RETURN(const envs::SynthesisOptions o, SynthesisOptionsFrom(args, config));
  ASSIGN_OR_RETURN(auto factory, envs::EnvFactory::Create(config));
  ASSIGN_OR_RETURN(auto store, OpenStore(args.Get("out"), /*write=*/true));
  if (store->Counts().envs() > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(args.Get("out"), " already holds ", store->Counts().envs(),
                     " environments; synthesize into a new directory"));
  }
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(envs::SynthesisResult result, envs::Synthesize(factory->registry(), o));
  if (!args.Get("filter-checkpoint").empty()) {
    RETURN_IF_ERROR(FilterWithCheckpoint(args, *factory, o.seed, &result));
  }
  RETURN_IF_ERROR(store::WriteEnvironments(result.envs, result.prompts, store.get()));
  RETURN_IF_ERROR(store->Close());
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PrintSynthesisReport(result.report, args.Get("out"), secs, o.seed);
  return 0;
}

// ---- list / show ------------------------------------------------------------------------------

absl::StatusOr<int> RunList(const Args& args) {
  ASSIGN_OR_RETURN(proto::EnvsConfig config, EnvsConfigFrom(args));
  if (args.Get("store").empty()) {
    ASSIGN_OR_RETURN(auto factory, envs::EnvFactory::Create(config));
    std::cout << absl::StrFormat("%-20s %-9s %-7s %s\n", "category", "kind", "levels",
                                 "description");
    for (const envs::Category* c : factory->registry().All()) {
      std::cout << absl::StrFormat("%-20s %-9s 0..%-4d %s%s\n", c->name,
                                   envs::CategoryKindName(c->kind), c->top_level, c->description,
                                   c->backend.empty() ? "" : absl::StrCat(" [", c->backend, "]"));
    }
    return 0;
  }
  ASSIGN_OR_RETURN(auto store, OpenStore(args.Get("store"), false));
  std::map<uint64_t, int64_t> tasks;
  RETURN_IF_ERROR(store->ScanPrompts([&](const proto::Prompt& p) {
    ++tasks[p.env_id()];
    return true;
  }));
  const std::string only = args.Get("category");
  ASSIGN_OR_RETURN(int64_t limit, args.GetInt("limit"));
  int64_t shown = 0;
  std::cout << absl::StrFormat("%8s %-20s %6s %6s  %s\n", "id", "category", "levels", "tasks",
                               "parameters");
  RETURN_IF_ERROR(store->ScanEnvs([&](const proto::EnvSpec& e) {
    if (!only.empty() && e.category() != only) return true;
    std::map<std::string, std::string> params(e.params().begin(), e.params().end());
    std::cout << absl::StrFormat("%8d %-20s 0..%-3d %6d  %s\n", e.id(), e.category(),
                                 e.difficulty(), tasks[e.id()],
                                 absl::StrJoin(params, " ", absl::PairFormatter("=")));
    return limit <= 0 || ++shown < limit;
  }));
  return 0;
}

void PrintTask(const envs::Task& task) {
  std::cout << "--- system\n" << model::RenderSystemText(task.system, task.tools) << "\n";
  std::cout << "--- user\n" << task.user << "\n";
}

absl::StatusOr<int> RunShow(const Args& args) {
  ASSIGN_OR_RETURN(auto store, OpenStore(args.Get("store"), false));
  uint64_t id = 0;
  if (!absl::SimpleAtoi(args.positional()[0], &id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ID must be an environment id, got '", args.positional()[0], "'"));
  }
  ASSIGN_OR_RETURN(proto::EnvSpec spec, store->GetEnv(id));
  std::cout << "environment " << spec.id() << ": " << spec.category() << " — " << spec.description()
            << "\n";
  std::cout << "  seed " << spec.seed() << ", levels 0.." << spec.difficulty() << ", backend "
            << (spec.backend().empty() ? "built-in" : spec.backend()) << "\n";
  std::map<std::string, std::string> params(spec.params().begin(), spec.params().end());
  for (const auto& [k, v] : params) std::cout << "  " << k << " = " << v << "\n";
  std::map<int, std::vector<proto::Prompt>> by_level;
  RETURN_IF_ERROR(store->ScanPromptsByEnv(id, [&](const proto::Prompt& p) {
    by_level[p.difficulty()].push_back(p);
    return true;
  }));
  for (const auto& [level, prompts] : by_level) {
    const proto::Prompt& p = prompts.front();
    std::cout << "\nlevel " << level << ": " << prompts.size() << " tasks; the first (prompt "
              << p.id() << ", seed " << p.task_seed() << "):\n  " << p.user() << "\n";
    std::map<std::string, std::string> ref(p.reference().begin(), p.reference().end());
    std::cout << "  reference: " << absl::StrJoin(ref, ", ", absl::PairFormatter("=")) << "\n";
    for (const Message& turn : SolutionMessages(p)) {
      std::cout << "  solution: " << model::AssistantOutputText(turn) << "\n";
    }
  }
  return 0;
}

// ---- try --------------------------------------------------------------------------------------

// Reads one assistant turn: lines until "<eos>", or a blank line when no markup is left open, or
// the end of input. Returns false at the end of input with nothing read.
bool ReadTurn(std::istream& in, std::string* text) {
  text->clear();
  std::string line;
  bool any = false;
  while (std::getline(in, line)) {
    any = true;
    if (!text->empty()) *text += "\n";
    *text += line;
    if (absl::EndsWith(absl::StripTrailingAsciiWhitespace(*text), "<eos>")) return true;
    const bool open = absl::StrContains(*text, "<function_calls>") &&
                      !absl::StrContains(*text, "</function_calls>");
    if (line.empty() && !open) return true;
  }
  return any;
}

// Exit codes of `envs try` (its --help and docs/envs.md say the same).
constexpr int kTryPassed = 0;     // played to a verdict of 1
constexpr int kTryFailed = 1;     // played to a verdict below 1
constexpr int kTryUsage = 2;      // arguments, config, store, category or level (as CommandTable)
constexpr int kTryEnvFailed = 3;  // the environment failed: a plugin or server call timed out,
                                  // threw, failed, crashed, exited, or answered garbage or too much

// The exit code of an error: kTryUsage for what was asked (bad arguments, no such category or
// plugin file, a level off the ladder, a token refused), kTryEnvFailed for the rest.
int TryErrorCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return kTryUsage;
    default:
      return kTryEnvFailed;
  }
}

// The environment `ID` names: a stored environment, or a category's from --env-seed.
absl::StatusOr<proto::EnvSpec> TrySpec(const Args& args, const envs::EnvFactory& factory) {
  const std::string& id_text = args.positional()[0];
  proto::EnvSpec spec;
  uint64_t id = 0;
  if (absl::SimpleAtoi(id_text, &id)) {
    ASSIGN_OR_RETURN(auto store, OpenStore(args.Get("store"), false));
    return store->GetEnv(id);
  }
  const envs::Category* c = factory.registry().Find(id_text);
  if (c == nullptr) return absl::NotFoundError(absl::StrCat("no category '", id_text, "'"));
  ASSIGN_OR_RETURN(int64_t env_seed, args.GetInt("env-seed"));
  spec.set_category(c->name);
  spec.set_seed(static_cast<uint64_t>(env_seed));
  spec.set_difficulty(c->top_level);
  spec.set_backend(c->backend);
  if (c->sample_params) {
    envs::Rng rng(envs::DeriveSeed({spec.seed(), envs::HashString("params"), 0}));
    for (const auto& [k, v] : c->sample_params(rng)) (*spec.mutable_params())[k] = v;
  }
  return spec;
}

void PrintSolution(const envs::Solution& solution) {
  for (const std::vector<ToolCall>& round : solution.rounds) {
    std::cout << "--- reference solution turn\n"
              << model::AssistantOutputText(Message::Assistant("", "", round)) << "\n";
  }
  std::cout << "--- reference solution turn\n"
            << model::AssistantOutputText(Message::Assistant("", solution.final_answer)) << "\n";
}

struct TryOutcome {
  std::string answer;
  int turns = 0;
};

// Reads turns from standard input and steps the episode until an answer, the end of input, or
// the environment saying it is done.
absl::StatusOr<TryOutcome> PlayTurns(const envs::Environment& env, envs::EpisodeState* state,
                                     const std::string& label, const ChildProgress& progress) {
  TryOutcome out;
  std::string text;
  while (ReadTurn(std::cin, &text)) {
    const model::ParsedAssistantOutput parsed = absl::StrContains(text, "</think>")
                                                    ? model::ParseAssistantOutput(text)
                                                    : model::ParseContentAndToolCalls(text);
    if (parsed.error) {
      std::cout << "--- parse error at byte " << parsed.error->position << ": "
                << parsed.error->message << " (the model would see this turn fail)\n";
      continue;
    }
    if (parsed.tool_calls.empty()) {
      out.answer = parsed.content;
      break;
    }
    std::vector<std::string> names;
    for (const ToolCall& c : parsed.tool_calls) names.push_back(c.name);
    std::cout.flush();
    progress.Step(absl::StrCat("step of ", label, " (tools ", absl::StrJoin(names, ", "), ")"));
    ASSIGN_OR_RETURN(envs::StepResult step, env.Step(state, parsed.tool_calls));
    ++out.turns;
    std::cout << "<function_results>";
    for (const envs::ToolResult& r : step.results) {
      std::cout << "<result>" << r.output << "</result>";
    }
    std::cout << "</function_results>\n";
    if (step.done) break;
  }
  return out;
}

// Plays the task; returns kTryPassed or kTryFailed by the verdict, or the first error.
absl::StatusOr<int> PlayTry(const Args& args, const ChildProgress& progress) {
  ASSIGN_OR_RETURN(proto::EnvsConfig config, EnvsConfigFrom(args));
  ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed"));
  ASSIGN_OR_RETURN(int64_t level, args.GetInt("level"));
  progress.Step("loading the plugins and remote servers of the config and flags");
  ASSIGN_OR_RETURN(auto factory, envs::EnvFactory::Create(config));
  ASSIGN_OR_RETURN(proto::EnvSpec spec, TrySpec(args, *factory));
  const std::string label = absl::StrCat("category ", spec.category(), " (",
                                         spec.backend().empty() ? "built-in" : spec.backend(), ")");
  progress.Step(absl::StrCat("create of ", label));
  ASSIGN_OR_RETURN(std::unique_ptr<envs::Environment> env, factory->Make(spec));
  progress.Step(absl::StrCat("reset of ", label));
  ASSIGN_OR_RETURN(envs::Episode episode,
                   env->Reset(static_cast<uint64_t>(seed), static_cast<int>(level)));
  PrintTask(episode.task);
  if (args.GetBool("solution")) PrintSolution(episode.task.solution);
  std::cout << "--- your turn: write as the model would (tool calls in <function_calls> markup, "
               "or the answer); end a turn with <eos> or a blank line\n";
  ASSIGN_OR_RETURN(TryOutcome played, PlayTurns(*env, episode.state.get(), label, progress));
  std::cout.flush();
  progress.Step(absl::StrCat("verify of ", label));
  ASSIGN_OR_RETURN(envs::Verdict verdict, env->Verify(*episode.state, played.answer));
  progress.Step(absl::StrCat("close of ", label));
  env->Close(episode.state.get());
  std::cout << absl::StrFormat("--- verdict: score %g after %d tool round%s (%s)\n", verdict.score,
                               played.turns, played.turns == 1 ? "" : "s", verdict.details);
  return verdict.score >= 1 ? kTryPassed : kTryFailed;
}

// The child's side: plays, and prints an error the way CommandTable does.
int PlayTryInChild(const Args& args, const ChildProgress& progress) {
  const absl::StatusOr<int> played = PlayTry(args, progress);
  if (played.ok()) return *played;
  const int code = TryErrorCode(played.status());
  std::cout.flush();
  std::cerr << "dsarl envs try: " << (code == kTryEnvFailed ? "environment failure: " : "")
            << played.status().message() << "\n";
  return code;
}

// Plays in a child process, so that whatever a plugin does to its process (exit(0) included) is
// seen here as a failure, never as a pass read off the exit status.
absl::StatusOr<int> RunTry(const Args& args) {
  absl::StatusOr<ChildOutcome> child = RunInChildProcess(
      [&args](const ChildProgress& progress) { return PlayTryInChild(args, progress); });
  if (!child.ok()) {
    std::cerr << "dsarl envs try: " << child.status().message() << "\n";
    return kTryEnvFailed;
  }
  if (child->finished) return child->code;
  std::cerr << "dsarl envs try: environment failure: the process playing the task ended with "
            << child->ended << " during the " << child->last_step
            << ", before it finished (a plugin that calls exit() or crashes inside a call ends "
               "the process; serve untrusted environments as remote environments instead)\n";
  return kTryEnvFailed;
}

}  // namespace

void RegisterEnvsCommands(CommandTable* table) {
  table->Add(Command{
      .name = "envs synthesize",
      .summary = "make environments and verified tasks into a new store (deterministic by seed)",
      .description =
          "Every task's reference solution is played through the environment's tools and must\n"
          "pass its verifier; failures are reported and left out. The defaults make the full\n"
          "set (19 categories x 96 environments and 576 synthesized ones, 50 tasks each; 10 for\n"
          "code_interpreter).\n"
          "With --config, the job's envs section gives the categories, counts and levels.\n"
          "--filter-checkpoint keeps only tasks the model solves at least once in --k tries.",
      .flags = {FlagSpec{"out", "new store directory", ""},
                FlagSpec{"categories", "comma-separated categories (default: all)", "", false,
                         true},
                FlagSpec{"seed", "synthesis seed", "1"},
                FlagSpec{"envs-per-category", "environments per category", "96"},
                FlagSpec{"tasks-per-env", "tasks per environment", "50"},
                FlagSpec{"min-level", "lowest difficulty level", "0"},
                FlagSpec{"max-level", "highest difficulty level", "4"},
                FlagSpec{"heldout", "share of tasks held out for evaluation", "0.1"},
                FlagSpec{"threads", "worker threads (0: one per CPU)", "0"},
                FlagSpec{"filter-checkpoint", "keep only tasks this checkpoint solves", ""},
                FlagSpec{"k", "tries per task for the filter (pass@k)", "4"},
                FlagSpec{"max-new-tokens", "filter: tokens per model turn", "256"},
                FlagSpec{"temperature", "filter: sampling temperature", "1.0"}, kConfigFlag,
                kPluginFlag, kRemoteFlag},
      .run = RunSynthesize});
  table->Add(
      Command{.name = "envs list",
              .summary = "list the categories, or with --store the environments of a store",
              .flags = {kStoreFlag, FlagSpec{"category", "only this category (with --store)", ""},
                        FlagSpec{"limit", "at most this many environments (0: all)", "0"},
                        kConfigFlag, kPluginFlag, kRemoteFlag},
              .run = RunList});
  table->Add(Command{.name = "envs show",
                     .summary = "an environment of a store: its parameters and a task per level",
                     .positional = {"ID"},
                     .min_positional = 1,
                     .flags = {kStoreFlag},
                     .run = RunShow});
  table->Add(Command{
      .name = "envs try",
      .summary = "play a task by hand: type tool calls and the answer as the model would",
      .description =
          "ID is an environment id of --store, or a category name (its environment from\n"
          "--env-seed). Prints the task, then reads turns from standard input: tool calls in\n"
          "<function_calls> markup get their results; anything else is the final answer, which\n"
          "is verified. The task is played in a child process, so a plugin that crashes or calls\n"
          "exit() is reported, not mistaken for a result. Exit codes:\n"
          "  0  played to a verdict of 1\n"
          "  1  played to a verdict below 1\n"
          "  2  usage or config error (bad flags, unknown category, no such store, plugin\n"
          "     file that does not load, level off the ladder)\n"
          "  3  the environment failed: a plugin or server call timed out, threw, failed,\n"
          "     crashed, exited, or answered garbage or more than 4 MiB",
      .positional = {"ID"},
      .min_positional = 1,
      .flags = {kStoreFlag, FlagSpec{"seed", "task seed", "1"},
                FlagSpec{"level", "difficulty level", "0"},
                FlagSpec{"env-seed", "environment seed when ID is a category", "1"},
                FlagSpec{"solution", "also print the reference solution", "", true}, kConfigFlag,
                kPluginFlag, kRemoteFlag},
      .run = RunTry});
}

}  // namespace dsarl::cli
