// Synthesis (synthesis.h): plan specs, make and check tasks per environment in parallel, merge in
// order, deduplicate, number, digest.
#include "envs/synthesis.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace dsarl::envs {
namespace {

// A task's identity for deduplication: what the model is shown.
uint64_t TaskKey(const Task& task) {
  uint64_t h = HashString(task.system);
  h = Mix64(h ^ HashString(task.user));
  for (const proto::ToolSpec& t : task.tools) h = Mix64(h ^ HashString(t.name()));
  return h;
}

struct MadeTask {
  uint64_t key;
  proto::Prompt prompt;
};

struct EnvOutput {
  std::vector<int> targets;                 // tasks wanted per level (index: level - min level)
  std::vector<std::vector<MadeTask>> made;  // checked tasks per level, spares included
  int64_t failed = 0;
  std::vector<std::string> failures;
};

// Runs `work(i)` for i in [0, n) on `threads` threads.
void ParallelFor(int64_t n, int threads, const std::function<void(int64_t)>& work) {
  std::atomic<int64_t> next{0};
  auto loop = [&] {
    for (int64_t i = next++; i < n; i = next++) work(i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(loop);
  loop();
  for (std::thread& t : pool) t.join();
}

int ThreadCount(int requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

// Makes and checks the tasks of one environment: per level its share of the quota plus a third
// more as spares (the merge replaces tasks another environment already has with them). A level
// that runs out of distinct tasks passes its share up; what the top level cannot make goes round
// again from the bottom (three passes at most).
EnvOutput MakeEnvTasks(const Category& category, const proto::EnvSpec& spec,
                       const SynthesisOptions& options) {
  EnvOutput out;
  auto fail = [&](uint64_t seed, const absl::Status& why) {
    ++out.failed;
    if (out.failures.size() < 3) {
      out.failures.push_back(absl::StrCat("env ", spec.id(), " (", spec.category(), ") seed ", seed,
                                          ": ", why.ToString()));
    }
  };
  int quota = options.tasks_per_env;
  if (category.max_tasks_per_env > 0) quota = std::min(quota, category.max_tasks_per_env);
  const int lo = std::max(0, options.min_level);
  const int hi = std::min(spec.difficulty(), options.max_level);
  if (lo > hi) return out;
  const int levels = hi - lo + 1;
  out.made.resize(levels);
  for (int i = 0; i < levels; ++i) out.targets.push_back(quota / levels + (i < quota % levels));
  absl::StatusOr<std::unique_ptr<Environment>> env = category.build(spec);
  if (!env.ok()) {
    out.failed = quota;
    out.failures.push_back(absl::StrCat("env ", spec.id(), " (", spec.category(),
                                        ") does not build: ", env.status().ToString()));
    return out;
  }
  std::set<uint64_t> seen;
  std::vector<int> next_k(levels, 0);  // the next candidate index of each level
  int carried = 0;
  for (int pass = 0; pass < 3; ++pass) {
    for (int i = 0; i < levels; ++i) {
      const int level = lo + i;
      const int target = carried + (pass == 0 ? out.targets[i] : 0);
      const int want = target + (pass == 0 ? out.targets[i] / 3 + 1 : 0);
      int made = 0;
      for (int tries = 0; made < want && tries < 4 * want + 8; ++tries) {
        const uint64_t seed = DeriveSeed(
            {spec.seed(), static_cast<uint64_t>(level), static_cast<uint64_t>(next_k[i]++)});
        absl::StatusOr<Episode> episode = (*env)->Reset(seed, level);
        if (!episode.ok()) {
          fail(seed, episode.status());
          continue;
        }
        const uint64_t key = TaskKey(episode->task);
        if (!seen.insert(key).second) continue;  // a repeat within this environment
        proto::Prompt prompt = TaskToPrompt(episode->task, spec, seed, level);
        absl::Status check = CheckTask(**env, seed, level, std::move(*episode));
        if (!check.ok()) {
          fail(seed, check);
          continue;
        }
        out.made[i].push_back({key, std::move(prompt)});
        ++made;
      }
      carried = std::max(0, target - made);
    }
    if (carried == 0) break;
  }
  return out;
}

// Takes an environment's tasks, level by level, skipping those already `seen` in earlier
// environments, up to each level's target (shortfalls pass up, then round again from the bottom).
std::vector<MadeTask> TakeDistinct(EnvOutput* out, std::set<uint64_t>* seen, int64_t* duplicates) {
  const size_t levels = out->made.size();
  std::vector<size_t> pos(levels, 0);
  std::vector<std::vector<MadeTask>> taken(levels);
  int carry = 0;
  for (int pass = 0; pass < 3; ++pass) {
    for (size_t i = 0; i < levels; ++i) {
      int want = carry + (pass == 0 ? out->targets[i] : 0);
      while (want > 0 && pos[i] < out->made[i].size()) {
        MadeTask& t = out->made[i][pos[i]++];
        if (!seen->insert(t.key).second) {
          ++*duplicates;
          continue;
        }
        taken[i].push_back(std::move(t));
        --want;
      }
      carry = want;
    }
    if (carry == 0) break;
  }
  std::vector<MadeTask> all;
  for (auto& level : taken) {
    for (MadeTask& t : level) all.push_back(std::move(t));
  }
  return all;
}

// InvalidArgument unless there is at least one environment per category and task per environment,
// and the level range is 0 <= min <= max.
absl::Status CheckCounts(const SynthesisOptions& options) {
  if (options.envs_per_category < 1 || options.tasks_per_env < 1) {
    return absl::InvalidArgumentError("envs per category and tasks per env must be at least 1");
  }
  if (options.min_level < 0 || options.max_level < options.min_level) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad level range ", options.min_level, "..", options.max_level));
  }
  return absl::OkStatus();
}

// The categories named (all when `names` is empty), in registry order. InvalidArgument for an
// unknown name, listing the known ones.
absl::StatusOr<std::vector<const Category*>> SelectCategories(
    const Registry& registry, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (registry.Find(name) == nullptr) {
      std::vector<std::string> known;
      for (const Category* c : registry.All()) known.push_back(c->name);
      return absl::InvalidArgumentError(
          absl::StrCat("unknown category '", name, "'; known: ", absl::StrJoin(known, ", ")));
    }
  }
  std::vector<const Category*> categories;
  for (const Category* c : registry.All()) {
    if (names.empty() || std::find(names.begin(), names.end(), c->name) != names.end()) {
      categories.push_back(c);
    }
  }
  return categories;
}

// Plans every environment's spec: per category, envs_per_category of them, ids consecutive from
// first_env_id, seeds derived from (seed, category, index). `env_category` gets each one's
// category.
void PlanSpecs(const std::vector<const Category*>& categories, const SynthesisOptions& options,
               std::vector<proto::EnvSpec>* envs, std::vector<const Category*>* env_category) {
  std::set<std::pair<std::string, std::map<std::string, std::string>>> taken_params;
  for (const Category* c : categories) {
    for (int i = 0; i < options.envs_per_category * c->envs_factor; ++i) {
      proto::EnvSpec spec;
      spec.set_id(options.first_env_id + envs->size());
      spec.set_category(c->name);
      spec.set_seed(DeriveSeed({options.seed, HashString(c->name), static_cast<uint64_t>(i)}));
      spec.set_difficulty(c->top_level);
      spec.set_backend(c->backend);
      spec.set_description(c->description);
      if (c->sample_params) {
        // Parameters no earlier environment of the category has (when the category has that
        // many choices): environments differ in more than their seed.
        std::map<std::string, std::string> params;
        for (uint64_t attempt = 0; attempt < 16; ++attempt) {
          Rng rng(DeriveSeed({spec.seed(), HashString("params"), attempt}));
          params = c->sample_params(rng);
          if (taken_params.insert({c->name, params}).second) break;
        }
        for (const auto& [k, v] : params) (*spec.mutable_params())[k] = v;
      }
      envs->push_back(std::move(spec));
      env_category->push_back(c);
    }
  }
}

// Merges the environments' tasks in environment order: distinct across the whole set, prompt ids
// consecutive from first_prompt_id, held out by a seeded hash of the id. Counts per category into
// result->report; environments left without tasks are dropped from result->envs. Frees `outputs`.
void MergeInOrder(const std::vector<const Category*>& env_category, const SynthesisOptions& options,
                  std::vector<EnvOutput>* outputs, SynthesisResult* result) {
  std::set<uint64_t> seen;
  std::map<std::string, size_t> report_index;
  SynthesisReport& report = result->report;
  std::vector<proto::EnvSpec> kept_envs;
  for (size_t i = 0; i < result->envs.size(); ++i) {
    const Category* c = env_category[i];
    if (report_index.count(c->name) == 0) {
      report_index[c->name] = report.categories.size();
      report.categories.push_back(CategoryReport{c->name, c->kind});
    }
    CategoryReport& cr = report.categories[report_index[c->name]];
    EnvOutput& out = (*outputs)[i];
    cr.failed += out.failed;
    for (std::string& f : out.failures) {
      if (report.failures.size() < 20) report.failures.push_back(std::move(f));
    }
    int64_t kept = 0;
    for (MadeTask& t : TakeDistinct(&out, &seen, &cr.duplicates)) {
      t.prompt.set_id(options.first_prompt_id + result->prompts.size());
      const double u =
          static_cast<double>(DeriveSeed({options.seed, t.prompt.id()}) >> 11) * 0x1.0p-53;
      t.prompt.set_heldout(u < options.heldout_fraction);
      ++cr.tasks_by_level[t.prompt.difficulty()];
      result->prompts.push_back(std::move(t.prompt));
      ++kept;
    }
    out = EnvOutput{};
    cr.tasks += kept;
    if (kept > 0) {
      ++cr.envs;
      kept_envs.push_back(std::move(result->envs[i]));
    }
  }
  result->envs = std::move(kept_envs);
}

// The report's totals: the sums over its categories.
void SumTotals(SynthesisReport* report) {
  for (const CategoryReport& cr : report->categories) {
    report->total_envs += cr.envs;
    report->total_tasks += cr.tasks;
    report->total_failed += cr.failed;
    report->total_duplicates += cr.duplicates;
  }
}

std::string DeterministicBytes(const google::protobuf::Message& m) {
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

}  // namespace

std::string DigestOf(const std::vector<proto::EnvSpec>& envs,
                     const std::vector<proto::Prompt>& prompts) {
  uint64_t h = 0;
  for (const proto::EnvSpec& e : envs) h = Mix64(h ^ HashString(DeterministicBytes(e)));
  for (const proto::Prompt& p : prompts) h = Mix64(h ^ HashString(DeterministicBytes(p)));
  return absl::StrFormat("%016x", h);
}

absl::StatusOr<SynthesisResult> Synthesize(const Registry& registry,
                                           const SynthesisOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(CheckCounts(options));
  ASSIGN_OR_RETURN(const std::vector<const Category*> categories,
                   SelectCategories(registry, options.categories));
  SynthesisResult result;
  std::vector<const Category*> env_category;
  PlanSpecs(categories, options, &result.envs, &env_category);
  // Make and check tasks, in parallel.
  std::vector<EnvOutput> outputs(result.envs.size());
  ParallelFor(
      static_cast<int64_t>(result.envs.size()), ThreadCount(options.threads),
      [&](int64_t i) { outputs[i] = MakeEnvTasks(*env_category[i], result.envs[i], options); });
  MergeInOrder(env_category, options, &outputs, &result);
  SynthesisReport& report = result.report;
  SumTotals(&report);
  report.digest = DigestOf(result.envs, result.prompts);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  DSARL_LOG_INFO("synthesized {} environments, {} tasks ({} failed, {} duplicates) in {:.1f} s",
                 report.total_envs, report.total_tasks, report.total_failed,
                 report.total_duplicates, report.seconds);
  return result;
}

absl::StatusOr<FilterReport> FilterSolvable(
    const Registry& registry,
    const std::function<Policy(const proto::Prompt&, int attempt)>& policy_for, int k, int threads,
    SynthesisResult* result) {
  if (k < 1) return absl::InvalidArgumentError("k must be at least 1");
  std::map<uint64_t, const proto::EnvSpec*> env_by_id;
  for (const proto::EnvSpec& e : result->envs) env_by_id[e.id()] = &e;
  // Build each environment once.
  std::map<uint64_t, std::unique_ptr<Environment>> envs;
  for (const auto& [id, spec] : env_by_id) {
    const Category* c = registry.Find(spec->category());
    if (c == nullptr) {
      return absl::NotFoundError(absl::StrCat("no category ", spec->category(), " registered"));
    }
    ASSIGN_OR_RETURN(envs[id], c->build(*spec));
  }
  std::vector<char> solved(result->prompts.size(), 0);
  std::atomic<int64_t> infra{0};
  ParallelFor(static_cast<int64_t>(result->prompts.size()), ThreadCount(threads), [&](int64_t i) {
    const proto::Prompt& p = result->prompts[i];
    auto it = envs.find(p.env_id());
    if (it == envs.end()) return;
    for (int attempt = 0; attempt < k && !solved[i]; ++attempt) {
      EpisodeRecord rec =
          RunEpisode(*it->second, p.task_seed(), p.difficulty(), policy_for(p, attempt));
      if (!rec.ok()) ++infra;
      if (rec.ok() && rec.verdict.score >= 1) solved[i] = 1;
    }
  });
  FilterReport report;
  report.infra_errors = infra;
  std::vector<proto::Prompt> kept;
  std::set<uint64_t> used_envs;
  for (size_t i = 0; i < result->prompts.size(); ++i) {
    if (!solved[i]) {
      ++report.removed;
      continue;
    }
    used_envs.insert(result->prompts[i].env_id());
    kept.push_back(std::move(result->prompts[i]));
  }
  report.kept = static_cast<int64_t>(kept.size());
  result->prompts = std::move(kept);
  std::vector<proto::EnvSpec> kept_envs;
  for (proto::EnvSpec& e : result->envs) {
    if (used_envs.count(e.id()) > 0) kept_envs.push_back(std::move(e));
  }
  result->envs = std::move(kept_envs);
  // Recount by category.
  for (CategoryReport& cr : result->report.categories) {
    cr.envs = 0;
    cr.tasks = 0;
    cr.tasks_by_level.clear();
  }
  std::map<std::string, CategoryReport*> by_name;
  for (CategoryReport& cr : result->report.categories) by_name[cr.name] = &cr;
  for (const proto::EnvSpec& e : result->envs) {
    if (by_name.count(e.category())) ++by_name[e.category()]->envs;
  }
  for (const proto::Prompt& p : result->prompts) {
    if (!by_name.count(p.category())) continue;
    ++by_name[p.category()]->tasks;
    ++by_name[p.category()]->tasks_by_level[p.difficulty()];
  }
  result->report.total_envs = static_cast<int>(result->envs.size());
  result->report.total_tasks = static_cast<int64_t>(result->prompts.size());
  result->report.digest = DigestOf(result->envs, result->prompts);
  return report;
}

}  // namespace dsarl::envs
