// Learner throughput over 1 and 2 data-parallel ranks, side by side in one run: a GRPO step of
// `tiny` on 16 groups of 8 samples, the batch sent by rank 0 (RankLink) and the gradient
// all-reduced over Gloo on loopback, each rank one thread with one BLAS thread. Ranks are threads
// of this process here (the job runs them as processes); the collectives are the same TCP ones.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "benchmark/benchmark.h"
#include "learner/dist/world.h"
#include "learner/rank_link.h"
#include "learner/trainer.h"
#include "model/backend.h"

namespace dsarl::learner {
namespace {

std::vector<TrainGroup> Batch(const model::ModelDims& d) {
  std::mt19937 rng(1);
  std::vector<TrainGroup> batch(16);
  for (auto& g : batch) {
    std::vector<int> prompt(64);
    for (int& t : prompt) t = rng() % d.vocab;
    for (int i = 0; i < 8; ++i) {
      TrainSample s;
      s.tokens = prompt;
      s.loss_mask.assign(prompt.size(), 0);
      const int gen = 32 + rng() % 64;
      for (int t = 0; t < gen; ++t) {
        s.tokens.push_back(rng() % d.vocab);
        s.loss_mask.push_back(1);
      }
      s.behaviour_logprobs.assign(s.tokens.size(), -5.8f);
      g.samples.push_back(s);
      g.rewards.push_back(rng() % 2);
    }
  }
  return batch;
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

struct Rank {
  std::unique_ptr<dist::World> world;
  std::unique_ptr<model::Transformer> policy;
  std::unique_ptr<Trainer> trainer;
};

Rank MakeRank(int rank, int world, int port) {
  dist::RankLayout l;
  l.rank = rank;
  l.world_size = world;
  l.master_addr = "127.0.0.1";
  l.master_port = port;
  l.source = "benchmark";
  Rank r;
  auto w = dist::World::Join(l, dist::WorldOptions{});
  if (!w.ok()) std::abort();
  r.world = std::move(*w);
  model::ModelDims d;  // tiny
  r.policy = std::make_unique<model::Transformer>(d);
  r.policy->InitRandom(1);
  auto ref = std::make_unique<model::Transformer>(d);
  ref->InitRandom(1);
  TrainerOptions o;
  o.grpo.beta = 0.001;
  o.micro_batch_tokens = 4096;
  r.trainer = std::make_unique<Trainer>(r.policy.get(), std::move(ref), o);
  r.trainer->set_communicator(r.world->comm());
  return r;
}

void BM_GrpoStepRanks(benchmark::State& state) {
  const int world = state.range(0);
  model::SetCpuThreads(1);
  const int port = FreePort();
  Rank zero;
  std::thread other;
  std::unique_ptr<Rank> one;
  if (world == 2) {
    // Rank 1 joins beside rank 0 and trains whatever rank 0 sends until told to stop.
    other = std::thread([&] {
      model::SetCpuThreads(1);  // OpenMP's thread count is per calling thread
      one = std::make_unique<Rank>(MakeRank(1, 2, port));
      RankLink link(one->world->comm(), std::chrono::milliseconds(0));
      while (true) {
        auto m = link.Receive();
        if (!m.ok() || m->kind() == proto::RankControl::STOP) break;
        auto b = FromRankGroups(*m);
        if (!b.ok() || !one->trainer->GrpoStep(*b).ok()) break;
      }
    });
  }
  zero = MakeRank(0, world, port);
  RankLink link(zero.world->comm(), std::chrono::milliseconds(0));
  const auto batch = Batch(zero.policy->dims());
  int64_t tokens = 0;
  for (auto _ : state) {
    if (world > 1 && !link.SendStep(1, batch).ok()) state.SkipWithError("send failed");
    auto r = zero.trainer->GrpoStep(batch);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
    tokens += r->tokens;
  }
  if (world > 1) {
    (void)link.SendStop("done", false);
    other.join();
  }
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.SetLabel("16 prompts x G=8, beta 0.001, 1 BLAS thread per rank");
}
BENCHMARK(BM_GrpoStepRanks)
    ->Arg(1)
    ->Arg(2)
    ->ArgName("ranks")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace dsarl::learner

BENCHMARK_MAIN();
