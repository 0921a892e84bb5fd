#include "cli/job_check.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/memory_info.h"
#include "base/status_macros.h"
#include "cli/job_setup.h"
#include "envs/factory.h"
#include "envs/synthesis.h"
#include "model/checkpoint.h"
#include "model/memory_estimate.h"
#include "proto/rpc_security.h"
#include "rollout/agent_loop.h"

namespace dsarl::cli {
namespace {

namespace fs = std::filesystem;

// One job's checks: each failure or warning is "location: field: message".
struct Checker {
  const proto::JobConfig& c;
  const proto::ConfigLocations& where;
  JobRole role;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;

  void Fail(const std::string& field, absl::string_view msg) {
    errors.push_back(absl::StrCat(where.Of(field), ": ", field, ": ", msg));
  }
  void Warn(const std::string& field, absl::string_view msg) {
    warnings.push_back(absl::StrCat(where.Of(field), ": ", field, ": ", msg));
  }
  bool Runs(std::initializer_list<JobRole> roles) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  }
};

// `path` is a directory this process can write, or can be created: its nearest existing ancestor
// is a writable directory.
void CheckCreatableDir(Checker& k, const std::string& field, const std::string& path) {
  std::error_code ec;
  const fs::path p = fs::absolute(fs::path(path), ec);
  if (ec) return k.Fail(field, absl::StrCat("'", path, "' is not a usable path: ", ec.message()));
  fs::path dir = p;
  while (!fs::exists(dir, ec) && dir != dir.parent_path()) dir = dir.parent_path();
  if (!fs::is_directory(dir, ec)) {
    return k.Fail(field, absl::StrCat("'", dir.string(), "' is not a directory"));
  }
  // access() says yes to root everywhere, /proc included: make (and remove) a directory instead.
  std::string probe = (dir / ".dsarl-check-XXXXXX").string();
  if (mkdtemp(probe.data()) == nullptr) {
    return k.Fail(field, dir == p ? absl::StrCat("directory '", path, "' is not writable")
                                  : absl::StrCat("'", path, "' cannot be created: '", dir.string(),
                                                 "' is not writable"));
  }
  rmdir(probe.c_str());
}

void CheckReadableFile(Checker& k, const std::string& field, const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return k.Fail(field, absl::StrCat("'", path, "' is not a file"));
  }
  if (access(path.c_str(), R_OK) != 0) k.Fail(field, absl::StrCat("'", path, "' is not readable"));
}

void CheckPaths(Checker& k) {
  const proto::JobConfig& c = k.c;
  if (k.role != JobRole::kRollout) CheckCreatableDir(k, "output_dir", c.output_dir());
  if (!c.model().checkpoint().empty()) {
    CheckReadableFile(k, "model.checkpoint", c.model().checkpoint() + "/config.json");
    CheckReadableFile(k, "model.checkpoint", c.model().checkpoint() + "/model.safetensors");
  }
  if (!c.sft().data().empty() && k.Runs({JobRole::kRun, JobRole::kSft})) {
    CheckReadableFile(k, "sft.data", c.sft().data());
  }
  for (int i = 0; i < c.envs().plugin_paths_size(); ++i) {
    CheckReadableFile(k, absl::StrCat("envs.plugin_paths[", i, "]"), c.envs().plugin_paths(i));
  }
  const std::pair<const char*, const std::string*> files[] = {
      {"envs.remote_token_file", &c.envs().remote_token_file()},
      {"envs.remote_tls_ca", &c.envs().remote_tls_ca()},
      {"rewards.remote_token_file", &c.rewards().remote_token_file()},
      {"rewards.remote_tls_ca", &c.rewards().remote_tls_ca()},
  };
  for (const auto& [field, path] : files) {
    if (!path->empty()) CheckReadableFile(k, field, *path);
  }
}

void CheckAddresses(Checker& k) {
  const proto::JobConfig& c = k.c;
  if (k.Runs({JobRole::kRun, JobRole::kLearner})) {
    if (absl::Status s = rpc::ValidateAddress(c.cluster().learner_listen(), true); !s.ok()) {
      k.Fail("cluster.learner_listen", s.message());
    }
  }
  if (k.role == JobRole::kRun && c.cluster().learner_world_size() > 1) {
    k.Fail("cluster.learner_world_size",
           absl::StrCat(c.cluster().learner_world_size(),
                        " learner ranks need a launcher: `dsarl run` trains on one; start the "
                        "ranks with `dsarl learner` under torchrun-style variables or Slurm "
                        "(configs/slurm/, docs/training.md 'Clusters')"));
  }
  for (int i = 0; i < c.envs().remote_addresses_size(); ++i) {
    if (absl::Status s = rpc::ValidateAddress(c.envs().remote_addresses(i), false); !s.ok()) {
      k.Fail(absl::StrCat("envs.remote_addresses[", i, "]"), s.message());
    }
  }
  for (int i = 0; i < c.rewards().remote_addresses_size(); ++i) {
    if (absl::Status s = rpc::ValidateAddress(c.rewards().remote_addresses(i), false); !s.ok()) {
      k.Fail(absl::StrCat("rewards.remote_addresses[", i, "]"), s.message());
    }
  }
}

