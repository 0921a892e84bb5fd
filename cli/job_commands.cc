// `dsarl rollout`, `dsarl sft` and `dsarl eval`: the worker process, the SFT warm start and the
// held-out evaluation of a job.
#include <unistd.h>

#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/job_check.h"
#include "cli/job_setup.h"
#include "cli/signals.h"
#include "cli/worker_spawn.h"
#include "learner/lm_stages.h"
#include "learner/sft_data.h"
#include "model/backend.h"
#include "model/checkpoint.h"
#include "model/tokenizer_config.h"
#include "proto/config_loader.h"
#include "rollout/agent_loop.h"
#include "rollout/worker.h"

namespace dsarl::cli {
namespace {

const FlagSpec kConfig{"config", "job config", ""};
const FlagSpec kSet{"set", "override a config field: path.to.field=value", "", false, true};

}  // namespace

int WorkerThreads(const proto::JobConfig& c) {
  if (c.rollout().threads() > 0) return c.rollout().threads();
  const int hw = std::max(1u, std::thread::hardware_concurrency());
  return std::max(1, hw / (c.rollout().num_workers() + 1));
}

int LearnerThreads(const proto::JobConfig& c) {
  if (c.learner().threads() > 0) return c.learner().threads();
  const int hw = std::max(1u, std::thread::hardware_concurrency());
  return std::max(1, hw - c.rollout().num_workers() * WorkerThreads(c));
}

namespace {

// --NAME as an int in [lo, hi], `fallback` when the flag is absent.
absl::StatusOr<int> EvalCount(const Args& args, const std::string& name, int fallback, int lo,
                              int hi) {
  if (args.Get(name).empty()) return fallback;
  ASSIGN_OR_RETURN(int64_t v, args.GetInt(name));
  if (v < lo || v > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": ", v, " is out of range [", lo, ", ", hi, "]"));
  }
  return static_cast<int>(v);
}

absl::StatusOr<proto::JobConfig> Config(const Args& args, JobRole role) {
  if (args.Get("config").empty()) return absl::InvalidArgumentError("--config is required");
  return LoadCheckedJobConfig(args.Get("config"), args.GetAll("set"), role);
}

