// One learner rank of tests/learner/dist_test.cc, started as its own process by the test with the
// launcher's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) set, so that the ranks talk
// over loopback TCP as on a cluster. `dist_rank_helper SCENARIO OUT [TIMEOUT_S]`:
//   collectives  every collective of the Gloo backend, checked against the closed form
//   grpo         three GRPO steps on one batch rank 0 sends (RankLink), data-parallel; rank 0
//                writes each mini-batch's loss and grad norm, then step 1's gradient, to OUT
//   drift        grpo, with rank 1's weights changed after step 1: step 2 resyncs them
//   die          all-reduces in a loop; rank 1 SIGKILLs itself at the 5th (SIGSTOPs with `hang`)
// Exit 0 on success; otherwise the error on stderr and in OUT, exit 3.
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/crc32c.h"
#include "learner/dist/rank_layout.h"
#include "learner/dist/world.h"
#include "learner/rank_link.h"
#include "learner/trainer.h"
#include "tests/model/model_test_util.h"

namespace dsarl::learner {
namespace {

using dist::Communicator;
using dist::ReduceOp;

absl::Status Check(bool ok, const std::string& what) {
  return ok ? absl::OkStatus() : absl::InternalError(what);
}

absl::Status Collectives(Communicator* c, std::ostream& out) {
  const int r = c->rank(), w = c->world_size();
  std::vector<float> f(7);
  for (size_t i = 0; i < f.size(); ++i) f[i] = float(r + 1) + 0.5f * i;
  if (auto s = c->AllReduce(absl::MakeSpan(f), ReduceOp::kSum); !s.ok()) return s;
  for (size_t i = 0; i < f.size(); ++i) {
    const float want = float(w * (w + 1) / 2) + 0.5f * i * w;
    if (auto s = Check(f[i] == want, absl::StrCat("sum[", i, "] ", f[i], " != ", want)); !s.ok())
      return s;
  }
  std::vector<double> d = {double(r), 1.0};
  if (auto s = c->AllReduce(absl::MakeSpan(d), ReduceOp::kMean); !s.ok()) return s;
  if (auto s = Check(std::abs(d[0] - (w - 1) / 2.0) < 1e-12 && d[1] == 1.0, "mean"); !s.ok())
    return s;
  std::vector<uint8_t> b(5, uint8_t(r));
  const int root = w - 1;
  if (auto s = c->Broadcast(absl::MakeSpan(b), root); !s.ok()) return s;
  for (uint8_t x : b) {
    if (auto s = Check(x == root, "broadcast"); !s.ok()) return s;
  }
  std::vector<float> in = {float(r), float(10 * r)}, all(2 * w);
  if (auto s = c->AllGather(in, absl::MakeSpan(all)); !s.ok()) return s;
  for (int k = 0; k < w; ++k) {
    if (auto s = Check(all[2 * k] == k && all[2 * k + 1] == 10 * k, "all-gather"); !s.ok())
      return s;
  }
  // A large buffer in buckets: more than one bucket, an odd tail.
  std::vector<float> big(10007, 1.0f);
  if (auto s = dist::BucketedAllReduce(c, absl::MakeSpan(big), ReduceOp::kSum, 4096); !s.ok())
    return s;
  for (float x : big) {
    if (auto s = Check(x == float(w), "bucketed all-reduce"); !s.ok()) return s;
  }
  if (auto s = c->Barrier(); !s.ok()) return s;
  out << "ok\n";
  return absl::OkStatus();
}

// The batch of the data-parallel test: groups of different lengths (so the split by tokens is
// uneven), rewards with signal, behaviour log-probs near the model's own.
std::vector<TrainGroup> Batch(model::Transformer& m) {
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  std::vector<TrainGroup> batch(6);
  for (size_t gi = 0; gi < batch.size(); ++gi) {
    const int len = 12 + 3 * int(gi);
    std::vector<int> prompt(5);
    for (int& t : prompt) t = rng() % m.dims().vocab;
    for (int i = 0; i < 4; ++i) {
      TrainSample s;
      s.tokens = prompt;
      while (int(s.tokens.size()) < len) s.tokens.push_back(rng() % m.dims().vocab);
      s.loss_mask.assign(len, 0);
      for (int t = 5; t < len; ++t) s.loss_mask[t] = 1;
      model::PackedBatch b;
      b.tokens = s.tokens;
      b.seq_start = {0, len};
      b.targets.assign(len, -1);
      for (int t = 0; t + 1 < len; ++t) {
        if (s.loss_mask[t + 1]) b.targets[t] = s.tokens[t + 1];
      }
      model::ForwardOptions fo;
      fo.mode = model::AttentionMode::kDense;
      auto r = m.Forward(b, fo);
      if (!r.ok()) std::abort();
      s.behaviour_logprobs.assign(len, 0.0f);
      for (int t = 1; t < len; ++t) {
        if (s.loss_mask[t]) s.behaviour_logprobs[t] = r->logp[t - 1] + noise(rng);
      }
      s.routed_experts = r->routed_experts;
      batch[gi].samples.push_back(std::move(s));
      batch[gi].rewards.push_back(double((gi + i) % 3) / 2.0);
    }
  }
  return batch;
}

// `drift`: after step 1 rank 1 changes one weight, as a CPU that rounds differently would; step 2
// must find it and give rank 1 rank 0's weights back.
absl::Status Grpo(Communicator* c, std::ostream& out, bool drift) {
  model::ModelDims d = model::testing::TinyTestDims(true, model::AttentionMode::kDense);
  model::Transformer policy(d);
  policy.InitRandom(1);
  auto ref = std::make_unique<model::Transformer>(d);
  ref->InitRandom(2);
  TrainerOptions o;
  o.grpo.beta = 0.05;
  o.lr.peak = 1e-3;
  o.grad_clip = 0;  // the gradient left in grads() is the all-reduced one, unscaled
  o.micro_batch_tokens = 40;
  o.minibatches = 2;
  o.mode = model::AttentionMode::kDense;
  Trainer trainer(&policy, std::move(ref), o);
  trainer.set_communicator(c);
  RankLink link(c, std::chrono::milliseconds(0));
  const size_t n = policy.table().total_floats();
  for (int step = 1; step <= 3; ++step) {
    std::vector<TrainGroup> batch;
    if (c->rank() == 0) {
      batch = Batch(policy);
      if (auto s = link.SendStep(step, batch); !s.ok()) return s;
    } else {
      auto m = link.Receive();
      if (!m.ok()) return m.status();
      auto b = FromRankGroups(*m);
      if (!b.ok()) return b.status();
      batch = std::move(*b);
    }
    auto r = trainer.GrpoStep(batch);
    if (!r.ok()) return r.status();
    if (drift && step == 1 && c->rank() == 1) policy.params()[0] += 1e-3f;
    for (int rank : r->resynced_ranks) out << "resynced " << step << " " << rank << "\n";
    if (c->rank() != 0) continue;
    for (const MinibatchReport& mb : r->minibatches) {
      out << "loss " << step << " " << absl::StrCat(mb.loss) << " " << absl::StrCat(mb.grad_norm)
          << "\n";
    }
    out << "stats " << step << " " << r->tokens << " " << r->micro_batches << " "
        << absl::StrCat(r->grpo.kl) << " " << r->grpo.sequences << "\n";
    if (step == 1) {
      out << "grad";
      for (size_t i = 0; i < n; ++i) out << " " << absl::StrCat(policy.grads()[i]);
      out << "\n";
    }
  }
  out << "weights " << Crc32c(policy.params(), n * sizeof(float)) << "\n";
  return absl::OkStatus();
}

absl::Status Die(Communicator* c, bool hang) {
  std::vector<float> x(1000, 1.0f);
  for (int i = 0; i < 1000; ++i) {
    if (i == 5 && c->rank() == 1) raise(hang ? SIGSTOP : SIGKILL);
    if (auto s = c->AllReduce(absl::MakeSpan(x), ReduceOp::kMean); !s.ok()) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::InternalError("the loop ended although rank 1 stopped");
}

int Main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: dist_rank_helper SCENARIO OUT [TIMEOUT_S]\n";
    return 2;
  }
  const std::string scenario = argv[1];
  std::ofstream out(argv[2]);
  auto layout = dist::RankLayoutFromEnv(dist::ProcessEnv(), 1);
  absl::Status s = layout.status();
  std::unique_ptr<dist::World> world;
  if (s.ok()) {
    dist::WorldOptions wo;
    wo.timeout = std::chrono::milliseconds(int64_t(1000 * (argc > 3 ? std::atof(argv[3]) : 30)));
    auto joined = dist::World::Join(*layout, wo);
    s = joined.status();
    if (joined.ok()) world = std::move(*joined);
  }
  if (s.ok()) {
    if (scenario == "collectives") {
      s = Collectives(world->comm(), out);
    } else if (scenario == "grpo" || scenario == "drift") {
      s = Grpo(world->comm(), out, scenario == "drift");
    } else {
      s = Die(world->comm(), scenario == "hang");
    }
  }
  if (s.ok()) return 0;
  out << "error: " << s.message() << "\n";
  std::cerr << "rank helper: " << s.message() << "\n";
  return 3;
}

}  // namespace
}  // namespace dsarl::learner

int main(int argc, char** argv) { return dsarl::learner::Main(argc, argv); }