// Category names against the registry (built-ins, plugins, remote servers); null when the
// environments cannot be set up at all (that failure is recorded).
std::unique_ptr<envs::EnvFactory> CheckCategories(Checker& k) {
  const proto::EnvsConfig& e = k.c.envs();
  auto factory = envs::EnvFactory::Create(e);
  if (!factory.ok()) {
    absl::string_view msg = factory.status().message();
    if (absl::ConsumePrefix(&msg, "envs.sandbox_min_level: ")) {
      k.Fail("envs.sandbox_min_level", msg);
    } else {
      k.Fail(e.plugin_paths_size() > 0 ? "envs.plugin_paths" : "envs", msg);
    }
    return nullptr;
  }
  std::vector<std::string> known;
  for (const envs::Category* cat : (*factory)->registry().All()) known.push_back(cat->name);
  std::set<std::string> seen;
  for (int i = 0; i < e.categories_size(); ++i) {
    const std::string field = absl::StrCat("envs.categories[", i, "]");
    const std::string& name = e.categories(i);
    if (name.empty()) {
      k.Fail(field, "is empty (two commas in a row in a list?)");
    } else if (!seen.insert(name).second) {
      k.Fail(field, absl::StrCat("'", name, "' is listed twice"));
    } else if ((*factory)->registry().Find(name) == nullptr) {
      k.Fail(field,
             absl::StrCat("no category '", name, "' is registered",
                          e.remote_addresses_size() > 0 ? " (nor served by a remote server)" : "",
                          "; known: ", absl::StrJoin(known, ", ")));
    }
  }
  return std::move(*factory);
}

// A job whose rollouts may run code (a code category, or every category) needs a sandbox at
// envs.sandbox_min_level here.
void CheckSandbox(Checker& k, const envs::EnvFactory& factory) {
  if (!k.Runs({JobRole::kRun, JobRole::kRollout, JobRole::kEval})) return;
  const proto::EnvsConfig& e = k.c.envs();
  absl::StatusOr<envs::SandboxPolicy> policy = envs::SandboxPolicyOf(e);
  if (!policy.ok()) return k.Fail("envs.sandbox_min_level", policy.status().message());
  bool runs_code = false;
  for (const envs::Category* cat : factory.registry().All()) {
    const bool chosen =
        e.categories_size() == 0 ||
        std::find(e.categories().begin(), e.categories().end(), cat->name) != e.categories().end();
    runs_code = runs_code || (chosen && cat->kind == envs::CategoryKind::kCode);
  }
  if (!runs_code) return;
  envs::SetSandboxPolicy(*policy);
  if (absl::Status s = envs::CheckSandboxLevel(policy->min_level); !s.ok()) {
    k.Fail("envs.sandbox_min_level", s.message());
  }
}

void CheckRewards(Checker& k) {
  if (auto composer = MakeComposer(k.c); !composer.ok()) {
    k.Fail(k.c.rewards().components_size() > 0 ? "rewards.components" : "rewards",
           composer.status().message());
  }
}

absl::StatusOr<model::ModelDims> JobDims(const proto::JobConfig& c) {
  if (c.model().checkpoint().empty()) return model::DimsFromConfig(c.model());
  return model::ReadCheckpointDims(c.model().checkpoint());
}

// The prompts the job will train and evaluate on: those in the store when it has any, else the
// ones synthesis will make (synthesized here in memory when `synthesize`; nothing is written).
absl::StatusOr<std::vector<proto::Prompt>> JobPrompts(const proto::JobConfig& c,
                                                      const envs::EnvFactory& factory,
                                                      bool synthesize) {
  std::vector<proto::Prompt> prompts;
  std::error_code ec;
  const bool in_store = fs::exists(fs::path(c.output_dir()) / "store" / "CURRENT", ec);
  if (!in_store && !synthesize) return prompts;
  if (in_store) {
    ASSIGN_OR_RETURN(auto store, OpenJobStore(c, /*read_only=*/true));
    if (store->Counts().envs() > 0) {
      ASSIGN_OR_RETURN(std::vector<rollout::EvalTask> train, SelectTasks(c, *store, false, 0));
      ASSIGN_OR_RETURN(std::vector<rollout::EvalTask> held, SelectTasks(c, *store, true, 0));
      for (auto* tasks : {&train, &held}) {
        for (rollout::EvalTask& t : *tasks) prompts.push_back(std::move(t.prompt));
      }
      return prompts;
    }
  }
  ASSIGN_OR_RETURN(envs::SynthesisResult r,
                   envs::Synthesize(factory.registry(), SynthesisOptionsOf(c)));
  return std::move(r.prompts);
}