absl::StatusOr<int> Rollout(const Args& args) {
  // Started by `dsarl run`: exit when it does (cli/worker_spawn.h). First, before any work.
  RETURN_IF_ERROR(ExitWithParent());
  ASSIGN_OR_RETURN(proto::JobConfig c, Config(args, JobRole::kRollout));
  if (args.Get("learner").empty())
    return absl::InvalidArgumentError("--learner HOST:PORT is required");
  ASSIGN_OR_RETURN(model::ModelDims dims, model::DimsFromConfig(c.model()));
  model::SetCpuThreads(WorkerThreads(c));
  model::Transformer policy(dims);
  ASSIGN_OR_RETURN(auto factory, envs::EnvFactory::Create(c.envs()));
  ASSIGN_OR_RETURN(auto composer, MakeComposer(c));
  rollout::AgentOptions ao = rollout::AgentOptionsFromConfig(c);
  ao.worker_id = args.Get("worker-id");
  ASSIGN_OR_RETURN(rpc::ClientSecurity security, WorkerSecurity(args, &ao.worker_id));
  rollout::AgentRunner runner(factory.get(), composer.get(), ao);
  ASSIGN_OR_RETURN(auto channel, rollout::LearnerClient::Connect(args.Get("learner"), security));
  rollout::LearnerClient client(channel, args.Get("learner"), c.cluster().rpc_timeout_s(),
                                rpc::MakeCallCredentials(security));
  rollout::WorkerOptions wo;
  wo.worker_id = ao.worker_id;
  wo.prompts_per_lease = std::max(1, c.rollout().max_batch() / c.rollout().group_size());
  ASSIGN_OR_RETURN(double give_up, args.GetDouble("give-up-after"));
  wo.give_up_after_s = give_up;
  rollout::Worker worker(&client, &runner, &policy, wo);
  std::atomic<bool>& stop = StopFlagOnSignals();
  DSARL_LOG_INFO("rollout {}: connecting to {}", wo.worker_id, args.Get("learner"));
  absl::Status s = worker.Run(stop);
  const auto& st = worker.stats();
  const auto& es = runner.engine_stats();
  std::cout << absl::StrFormat(
      "rollout %s: %d groups submitted (%d stale, %d duplicate), %d leases returned, %d episodes, "
      "%.0f generated tokens/s, %.1f s generating, %d weight pulls\n",
      wo.worker_id, st.groups_submitted, st.groups_stale, st.groups_duplicate, st.leases_returned,
      es.episodes, es.generated_tokens / std::max(es.seconds, 1e-9), es.seconds, st.weight_pulls);
  RETURN_IF_ERROR(s);
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<model::Transformer>> StartingModel(const proto::JobConfig& c,
                                                                  const model::Tokenizer& tok) {
  if (!c.model().checkpoint().empty()) return model::LoadCheckpoint(c.model().checkpoint());
  ASSIGN_OR_RETURN(model::ModelDims dims, model::DimsForModel(c.model(), tok));
  auto m = std::make_unique<model::Transformer>(dims);
  m->InitRandom(c.seed());
  return m;
}

absl::StatusOr<std::string> RunSft(const proto::JobConfig& c, const std::string& data,
                                   const std::string& out_dir) {
  ASSIGN_OR_RETURN(const model::Tokenizer tok, model::TokenizerForModel(c.model()));
  ASSIGN_OR_RETURN(const model::ChatFormat format,
                   model::ParseChatFormat(c.model().chat_format(), "model.chat_format"));
  ASSIGN_OR_RETURN(auto policy, StartingModel(c, tok));
  std::vector<learner::TrainSample> samples;
  if (!data.empty()) {
    ASSIGN_OR_RETURN(samples,
                     learner::LoadConversations(data, policy->dims().max_pos, tok, format));
  } else {
    ASSIGN_OR_RETURN(auto store, OpenJobStore(c));
    RETURN_IF_ERROR(EnsureEnvironments(c, store.get()));
    ASSIGN_OR_RETURN(auto tasks, SelectTasks(c, *store, false, 0));
    ASSIGN_OR_RETURN(auto factory, envs::EnvFactory::Create(c.envs()));
    for (const auto& t : tasks) {
      auto s = learner::RenderSolution(t.prompt, t.env, factory.get(), tok, format);
      if (!s.ok()) {
        DSARL_LOG_WARN("sft: {}", std::string(s.status().message()));
        continue;
      }
      if (static_cast<int>(s->tokens.size()) <= policy->dims().max_pos)
        samples.push_back(std::move(*s));
    }
  }
  if (samples.empty()) return absl::FailedPreconditionError("sft: no training conversations");
  learner::TrainerOptions to;
  to.lr.peak = c.sft().lr();
  to.lr.total_steps = c.sft().steps();
  to.lr.warmup_steps = std::min(20, c.sft().steps() / 10);
  to.lr.min_ratio = 0.1;
  to.micro_batch_tokens = c.learner().micro_batch_tokens();
  learner::Trainer trainer(policy.get(), nullptr, to);
  learner::StageOptions so;
  so.stage = learner::LmStage::kSft;
  so.steps = c.sft().steps();
  so.batch_tokens = c.sft().batch_tokens();
  so.seed = c.seed();
  std::cout << absl::StrFormat("sft: %d conversations, %d steps\n", samples.size(), so.steps);
  ASSIGN_OR_RETURN(
      auto metrics,
      learner::RunLmStage(&trainer, samples, so, [&](const learner::StageStepMetrics& m) {
        if (m.step % 25 == 0 || m.step == so.steps) {
          std::cerr << absl::StrFormat("sft step %d/%d  loss %.4f\n", m.step, so.steps, m.lm_loss);
        }
      }));
  RETURN_IF_ERROR(model::SaveCheckpoint(out_dir, *policy, {{"stage", "sft"}}, tok));
  return out_dir;
}

absl::StatusOr<rollout::EvalReport> RunEval(const proto::JobConfig& c,
                                            const model::Transformer& policy, int k, int tasks) {
  ASSIGN_OR_RETURN(auto store, OpenJobStore(c));
  RETURN_IF_ERROR(EnsureEnvironments(c, store.get()));
  ASSIGN_OR_RETURN(auto list, SelectTasks(c, *store, true, tasks));
  if (list.empty()) return absl::FailedPreconditionError("eval: no held-out tasks in the store");
  ASSIGN_OR_RETURN(auto factory, envs::EnvFactory::Create(c.envs()));
  ASSIGN_OR_RETURN(auto composer, MakeComposer(c));
  rollout::AgentOptions ao = rollout::AgentOptionsFromConfig(c);
  ao.engine.sampling.temperature = c.eval().temperature();
  ao.engine.sampling.top_k = 0;
  ao.engine.sampling.top_p = 1;
  return rollout::EvaluatePolicy(policy, list, k, factory.get(), *composer, ao);
}

void RegisterJobCommands(CommandTable* table) {
  Command rollout{
      .name = "rollout",
      .summary = "run a rollout worker: lease prompts from a learner, generate groups, submit them",
      .description =
          "Rebuilds each leased task's environment, samples G episodes with the current\n"
          "policy (pulled from the learner when its version changes), scores them with\n"
          "the configured rewards and submits the group. Ctrl-C/SIGTERM returns the\n"
          "unfinished leases and exits. The learner knows the worker by its token (or\n"
          "client certificate): --worker-id only names it in logs (default: the token's\n"
          "name, else worker-PID). Given the job secret instead, it makes its own token.",
      .flags = {kConfig, kSet, FlagSpec{"learner", "learner address HOST:PORT", ""},
                FlagSpec{"worker-id", "name in logs (default: the token's name, or worker-PID)",
                         ""},
                FlagSpec{"give-up-after",
                         "exit after this long without the learner [s] (0 = never)", "0"}},
      .run = Rollout};
  for (FlagSpec& f : WorkerSecurityFlags()) rollout.flags.push_back(std::move(f));
  table->Add(std::move(rollout));
  table->Add(Command{
      .name = "sft",
      .summary = "supervised warm start on the tasks' reference solutions (or --data JSONL)",
      .description = "Renders every training task's reference solution in the chat format, tool\n"
                     "calls and tool results included, and trains on the assistant tokens only.\n"
                     "--data trains on your own conversations instead (format: docs/training.md).",
      .flags = {kConfig, kSet, FlagSpec{"data", "JSONL conversations", ""},
                FlagSpec{"out", "checkpoint directory (default OUTPUT_DIR/sft)", ""}},
      .run = [](const Args& args) -> absl::StatusOr<int> {
        ASSIGN_OR_RETURN(proto::JobConfig c, Config(args, JobRole::kSft));
        const std::string out = args.Get("out").empty() ? c.output_dir() + "/sft" : args.Get("out");
        ASSIGN_OR_RETURN(std::string dir, RunSft(c, args.Get("data"), out));
        std::cout << "wrote " << dir << "\n";
        return 0;
      }});
  table->Add(Command{.name = "eval",
                     .summary = "pass@1 and pass@k per category on held-out tasks, as a table",
                     .flags = {kConfig, kSet, FlagSpec{"checkpoint", "checkpoint directory", ""},
                               FlagSpec{"k", "samples per task (default eval.k)", ""},
                               FlagSpec{"tasks", "held-out tasks (default eval.num_tasks)", ""}},
                     .run = [](const Args& args) -> absl::StatusOr<int> {
                       ASSIGN_OR_RETURN(proto::JobConfig c, Config(args, JobRole::kEval));
                       if (args.Get("checkpoint").empty())
                         return absl::InvalidArgumentError("--checkpoint is required");
                       ASSIGN_OR_RETURN(auto policy, model::LoadCheckpoint(args.Get("checkpoint")));
                       ASSIGN_OR_RETURN(const model::Tokenizer tok,
                                        model::Tokenizer::ForCheckpoint(args.Get("checkpoint")));
                       RETURN_IF_ERROR(model::RequireByteTokenizer(tok, "dsarl eval"));
                       ASSIGN_OR_RETURN(const int k, EvalCount(args, "k", c.eval().k(), 1, 65536));
                       ASSIGN_OR_RETURN(const int n,
                                        EvalCount(args, "tasks", c.eval().num_tasks(), 0, 1000000));
                       ASSIGN_OR_RETURN(rollout::EvalReport r, RunEval(c, *policy, k, n));
                       std::cout << rollout::FormatEvalTable(r);
                       return 0;
                     }});
}

}  // namespace dsarl::cli
