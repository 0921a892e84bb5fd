// Store write throughput: appends of groups of 8 trajectories of 1K tokens, beside the raw
// sequential write bandwidth of the same disk, measured in the same run with the same durability
// policy, so the store's number can be read as a fraction of what the disk can do.
//
// Each iteration writes `groups` groups and makes them durable the same way in both benchmarks:
//   sync:0  store: appends (WAL in the page cache), then Flush() (memtables to fsynced SSTs)
//           raw:   write() per group-sized chunk, then one fdatasync()
//   sync:1  store: sync_writes (the WAL is fsynced before each append returns)
//           raw:   write() + fdatasync() per group-sized chunk
//   sync:1/writers:8  the store with 8 threads appending at once, as many rollout workers
//           submit: group commit shares one fsync among the appends that arrive together
// Counters: traj/s (trajectories per second), MB/s via bytes_per_second (serialized trajectory
// bytes; the raw benchmark writes exactly as many bytes), and payload KiB per group.
//
// The directory is $DSARL_BENCH_DIR, else the system temporary directory; the label names it and
// its device so both numbers are known to come from the same disk.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "store/store.h"

namespace {

using dsarl::proto::Group;
using dsarl::proto::Trajectory;

constexpr int kGroupSize = 8;        // G, trajectories per group
constexpr int kTokens = 1024;        // per trajectory
constexpr int kPromptTokens = 256;   // loss mask 0
constexpr int kToolTokens = 128;     // a tool result in the middle of the answer, loss mask 0
constexpr int kDistinctGroups = 32;  // pre-built, reused with fresh prompt ids

std::string BenchRoot() {
  const char* env = std::getenv("DSARL_BENCH_DIR");
  return env != nullptr ? env : std::filesystem::temp_directory_path().string();
}

// A fresh directory under BenchRoot(), removed at destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = BenchRoot() + "/dsarl-store-bench-XXXXXX";
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string DiskLabel(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return dir;
  return absl::StrCat(dir, " (dev ", major(st.st_dev), ":", minor(st.st_dev), ")");
}

// A group as a worker submits it: a 256-token prompt, then 768 tokens of answer with a 128-token
// tool result inside; behaviour log-probs on generated tokens (mostly near 0, as a trained policy
// samples), one policy version per generated token, two reward components.
Group MakeRealisticGroup(std::mt19937* rng) {
  std::uniform_int_distribution<int> token(0, 129279);  // DeepSeek-V3 vocabulary
  std::exponential_distribution<float> surprise(4.0f);
  Group g;
  g.set_run_id(1);
  g.set_step(-1);
  g.set_worker_id("worker-3");
  g.set_created_unix_ms(1700000000000);
  for (int i = 0; i < kGroupSize; ++i) {
    Trajectory* t = g.add_trajectories();
    t->set_sample_index(i);
    for (int k = 0; k < kTokens; ++k) {
      const bool tool = k >= kPromptTokens + 256 && k < kPromptTokens + 256 + kToolTokens;
      const bool generated = k >= kPromptTokens && !tool;
      t->add_token_ids(token(*rng));
      t->add_loss_mask(generated ? 1 : 0);
      t->add_behaviour_logprobs(generated ? -surprise(*rng) : 0.0f);
      t->add_policy_versions(generated ? 1234 : 0);
    }
    auto* correct = t->add_reward_components();
    correct->set_name("correct");
    correct->set_value(i % 2);
    correct->set_weight(1.0);
    correct->set_applicable(true);
    auto* format = t->add_reward_components();
    format->set_name("format");
    format->set_value(1.0);
    format->set_weight(0.1);
    format->set_applicable(true);
    t->set_reward(i % 2 + 0.1);
    t->set_finish_reason(dsarl::proto::FINISH_EOS);
    t->set_num_turns(2);
    t->set_num_tool_calls(1);
  }
  return g;
}

struct Workload {
  std::vector<Group> groups;
  std::vector<std::string> chunks;  // the serialized trajectories of each group, for the raw test
  int64_t payload_bytes_per_group = 0;
};

// Built once per process; the store benchmark changes only the prompt ids of its groups.
Workload& GetWorkload() {
  static Workload w = [] {
    Workload w;
    std::mt19937 rng(42);
    for (int i = 0; i < kDistinctGroups; ++i) {
      w.groups.push_back(MakeRealisticGroup(&rng));
      std::string chunk;
      for (const Trajectory& t : w.groups.back().trajectories()) chunk += t.SerializeAsString();
      w.chunks.push_back(std::move(chunk));
    }
    w.payload_bytes_per_group = static_cast<int64_t>(w.chunks[0].size());
    return w;
  }();
  return w;
}

void SetCounters(benchmark::State& state, int64_t groups) {
  const Workload& w = GetWorkload();
  state.counters["traj/s"] =
      benchmark::Counter(static_cast<double>(groups) * kGroupSize, benchmark::Counter::kIsRate);
  state.counters["KiB/group"] = w.payload_bytes_per_group / 1024.0;
  state.SetBytesProcessed(groups * w.payload_bytes_per_group);
}

// Args: {sync_writes, groups per iteration}.
void BM_StoreAppend(benchmark::State& state) {
  const bool sync = state.range(0) != 0;
  const int per_iteration = static_cast<int>(state.range(1));
  Workload& w = GetWorkload();
  ScratchDir dir;
  dsarl::store::OpenOptions options;
  options.create_if_missing = true;
  options.config.set_sync_writes(sync);
  auto store = dsarl::store::Store::Open(dir.path() + "/store", options);
  if (!store.ok()) {
    state.SkipWithError(store.status().ToString().c_str());
    return;
  }
  uint64_t prompt_id = 1;
  int64_t groups = 0;
  for (auto _ : state) {
    for (int i = 0; i < per_iteration; ++i) {
      Group& g = w.groups[prompt_id % kDistinctGroups];
      g.set_prompt_id(prompt_id);
      for (Trajectory& t : *g.mutable_trajectories()) t.set_prompt_id(prompt_id);
      ++prompt_id;
      auto written = (*store)->AppendGroup(g);
      if (!written.ok() || !*written) {
        state.SkipWithError(written.status().ToString().c_str());
        return;
      }
    }
    if (!sync) {
      absl::Status flushed = (*store)->db().Flush();
      if (!flushed.ok()) {
        state.SkipWithError(flushed.ToString().c_str());
        return;
      }
    }
    groups += per_iteration;
  }
  SetCounters(state, groups);
  state.SetLabel(DiskLabel(dir.path()));
}

// Args: {sync_writes, groups per iteration, writer threads}. Concurrent submitters, as rollout
// workers are: their appends are group-committed (one WAL write, one fsync, for many groups).
void BM_StoreAppendConcurrent(benchmark::State& state) {
  const bool sync = state.range(0) != 0;
  const int per_iteration = static_cast<int>(state.range(1));
  const int writers = static_cast<int>(state.range(2));
  const Workload& w = GetWorkload();
  ScratchDir dir;
  dsarl::store::OpenOptions options;
  options.create_if_missing = true;
  options.config.set_sync_writes(sync);
  auto store = dsarl::store::Store::Open(dir.path() + "/store", options);
  if (!store.ok()) {
    state.SkipWithError(store.status().ToString().c_str());
    return;
  }
  std::atomic<uint64_t> next_prompt{1};
  std::atomic<bool> failed{false};
  int64_t groups = 0;
  for (auto _ : state) {
    std::vector<std::thread> threads;
    for (int t = 0; t < writers; ++t) {
      threads.emplace_back([&, t] {
        Group g = w.groups[t % kDistinctGroups];  // each writer mutates only its own copy
        for (int i = t; i < per_iteration; i += writers) {
          const uint64_t id = next_prompt++;
          g.set_prompt_id(id);
          for (Trajectory& tr : *g.mutable_trajectories()) tr.set_prompt_id(id);
          auto written = (*store)->AppendGroup(g);
          if (!written.ok() || !*written) failed = true;
        }
      });
    }
    for (auto& t : threads) t.join();
    if (failed) {
      state.SkipWithError("an append failed");
      return;
    }
    groups += per_iteration;
  }
  SetCounters(state, groups);
  state.SetLabel(DiskLabel(dir.path()));
}

// Args: {fdatasync after every chunk, chunks (groups) per iteration}.
void BM_RawSequentialWrite(benchmark::State& state) {
  const bool sync_each = state.range(0) != 0;
  const int per_iteration = static_cast<int>(state.range(1));
  const Workload& w = GetWorkload();
  ScratchDir dir;
  const std::string path = dir.path() + "/raw";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    state.SkipWithError(("cannot create " + path).c_str());
    return;
  }
  int64_t groups = 0;
  size_t next = 0;
  bool failed = false;
  for (auto _ : state) {
    for (int i = 0; i < per_iteration && !failed; ++i) {
      const std::string& chunk = w.chunks[next++ % kDistinctGroups];
      failed = write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size()) ||
               (sync_each && fdatasync(fd) != 0);
    }
    if (!sync_each) failed = failed || fdatasync(fd) != 0;
    if (failed) {
      state.SkipWithError("write or fdatasync failed");
      break;
    }
    groups += per_iteration;
  }
  close(fd);
  SetCounters(state, groups);
  state.SetLabel(DiskLabel(dir.path()));
}

// Store first, then the disk, in the same run. Real time: RocksDB flushes and compacts in
// background threads. The unsynced store runs longer, so compaction reaches a steady state.
BENCHMARK(BM_StoreAppend)
    ->ArgNames({"sync", "groups"})
    ->Args({0, 1000})
    ->UseRealTime()
    ->MinTime(10)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StoreAppend)
    ->ArgNames({"sync", "groups"})
    ->Args({1, 100})
    ->UseRealTime()
    ->MinTime(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StoreAppendConcurrent)
    ->ArgNames({"sync", "groups", "writers"})
    ->Args({1, 400, 8})
    ->UseRealTime()
    ->MinTime(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RawSequentialWrite)
    ->ArgNames({"sync", "groups"})
    ->Args({0, 1000})
    ->Args({1, 100})
    ->UseRealTime()
    ->MinTime(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