// Tasks to train on exist, and the longest prompt plus rollout.max_new_tokens fits the context.
void CheckPrompts(Checker& k, const envs::EnvFactory& factory, const model::ModelDims& dims,
                  bool synthesize, JobCheckReport* report) {
  if (!k.Runs({JobRole::kRun, JobRole::kLearner, JobRole::kSft, JobRole::kEval})) return;
  // The learner does not synthesize: without a store it stops with its own message.
  auto prompts = JobPrompts(k.c, factory, synthesize && k.role != JobRole::kLearner);
  if (!prompts.ok()) return k.Fail("envs", prompts.status().message());
  if (prompts->empty() && (k.role == JobRole::kLearner || !synthesize)) return;
  int longest = 0, training = 0, heldout = 0;
  for (const proto::Prompt& p : *prompts) {
    auto tokens = rollout::PromptTokens(p);
    if (!tokens.ok()) return k.Fail("envs", tokens.status().message());
    longest = std::max<int>(longest, tokens->size());
    ++(p.heldout() ? heldout : training);
  }
  report->longest_prompt_tokens = longest;
  if (training == 0 && k.role != JobRole::kEval) {
    k.Fail("envs", absl::StrCat("the configured categories and difficulties give no tasks to train "
                                "on (",
                                heldout, " held out; envs.heldout_fraction is ",
                                k.c.envs().heldout_fraction(), ")"));
  }
  if (heldout == 0 && k.c.eval().num_tasks() > 0 && k.Runs({JobRole::kRun, JobRole::kEval})) {
    k.Warn("eval.num_tasks",
           "no task is held out (envs.heldout_fraction), so nothing is evaluated");
  }
  const int max_new = k.c.rollout().max_new_tokens();
  if (longest + max_new > dims.max_pos) {
    k.Fail("model.max_position_embeddings",
           absl::StrCat("the context of ", dims.max_pos, " tokens cannot hold the longest prompt (",
                        longest, " tokens) plus rollout.max_new_tokens (", max_new,
                        "); it needs at least ", longest + max_new));
  }
}

// What the role's processes need together, against this machine (or cluster.memory_limit_mb).
void CheckMemory(Checker& k, const model::ModelDims& dims, JobCheckReport* report) {
  const proto::JobConfig& c = k.c;
  const int64_t episode = std::min<int64_t>(
      dims.max_pos, int64_t{report->longest_prompt_tokens} + c.rollout().max_new_tokens());
  const int64_t train_tokens = std::max<int64_t>(c.learner().micro_batch_tokens(), episode);
  // Each process also holds its threads' stacks, gRPC and the BLAS library's buffers.
  constexpr double kProcessBytes = 128.0 * (1 << 20);
  model::MemoryEstimate learner =
      model::TrainingMemory(dims, train_tokens, c.learner().kl_coef() > 0);
  learner.Add(
      "store caches",
      double(c.store().block_cache_mb() + 3 * c.store().write_buffer_mb() + 64) * (1 << 20));
  learner.Add("runtime", kProcessBytes);
  model::MemoryEstimate worker =
      model::GenerationMemory(dims, c.rollout().max_batch(), dims.max_pos);
  worker.Add("runtime", kProcessBytes);
  model::MemoryEstimate sft = model::TrainingMemory(
      dims, std::max<int64_t>(c.sft().batch_tokens(), episode), /*reference_model=*/false);
  sft.Add("runtime", kProcessBytes);
  // `dsarl run` evaluates in the learner's process, before and after training.
  model::MemoryEstimate run_process = learner;
  if (c.eval().num_tasks() > 0) {
    run_process.Append(
        model::GenerationMemory(
            dims, std::min(c.rollout().max_batch(), c.eval().num_tasks() * c.eval().k()),
            dims.max_pos),
        "evaluation ");
  }
  std::vector<std::string> lines;
  double total = 0;
  auto add = [&](const std::string& who, const model::MemoryEstimate& m, int copies) {
    lines.push_back(absl::StrCat(who, ": ", m.Describe()));
    total += copies * m.total();
  };
  switch (k.role) {
    case JobRole::kRun:
      add("learner", run_process, 1);
      add(absl::StrCat(c.rollout().num_workers(), " rollout worker(s), each"), worker,
          c.rollout().num_workers());
      break;
    case JobRole::kLearner:
    case JobRole::kLearnerRank:
      add("learner", learner, 1);
      break;
    case JobRole::kRollout:
    case JobRole::kEval:
      add("rollout worker", worker, 1);
      break;
    case JobRole::kSft:
      add("sft", sft, 1);
      break;
  }
  const MemoryInfo info = ReadMemoryInfo();
  const bool configured = c.cluster().memory_limit_mb() > 0;
  const double limit =
      configured ? double(c.cluster().memory_limit_mb()) * (1 << 20) : double(info.limit_bytes);
  report->memory = absl::StrJoin(lines, "\n  ");
  report->memory_bytes = total;
  report->memory_limit_bytes = limit;
  const std::string allows = configured
                                 ? "cluster.memory_limit_mb allows"
                                 : absl::StrCat("this machine (", info.limit_source, ") allows");
  if (total > limit) {
    k.Fail("model", absl::StrCat("the job needs about ", FormatBytes(total), " of memory and ",
                                 allows, " ", FormatBytes(limit), " [", absl::StrJoin(lines, "; "),
                                 "]; use a smaller model, fewer rollout.num_workers or a smaller "
                                 "rollout.max_batch or learner.micro_batch_tokens"));
  } else if (total > 0.8 * limit || (!configured && total > double(info.available_bytes))) {
    k.Warn("model", absl::StrCat("the job needs about ", FormatBytes(total),
                                 " of memory, near the ", FormatBytes(limit), " ", allows, " (",
                                 FormatBytes(double(info.available_bytes)), " free now)"));
  }
}

}  // namespace

