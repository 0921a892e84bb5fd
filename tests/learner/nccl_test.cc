// The NCCL backend on this machine's GPU, as a world of one (what one GPU can check): its
// collectives on host spans (staged through the GPU) and on a device buffer, and a GRPO step whose
// gradient is all-reduced through it, equal to the step without a communicator. Without a GPU (or
// without NCCL compiled in) each test says so and skips: nothing here can run on the CPU.
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "learner/dist/nccl_communicator.h"
#include "learner/dist/rendezvous.h"
#include "learner/trainer.h"
#include "tests/model/model_test_util.h"

#ifdef DSARL_HAVE_NCCL
#include <cuda_runtime.h>
#endif

namespace dsarl::learner {
namespace {

// A world of one over NCCL: the rendezvous store in this process, one rank.
struct NcclWorld {
  std::unique_ptr<dist::RendezvousServer> server;
  std::unique_ptr<dist::RendezvousClient> client;
  std::unique_ptr<dist::Communicator> comm;
};

// Null (and the test skipped) without a usable GPU.
std::unique_ptr<NcclWorld> JoinNccl() {
  std::string why;
  if (!dist::NcclUsable(&why)) {
    std::cout << "skipped: " << why << "\n";
    return nullptr;
  }
  auto w = std::make_unique<NcclWorld>();
  auto server = dist::RendezvousServer::Start("127.0.0.1:0", 1, {});
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  w->server = std::move(*server);
  auto client = dist::RendezvousClient::Connect(absl::StrCat("127.0.0.1:", w->server->port()), 0, 1,
                                                dist::RendezvousOptions{});
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) return nullptr;
  w->client = std::move(*client);
  auto comm = dist::ConnectNccl(w->client.get(), 0, std::chrono::milliseconds(60000),
                                std::chrono::milliseconds(60000));
  EXPECT_TRUE(comm.ok()) << comm.status();
  if (!comm.ok()) return nullptr;
  w->comm = std::move(*comm);
  return w;
}

TEST(Nccl, CollectivesOfAWorldOfOne) {
  auto w = JoinNccl();
  if (!w) GTEST_SKIP() << "no GPU (or no NCCL) here";
  dist::Communicator* c = w->comm.get();
  EXPECT_EQ(c->backend(), "nccl");
  std::vector<float> f = {1.5f, -2.0f, 3.25f};
  ASSERT_TRUE(c->AllReduce(absl::MakeSpan(f), dist::ReduceOp::kSum).ok());
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  std::vector<double> d = {0.125, 7.0};
  ASSERT_TRUE(c->AllReduce(absl::MakeSpan(d), dist::ReduceOp::kMean).ok());
  EXPECT_EQ(d, (std::vector<double>{0.125, 7.0}));
  std::vector<uint8_t> b = {1, 2, 3};
  ASSERT_TRUE(c->Broadcast(absl::MakeSpan(b), 0).ok());
  std::vector<float> all(3);
  ASSERT_TRUE(c->AllGather(f, absl::MakeSpan(all)).ok());
  EXPECT_EQ(all, f);
  ASSERT_TRUE(c->Barrier().ok());
#ifdef DSARL_HAVE_NCCL
  // A device buffer, as the GPU trainer hands it over: a million floats in place.
  const size_t n = 1 << 20;
  std::vector<float> host(n);
  for (size_t i = 0; i < n; ++i) host[i] = float(i % 977) * 0.5f;
  float* dev = nullptr;
  ASSERT_EQ(cudaMalloc(&dev, n * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dev, host.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_TRUE(dist::AllReduceDevice(c, dev, n, dist::ReduceOp::kSum).ok());
  std::vector<float> back(n);
  ASSERT_EQ(cudaMemcpy(back.data(), dev, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  cudaFree(dev);
  EXPECT_EQ(back, host);
#endif
}

// A GRPO step whose gradient goes through NCCL equals the same step without a communicator
// (one rank's sum is the identity, so bit for bit).
TEST(Nccl, AGrpoStepThroughTheCommunicator) {
  auto w = JoinNccl();
  if (!w) GTEST_SKIP() << "no GPU (or no NCCL) here";
  model::ModelDims d = model::testing::TinyTestDims(false, model::AttentionMode::kDense);
  std::vector<std::vector<float>> grads;
  for (bool through_nccl : {false, true}) {
    model::Transformer policy(d);
    policy.InitRandom(1);
    TrainerOptions o;
    o.grpo.beta = 0;
    o.grad_clip = 0;
    o.mode = model::AttentionMode::kDense;
    Trainer t(&policy, nullptr, o);
    if (through_nccl) t.set_communicator(w->comm.get());
    std::mt19937 rng(3);
    std::vector<TrainGroup> batch(2);
    for (TrainGroup& g : batch) {
      for (int i = 0; i < 3; ++i) {
        TrainSample s;
        for (int k = 0; k < 10; ++k) s.tokens.push_back(rng() % d.vocab);
        s.loss_mask.assign(10, 1);
        s.loss_mask[0] = 0;
        s.behaviour_logprobs.assign(10, -5.7f);
        g.samples.push_back(s);
        g.rewards.push_back(i);
      }
    }
    auto r = t.GrpoStep(batch);
    ASSERT_TRUE(r.ok()) << r.status();
    grads.emplace_back(policy.grads(), policy.grads() + policy.table().total_floats());
  }
  EXPECT_EQ(grads[0], grads[1]);
}

}  // namespace
}  // namespace dsarl::learner
