// The cost of the trust boundary, side by side in one run: groups/s a learner accepts over loopback
// (lease one prompt, submit its group of G=16 trajectories of 256 tokens, stored in RocksDB),
// with and without intake validation, and plain, with a job token, with TLS + token, and with
// mutual TLS + token; with the store's default synced writes (fsync per group, what a job does
// unless store.sync_writes is off) and without. BM_CheckGroup times the intake check alone.
#include <stdlib.h>

#include <cstdlib>
#include <random>

#include "base/crc32c.h"
#include "base/status_macros.h"
#include "benchmark/benchmark.h"
#include "learner/intake.h"
#include "learner/service.h"
#include "proto/rpc_certs.h"
#include "rollout/learner_client.h"

namespace dsarl::learner {
namespace {

constexpr int kG = 16;
constexpr int kTokens = 256;
constexpr int kPromptTokens = 64;
constexpr int kVocab = 320;
constexpr int kPrompts = 4096;

IntakeLimits Limits() {
  IntakeLimits l;
  l.group_size = kG;
  l.vocab = kVocab;
  l.context = 1024;
  return l;
}

proto::Group GroupFor(uint64_t prompt, uint32_t attempt) {
  std::mt19937 rng(static_cast<uint32_t>(prompt));
  proto::Group g;
  g.set_prompt_id(prompt);
  g.set_attempt(attempt);
  for (int i = 0; i < kG; ++i) {
    proto::Trajectory* t = g.add_trajectories();
    t->set_prompt_id(prompt);
    t->set_sample_index(i);
    for (int k = 0; k < kTokens; ++k) {
      const bool policy = k >= kPromptTokens;
      t->add_token_ids(static_cast<int>(rng() % kVocab));
      t->add_loss_mask(policy ? 1 : 0);
      t->add_behaviour_logprobs(policy ? -2.5f : 0.0f);
      t->add_policy_versions(0);
    }
    t->set_reward(i % 2);
    t->set_finish_reason(proto::FINISH_EOS);
  }
  return g;
}

std::string TempDir() {
  char tmpl[] = "/tmp/dsarl-intake-bench-XXXXXX";
  return mkdtemp(tmpl);
}

// A learner (store, state, server) and one worker's client, secured as `mode` says:
// 0 plain, 1 token, 2 TLS + token, 3 mutual TLS + token.
struct Setup {
  std::string dir = TempDir();
  std::unique_ptr<store::Store> store;
  std::unique_ptr<LearnerState> state;
  std::unique_ptr<LearnerServer> server;
  std::unique_ptr<rollout::LearnerClient> client;

  absl::Status Start(int mode, bool validate, bool sync) {
    store::OpenOptions o;
    o.create_if_missing = true;
    o.config.set_sync_writes(sync);
    ASSIGN_OR_RETURN(store, store::Store::Open(dir + "/store", o));
    proto::EnvSpec env;
    env.set_id(1);
    RETURN_IF_ERROR(store->PutEnv(env));
    std::vector<uint64_t> ids;
    for (uint64_t p = 1; p <= kPrompts; ++p) {
      proto::Prompt prompt;
      prompt.set_id(p);
      prompt.set_env_id(1);
      RETURN_IF_ERROR(store->PutPrompt(prompt));
      ids.push_back(p);
    }
    state = std::make_unique<LearnerState>(store.get(), 1,
                                           std::make_unique<PromptScheduler>(ids, 1, 600000), 1000,
                                           [] { return int64_t(1000); });
    if (validate) state->SetIntakeLimits(Limits());
    auto w = std::make_shared<PublishedWeights>();
    w->blob = "weights";
    w->crc32c = Crc32c(w->blob);
    state->Publish(w);
    rpc::ServerSecurity ss;
    rpc::ClientSecurity cs;
    if (mode >= 1) ss.job_secret = rpc::NewJobSecret();
    if (mode >= 2) {
      RETURN_IF_ERROR(
          rpc::MakeCertificates(dir + "/certs", {.hosts = {"127.0.0.1"}, .clients = {"w1"}}));
      ss.tls_cert_file = dir + "/certs/server.pem";
      ss.tls_key_file = dir + "/certs/server.key";
      cs.tls_ca_file = dir + "/certs/ca.pem";
    }
    if (mode >= 3) {
      ss.tls_client_ca_file = dir + "/certs/ca.pem";
      cs.tls_cert_file = dir + "/certs/w1.pem";
      cs.tls_key_file = dir + "/certs/w1.key";
    }
    ASSIGN_OR_RETURN(server, LearnerServer::Start("127.0.0.1:0", state.get(), ss));
    if (mode >= 1) {
      ASSIGN_OR_RETURN(cs.token, rpc::WorkerToken(ss.job_secret, "w1"));
    }
    const std::string target = "127.0.0.1:" + std::to_string(server->port());
    ASSIGN_OR_RETURN(auto channel, rollout::LearnerClient::Connect(target, cs));
    client =
        std::make_unique<rollout::LearnerClient>(channel, target, 30, rpc::MakeCallCredentials(cs));
    return absl::OkStatus();
  }

