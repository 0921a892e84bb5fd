// `dsarl run --config X`: the whole job on this machine. Synthesizes the environments (once), runs
// the SFT warm start (once), evaluates the held-out tasks, starts the learner in this process and
// N rollout workers as child processes, supervises them (a dead worker is restarted), and
// evaluates again at the end. Ctrl-C stops cleanly; the same command resumes.
#include <sys/resource.h>
#include <sys/wait.h>
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
#include "cli/job_setup.h"
#include "cli/signals.h"
#include "learner/learner_job.h"
#include "model/backend.h"
#include "model/checkpoint.h"
#include "proto/config_loader.h"
#include "proto/rpc_security.h"

namespace dsarl::cli {
namespace {

// Peak resident set of a process from /proc/PID/status (VmHWM), in MiB; 0 when unreadable.
double PeakRssMiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

std::string SelfExe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "dsarl" : p.string();
}

struct WorkerProc {
  pid_t pid = -1;
  int restarts = 0;
  double peak_rss_mib = 0;
};

// How `dsarl run` starts a worker: the same config and overrides, the learner's port, a log file
// per worker under the output directory, and its own token of the job's secret in its environment
// (DSARL_TOKEN: not on its command line, where ps would show it to every user).
struct WorkerLaunch {
  std::string config_path;
  std::vector<std::string> sets;
  int port = 0;
  std::string output_dir;
  std::string job_secret;

  // Forks and execs worker `index`; returns its pid (-1 when fork fails).
  pid_t Spawn(int index) const;
};

// This process's environment without DSARL_TOKEN(_FILE), plus DSARL_TOKEN=`token`.
std::vector<std::string> WorkerEnvironment(const std::string& token) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view v(*e);
    if (v.rfind("DSARL_TOKEN=", 0) == 0 || v.rfind("DSARL_TOKEN_FILE=", 0) == 0) continue;
    env.emplace_back(v);
  }
  env.push_back("DSARL_TOKEN=" + token);
  return env;
}

pid_t WorkerLaunch::Spawn(int index) const {
  const std::string log_path = absl::StrCat(output_dir, "/worker-", index, ".log");
  // Everything the child needs is made before fork: the parent has threads.
  std::vector<std::string> env =
      WorkerEnvironment(rpc::WorkerToken(job_secret, absl::StrCat("worker-", index)).value());
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: its own log file, then exec the worker.
  FILE* log = std::fopen(log_path.c_str(), "a");
  if (log != nullptr) {
    dup2(fileno(log), STDOUT_FILENO);
    dup2(fileno(log), STDERR_FILENO);
  }
  std::vector<std::string> argv = {SelfExe(),         "rollout",
                                   "--config",        config_path,
                                   "--learner",       absl::StrCat("127.0.0.1:", port),
                                   "--worker-id",     absl::StrCat("worker-", index),
                                   "--give-up-after", "120"};
  for (const auto& s : sets) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  execve(cargv[0], cargv.data(), cenv.data());
  _exit(127);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The stages GRPO starts from, each done once per output directory: the environments, and the SFT
// warm start, whose checkpoint then becomes the model (in `c`, and in `sets` for the workers).
absl::Status PrepareEnvsAndModel(proto::JobConfig* c, std::vector<std::string>* sets) {
  std::filesystem::create_directories(c->output_dir());
  {
    ASSIGN_OR_RETURN(auto store, OpenJobStore(*c));
    RETURN_IF_ERROR(EnsureEnvironments(*c, store.get()));
  }
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

// Restarts the workers that died while the learner still needs them, until it is done.
void SuperviseWorkers(const WorkerLaunch& launch, const std::atomic<bool>& stop,
                      const std::atomic<bool>& learner_done, std::vector<WorkerProc>* workers) {
  while (!learner_done.load()) {
    for (size_t i = 0; i < workers->size(); ++i) {
      WorkerProc& w = (*workers)[i];
      w.peak_rss_mib = std::max(w.peak_rss_mib, PeakRssMiB(w.pid));
      int status = 0;
      if (waitpid(w.pid, &status, WNOHANG) == w.pid) {
        if (stop.load() || learner_done.load()) continue;
        DSARL_LOG_WARN("worker {} (pid {}) exited ({}); restarting", i, w.pid,
                       WIFSIGNALED(status) ? absl::StrCat("signal ", WTERMSIG(status))
                                           : absl::StrCat("status ", WEXITSTATUS(status)));
        ++w.restarts;
        w.pid = launch.Spawn(i);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Workers see "finished" on their next lease; on Ctrl-C they got the signal too. Gives them a
// moment, then makes sure.
void StopWorkers(const std::atomic<bool>& stop, std::vector<WorkerProc>* workers) {
  for (WorkerProc& w : *workers) {
    if (stop.load()) kill(w.pid, SIGTERM);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (WorkerProc& w : *workers) {
    int status;
    while (waitpid(w.pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(w.pid, SIGKILL);
        waitpid(w.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

// Runs the learner in this process and the workers as children until the learner returns, then
// stops the workers. Returns the learner's status.
absl::Status TrainWithWorkers(learner::LearnerJob* job, const WorkerLaunch& launch,
                              const std::atomic<bool>& stop, std::vector<WorkerProc>* workers) {
  for (size_t i = 0; i < workers->size(); ++i) (*workers)[i].pid = launch.Spawn(i);
  std::atomic<bool> learner_done{false};
  absl::Status learner_status;
  std::thread learner([&] {
    learner_status = job->Run(stop);
    learner_done = true;
  });
  SuperviseWorkers(launch, stop, learner_done, workers);
  learner.join();
  StopWorkers(stop, workers);
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
  ASSIGN_OR_RETURN(proto::JobConfig c, proto::LoadJobConfig(args.Get("config"), sets));
  std::atomic<bool>& stop = StopFlagOnSignals();
  const auto t_start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(PrepareEnvsAndModel(&c, &sets));
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
  const WorkerLaunch launch{args.Get("config"), sets, job->port(), c.output_dir(),
                            lo.security.job_secret};
  std::vector<WorkerProc> workers(c.rollout().num_workers());
  RETURN_IF_ERROR(TrainWithWorkers(job.get(), launch, stop, &workers));
  const std::string report = ResourceReport(*job, workers, SecondsSince(t_start));
  std::cout << report << "\n";
  summary << report << "\n";
  if (stop.load()) {
    std::cout << "stopped; run the same command to resume\n";
    return 130;
  }
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
          "Synthesizes the configured environments into OUTPUT_DIR/store (once), runs the SFT "
          "warm\n"
          "start (once; OUTPUT_DIR/sft), evaluates held-out pass@1, starts the learner and\n"
          "rollout.num_workers worker processes on loopback (a dead worker is restarted),\n"
          "trains, and evaluates again. Each job makes a fresh secret (OUTPUT_DIR/job.secret,\n"
          "mode 0600) and gives each worker its own token of it: nothing else on the machine\n"
          "can call the learner. Progress on stderr; metrics in OUTPUT_DIR/metrics.jsonl\n"
          "and OUTPUT_DIR/tensorboard. Ctrl-C stops cleanly; the same command resumes.",
      .flags = {FlagSpec{"config", "job config", ""},
                FlagSpec{"set", "override a config field: path.to.field=value", "", false, true}},
      .run = Run});
}

}  // namespace dsarl::cli
