// `dsarl run --config X`: the whole job on this machine. Synthesizes the environments (once), runs
// the SFT warm start (once), evaluates the held-out tasks, starts the learner in this process and
// N rollout workers as child processes, supervises them (cli/supervisor.h: a dead worker is
// restarted, one that keeps failing stops the run; cli/worker_spawn.h: workers die with this
// process), and evaluates again at the end. A run that trained no tokens fails. Ctrl-C stops
// cleanly; the same command resumes.
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string_view>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/job_check.h"
#include "cli/job_setup.h"
#include "cli/signals.h"
#include "cli/supervisor.h"
#include "cli/worker_spawn.h"
#include "learner/learner_job.h"
#include "model/backend.h"
#include "model/checkpoint.h"
#include "model/tokenizer_config.h"
#include "proto/config_loader.h"
#include "proto/rpc_security.h"

namespace dsarl::cli {
namespace {

// The binary workers run: this process's own, through /proc/self/exe, so that rebuilding or
// upgrading dsarl while a run goes on (the path then names a deleted file, or a newer binary)
// still starts workers of the same version as their learner.
std::string SelfExe() {
  std::error_code ec;
  return std::filesystem::exists("/proc/self/exe", ec) ? "/proc/self/exe" : "dsarl";
}

// This process's environment without DSARL_TOKEN(_FILE) and the lifeline's variables (the
// supervisor adds each worker's own), plus DSARL_TOKEN=`token`.
std::vector<std::string> WorkerEnvironment(const std::string& token) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view v(*e);
    const std::string_view name = v.substr(0, v.find('='));
    if (name == "DSARL_TOKEN" || name == "DSARL_TOKEN_FILE" || name == kParentPidEnv ||
        name == kParentFdEnv) {
      continue;
    }
    env.emplace_back(v);
  }
  env.push_back("DSARL_TOKEN=" + token);
  return env;
}

// How `dsarl run` starts a worker: the same config and overrides, the learner's port, a log file
// per worker under the output directory, and its own token of the job's secret in its environment
// (DSARL_TOKEN: not on its command line, where ps would show it to every user).
struct WorkerLaunch {
  std::string exe;
  std::string config_path;
  std::vector<std::string> sets;
  int port = 0;
  std::string output_dir;
  std::vector<std::string> tokens;  // one per worker

  // Everything worker `index` is started with, made before it is spawned.
  SpawnSpec Spec(int index) const {
    const std::string id = absl::StrCat("worker-", index);
    SpawnSpec spec;
    spec.argv = {exe,           "rollout",   "--config",
                 config_path,   "--learner", absl::StrCat("127.0.0.1:", port),
                 "--worker-id", id,          "--give-up-after",
                 "120"};
    for (const auto& s : sets) {
      spec.argv.push_back("--set");
      spec.argv.push_back(s);
    }
    spec.env = WorkerEnvironment(tokens[index]);
    spec.log_path = absl::StrCat(output_dir, "/", id, ".log");
    return spec;
  }
};

absl::StatusOr<WorkerLaunch> MakeLaunch(const std::string& config_path,
                                        const std::vector<std::string>& sets, int port,
                                        const proto::JobConfig& c, const std::string& secret) {
  WorkerLaunch launch{SelfExe(), config_path, sets, port, c.output_dir(), {}};
  for (int i = 0; i < c.rollout().num_workers(); ++i) {
    ASSIGN_OR_RETURN(std::string token, rpc::WorkerToken(secret, absl::StrCat("worker-", i)));
    launch.tokens.push_back(std::move(token));
  }
  return launch;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The stages GRPO starts from, each done once per output directory: the environments, and the SFT
// warm start, whose checkpoint then becomes the model (in `c`, and in `sets` for the workers).
absl::Status PrepareEnvsAndModel(const proto::LoadedJobConfig& job, proto::JobConfig* c,
                                 std::vector<std::string>* sets) {
  std::error_code ec;
  std::filesystem::create_directories(c->output_dir(), ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("output_dir '", c->output_dir(), "': cannot create it: ", ec.message()));
  }
  {
    ASSIGN_OR_RETURN(auto store, OpenJobStore(*c));
    RETURN_IF_ERROR(EnsureEnvironments(*c, store.get()));
  }
  // The prompt checks the config check made before synthesis could not (cli/job_check.h).
  RETURN_IF_ERROR(CheckJobPrompts(job, JobRole::kRun));
  // SFT warm start, once: later runs reuse its checkpoint.
  if (c->sft().steps() > 0 && c->model().checkpoint().empty()) {
    const std::string sft_dir = c->output_dir() + "/sft";
    if (!std::filesystem::exists(sft_dir + "/model.safetensors")) {
      std::cout << "== SFT warm start" << std::endl;
      RETURN_IF_ERROR(RunSft(*c, c->sft().data(), sft_dir).status());
    }
    sets->push_back("model.checkpoint=" + sft_dir);
    c->mutable_model()->set_checkpoint(sft_dir);
  }
  return absl::OkStatus();
}