  ~Setup() {
    client.reset();
    if (server) server->Shutdown();
    server.reset();
    state.reset();
    store.reset();
    std::system(("rm -rf '" + dir + "'").c_str());
  }
};

const char* ModeName(int mode) {
  static const char* names[] = {"plain", "token", "TLS + token", "mutual TLS + token"};
  return names[mode];
}

void BM_SubmitGroup(benchmark::State& bench) {
  const int mode = static_cast<int>(bench.range(0));
  const bool validate = bench.range(1) != 0;
  const bool sync = bench.range(2) != 0;
  Setup s;
  if (absl::Status st = s.Start(mode, validate, sync); !st.ok()) {
    bench.SkipWithError(std::string(st.message()).c_str());
    return;
  }
  int64_t groups = 0;
  for (auto _ : bench) {
    auto leased = s.client->Lease(1);
    if (!leased.ok() || leased->leases_size() != 1) {
      bench.SkipWithError(leased.ok() ? "no lease"
                                      : std::string(leased.status().message()).c_str());
      return;
    }
    const proto::Lease& l = leased->leases(0);
    bench.PauseTiming();
    proto::Group g = GroupFor(l.prompt().id(), l.attempt());
    bench.ResumeTiming();
    auto r = s.client->Submit(l.lease_id(), std::move(g));
    if (!r.ok() || r->outcome() != proto::SubmitGroupResponse::ACCEPTED) {
      bench.SkipWithError(r.ok() ? r->message().c_str()
                                 : std::string(r.status().message()).c_str());
      return;
    }
    ++groups;
    if (groups % 64 == 0) {  // the training loop's side: keep the queue short
      bench.PauseTiming();
      s.state->TakeGroups(64, 0, [] { return true; });
      bench.ResumeTiming();
    }
  }
  bench.counters["groups/s"] = benchmark::Counter(groups, benchmark::Counter::kIsRate);
  bench.SetLabel(std::string(ModeName(mode)) + (validate ? ", intake checks" : ", no checks") +
                 (sync ? ", synced writes" : ", unsynced writes"));
}
BENCHMARK(BM_SubmitGroup)
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1}, {0, 1}})
    ->ArgNames({"security", "validate", "sync"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same intake without gRPC: LearnerState::Lease and Submit called directly.
void BM_SubmitDirect(benchmark::State& bench) {
  const bool validate = bench.range(0) != 0;
  Setup s;
  if (absl::Status st = s.Start(0, validate, false); !st.ok()) {
    bench.SkipWithError(std::string(st.message()).c_str());
    return;
  }
  int64_t groups = 0;
  for (auto _ : bench) {
    auto leased = s.state->Lease("w1", 1);
    if (!leased.ok() || leased->leases_size() != 1) {
      bench.SkipWithError("no lease");
      return;
    }
    const proto::Lease& l = leased->leases(0);
    bench.PauseTiming();
    proto::Group g = GroupFor(l.prompt().id(), l.attempt());
    bench.ResumeTiming();
    auto r = s.state->Submit("w1", l.lease_id(), std::move(g));
    if (!r.ok() || r->outcome() != proto::SubmitGroupResponse::ACCEPTED) {
      bench.SkipWithError("not accepted");
      return;
    }
    if (++groups % 64 == 0) {
      bench.PauseTiming();
      s.state->TakeGroups(64, 0, [] { return true; });
      bench.ResumeTiming();
    }
  }
  bench.counters["groups/s"] = benchmark::Counter(groups, benchmark::Counter::kIsRate);
  bench.SetLabel(validate ? "in process, intake checks" : "in process, no checks");
}
BENCHMARK(BM_SubmitDirect)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("validate")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One small RPC (GetStatus): the per-call cost of the token check and of TLS.
void BM_StatusRpc(benchmark::State& bench) {
  const int mode = static_cast<int>(bench.range(0));
  Setup s;
  if (absl::Status st = s.Start(mode, false, false); !st.ok()) {
    bench.SkipWithError(std::string(st.message()).c_str());
    return;
  }
  for (auto _ : bench) {
    auto r = s.client->Status();
    if (!r.ok()) {
      bench.SkipWithError(std::string(r.status().message()).c_str());
      return;
    }
  }
  bench.counters["calls/s"] = benchmark::Counter(bench.iterations(), benchmark::Counter::kIsRate);
  bench.SetLabel(ModeName(mode));
}
BENCHMARK(BM_StatusRpc)
    ->DenseRange(0, 3)
    ->ArgName("security")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

void BM_CheckGroup(benchmark::State& bench) {
  const proto::Group g = GroupFor(7, 0);
  const IntakeLimits limits = Limits();
  for (auto _ : bench) {
    absl::Status st = CheckGroup(g, limits);
    if (!st.ok()) bench.SkipWithError(std::string(st.message()).c_str());
    benchmark::DoNotOptimize(st);
  }
  bench.counters["groups/s"] = benchmark::Counter(bench.iterations(), benchmark::Counter::kIsRate);
  bench.SetLabel("G=16 x 256 tokens");
}
BENCHMARK(BM_CheckGroup)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace dsarl::learner

BENCHMARK_MAIN();