absl::Status CheckJob(const proto::LoadedJobConfig& job, JobRole role, JobCheckReport* report,
                      bool synthesize) {
  Checker k{job.config, job.locations, role, {}, {}};
  CheckPaths(k);
  CheckAddresses(k);
  auto dims = JobDims(job.config);
  if (!dims.ok())
    k.Fail(job.config.model().checkpoint().empty() ? "model" : "model.checkpoint",
           dims.status().message());
  // Plugins are loaded only from files that exist (a missing one is already reported).
  const bool plugins_ok = std::none_of(k.errors.begin(), k.errors.end(), [](const std::string& e) {
    return e.find("envs.plugin_paths") != std::string::npos;
  });
  std::unique_ptr<envs::EnvFactory> factory = plugins_ok ? CheckCategories(k) : nullptr;
  if (factory != nullptr) CheckSandbox(k, *factory);
  CheckRewards(k);
  const bool names_ok = k.errors.empty();
  if (dims.ok() && factory != nullptr && names_ok) {
    CheckPrompts(k, *factory, *dims, synthesize, report);
  }
  if (dims.ok()) CheckMemory(k, *dims, report);
  report->warnings = k.warnings;
  if (k.errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(k.errors, "\n"));
}

absl::Status CheckJobPrompts(const proto::LoadedJobConfig& job, JobRole role) {
  Checker k{job.config, job.locations, role, {}, {}};
  ASSIGN_OR_RETURN(model::ModelDims dims, JobDims(job.config));
  ASSIGN_OR_RETURN(auto factory, envs::EnvFactory::Create(job.config.envs()));
  JobCheckReport report;
  CheckPrompts(k, *factory, dims, /*synthesize=*/false, &report);
  for (const std::string& w : k.warnings) std::cerr << "warning: " << w << "\n";
  if (k.errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(k.errors, "\n"));
}

absl::StatusOr<proto::LoadedJobConfig> LoadCheckedJob(const std::string& path,
                                                      const std::vector<std::string>& overrides,
                                                      JobRole role, bool synthesize) {
  ASSIGN_OR_RETURN(proto::LoadedJobConfig job, proto::LoadJobConfigWithLocations(path, overrides));
  JobCheckReport report;
  absl::Status s = CheckJob(job, role, &report, synthesize);
  for (const std::string& w : report.warnings) std::cerr << "warning: " << w << "\n";
  RETURN_IF_ERROR(s);
  return job;
}

absl::StatusOr<proto::JobConfig> LoadCheckedJobConfig(const std::string& path,
                                                      const std::vector<std::string>& overrides,
                                                      JobRole role) {
  ASSIGN_OR_RETURN(proto::LoadedJobConfig job, LoadCheckedJob(path, overrides, role, true));
  return std::move(job.config);
}

}  // namespace dsarl::cli