// The held-out evaluation before RL, once: its table and pass@1 go to `before_path`.
absl::Status EvaluateBefore(const proto::JobConfig& c, const std::string& before_path) {
  if (c.eval().num_tasks() <= 0 || std::filesystem::exists(before_path)) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto start_model, StartingModel(c));
  std::cout << "== held-out evaluation before RL" << std::endl;
  ASSIGN_OR_RETURN(rollout::EvalReport before,
                   RunEval(c, *start_model, c.eval().k(), c.eval().num_tasks()));
  const std::string table = rollout::FormatEvalTable(before);
  std::cout << table << std::flush;
  std::ofstream(before_path) << table << "pass@1 " << before.all.pass_at_1 << "\n";
  return absl::OkStatus();
}

// Runs the learner on a thread and supervises the workers on this one (the thread that spawns
// them must outlive them: cli/worker_spawn.h) until the learner returns. A signal, or a worker
// the supervisor gives up on, stops the learner, which checkpoints. Then stops the workers: they
// see "finished" on their next lease; otherwise (and on Ctrl-C, where they got the signal too)
// they are sent SIGTERM. Returns the supervisor's error when it gave up, else the learner's status.
absl::Status TrainWithWorkers(learner::LearnerJob* job, Supervisor* supervisor,
                              const std::atomic<bool>& stop) {
  std::atomic<bool> learner_stop{false};
  std::atomic<bool> learner_done{false};
  absl::Status learner_status;
  std::thread learner([&] {
    learner_status = job->Run(learner_stop);
    learner_done = true;
  });
  absl::Status workers_status;
  while (!learner_done.load()) {
    if (stop.load()) {
      learner_stop = true;
    } else if (workers_status.ok()) {
      workers_status = supervisor->Poll();
      if (!workers_status.ok()) {
        DSARL_LOG_ERROR("run: a worker keeps failing; stopping the learner");
        learner_stop = true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  learner.join();
  supervisor->Stop(/*terminate=*/stop.load() || !workers_status.ok() || !learner_status.ok(),
                   /*grace_s=*/15);
  if (!workers_status.ok()) {
    return absl::Status(
        workers_status.code(),
        absl::StrCat(workers_status.message(), "\nThe learner checkpointed at step ", job->step(),
                     "; once the cause is fixed, the same command resumes."));
  }
  return learner_status;
}

// One line: steps, time, and the peak memory of the learner and of each worker.
std::string ResourceReport(const learner::LearnerJob& job, const std::vector<WorkerProc>& workers,
                           double elapsed_s) {
  struct rusage self {};
  getrusage(RUSAGE_SELF, &self);
  const double learner_rss = self.ru_maxrss / 1024.0;
  double train_s = 0;
  for (const auto& h : job.history()) train_s += h.at("time/step_s");
  std::string report =
      absl::StrFormat("run: %d steps in %.0f s (training %.0f s); peak RSS learner %.0f MiB",
                      job.step(), elapsed_s, train_s, learner_rss);
  for (size_t i = 0; i < workers.size(); ++i) {
    report += absl::StrFormat(", worker-%d %.0f MiB (%d restarts)", i, workers[i].peak_rss_mib,
                              workers[i].restarts);
  }
  return report;
}

// The held-out evaluation after RL, and the change in pass@1 since the one before.
absl::Status EvaluateAfter(const proto::JobConfig& c, const model::Transformer& policy,
                           const std::string& before_path,
                           std::chrono::steady_clock::time_point start, std::ostream* summary) {
  std::cout << "== held-out evaluation after RL" << std::endl;
  ASSIGN_OR_RETURN(rollout::EvalReport after,
                   RunEval(c, policy, c.eval().k(), c.eval().num_tasks()));
  const std::string table = rollout::FormatEvalTable(after);
  std::cout << table;
  std::ifstream bin(before_path);
  std::string before_text((std::istreambuf_iterator<char>(bin)), std::istreambuf_iterator<char>());
  double before_p1 = 0;
  if (auto at = before_text.rfind("pass@1 "); at != std::string::npos) {
    before_p1 = std::stod(before_text.substr(at + 7));
  }
  const std::string line = absl::StrFormat(
      "held-out pass@1: %.1f%% before RL -> %.1f%% after (%+.1f points); total %.0f s",
      100 * before_p1, 100 * after.all.pass_at_1, 100 * (after.all.pass_at_1 - before_p1),
      SecondsSince(start));
  std::cout << line << "\n";
  *summary << table << line << "\n";
  return absl::OkStatus();
}

absl::StatusOr<int> Run(const Args& args) {
  if (args.Get("config").empty()) return absl::InvalidArgumentError("--config is required");
  std::vector<std::string> sets = args.GetAll("set");
  ASSIGN_OR_RETURN(const proto::LoadedJobConfig loaded,
                   LoadCheckedJob(args.Get("config"), sets, JobRole::kRun, /*synthesize=*/false));
  proto::JobConfig c = loaded.config;
  {
    ASSIGN_OR_RETURN(const model::Tokenizer tok, model::TokenizerForModel(c.model()));
    RETURN_IF_ERROR(model::RequireByteTokenizer(tok, "dsarl run"));
    RETURN_IF_ERROR(model::RequireSpecChatFormat(c.model(), "dsarl run"));
  }
  std::atomic<bool>& stop = StopFlagOnSignals();
  const auto t_start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(PrepareEnvsAndModel(loaded, &c, &sets));
  std::ofstream summary(c.output_dir() + "/summary.txt", std::ios::app);
  const std::string before_path = c.output_dir() + "/eval_before.txt";
  RETURN_IF_ERROR(EvaluateBefore(c, before_path));
  // The learner in this process; workers as children.
  std::cout << "== GRPO" << std::endl;
  model::SetCpuThreads(LearnerThreads(c));
  learner::LearnerJobOptions lo;
  lo.listen = "127.0.0.1:0";
  // A fresh secret per job: a worker of an earlier run (or anyone else on the machine) is refused.
  lo.security.job_secret = rpc::NewJobSecret();
  RETURN_IF_ERROR(rpc::WriteSecretFile(c.output_dir() + "/job.secret", lo.security.job_secret));
  ASSIGN_OR_RETURN(auto job, learner::LearnerJob::Create(c, lo));
  ASSIGN_OR_RETURN(WorkerLaunch launch,
                   MakeLaunch(args.Get("config"), sets, job->port(), c, lo.security.job_secret));
  SupervisorOptions so;
  so.max_failures = c.rollout().max_worker_failures();
  so.failure_window_s = c.rollout().worker_failure_window_s();
  // The supervisor reaped the worker, so its process is gone: its leases go back at once (the
  // restarted worker has the same identity, and the per-worker cap would count them).
  learner::LearnerState* state = job->state();
  auto give_back_leases = [state](int i) {
    const std::string id = absl::StrCat("worker-", i);
    const int n = state->ReturnAllLeases(id);
    if (n > 0) DSARL_LOG_INFO("run: {} leases of {} went back to the queue", n, id);
  };
  ASSIGN_OR_RETURN(auto supervisor,
                   Supervisor::Start(
                       c.rollout().num_workers(), [launch](int i) { return launch.Spec(i); }, so,
                       give_back_leases));
  const absl::Status trained = TrainWithWorkers(job.get(), supervisor.get(), stop);
  const std::string report = ResourceReport(*job, supervisor->workers(), SecondsSince(t_start));
  std::cout << report << "\n";
  summary << report << "\n";
  RETURN_IF_ERROR(trained);
  if (stop.load()) {
    std::cout << "stopped; run the same command to resume\n";
    return 130;
  }
  // A run that trained nothing (every episode an infrastructure error, say) is not a success.
  RETURN_IF_ERROR(job->CheckLearned());
  // The evaluation opens the store itself: keep the trained weights and close the learner first.
  auto final_policy = std::make_unique<model::Transformer>(job->policy().dims());
  std::copy_n(job->policy().params(), job->policy().table().total_floats(), final_policy->params());
  job.reset();
  model::SetCpuThreads(std::max(1u, std::thread::hardware_concurrency()));
  if (c.eval().num_tasks() > 0) {
    RETURN_IF_ERROR(EvaluateAfter(c, *final_policy, before_path, t_start, &summary));
  }
  return 0;
}

}  // namespace

void RegisterRunCommand(CommandTable* table) {
  table->Add(Command{
      .name = "run",
      .summary = "run a whole job on this machine: synthesize, SFT, evaluate, GRPO, evaluate",
      .description =
          "Synthesizes the configured environments into OUTPUT_DIR/store (once), runs the SFT\n"
          "warm start (once; OUTPUT_DIR/sft), evaluates held-out pass@1, starts the learner and\n"
          "rollout.num_workers worker processes on loopback, trains, and evaluates again.\n"
          "A worker that exits is restarted; one that fails rollout.max_worker_failures times\n"
          "within rollout.worker_failure_window_s stops the run (exit 1) with the last lines\n"
          "of its log, OUTPUT_DIR/worker-I.log. Workers exit when this process dies, however\n"
          "it dies. A run that trains no tokens (every episode an infrastructure error, say)\n"
          "exits 1 and says why. Each job makes a fresh secret (OUTPUT_DIR/job.secret, mode\n"
          "0600) and gives each worker its own token of it: nothing else on the machine can\n"
          "call the learner. Progress on stderr; metrics in OUTPUT_DIR/metrics.jsonl and\n"
          "OUTPUT_DIR/tensorboard. Ctrl-C stops cleanly; the same command resumes.",
      .flags = {FlagSpec{"config", "job config", ""},
                FlagSpec{"set", "override a config field: path.to.field=value", "", false, true}},
      .run = Run});
}

}  // namespace dsarl::cli
