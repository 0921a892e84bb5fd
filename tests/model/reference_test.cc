// Our logits-derived log-probs and every parameter gradient against an independent PyTorch
// implementation (tests/reference/dsa_reference.py, float64 autograd), for dense, sparse, MoE,
// warm-up and non-detached indexer configurations. Skips, saying so, when PyTorch is missing
// (fails in CI). Our top-k selections and routing go with the results: the reference accepts them
// where they differ from its float64 choices only by a near-tie, and replays them.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "base/json.h"
#include "gtest/gtest.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "tests/model/model_test_util.h"
#include "tests/prerequisite.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

constexpr char kPython[] = "/usr/bin/python3";

bool HaveTorch() {
  static const bool have =
      std::system((std::string(kPython) + " -c 'import torch, numpy' >/dev/null 2>&1").c_str()) ==
      0;
  return have;
}

Json IntArray(const std::vector<int>& v) {
  Json a = Json::Array();
  for (int x : v) a.Push(Json::Int(x));
  return a;
}

struct Case {
  std::string name;
  bool moe = false;
  AttentionMode mode = AttentionMode::kSparse;
  bool indexer_loss = false;
  bool detach = true;
  bool kept = false;
  bool forced = false;
  bool yarn = false;
};

// What the reference script reads besides the checkpoint: the batch, the options, and dlogp.
Json BatchJson(const PackedBatch& b, const Case& c, const ForwardOptions& o,
               const std::vector<float>& dlogp) {
  Json batch = Json::Object();
  batch.Set("tokens", IntArray(b.tokens));
  batch.Set("seq_start", IntArray(b.seq_start));
  batch.Set("targets", IntArray(b.targets));
  Json kept = Json::Array();
  for (const auto& k : b.kept) kept.Push(IntArray(k));
  batch.Set("kept", kept);
  batch.Set("forced_experts", IntArray(b.forced_experts));
  batch.Set("mode",
            Json::String(c.mode == AttentionMode::kDense
                             ? "dense"
                             : (c.mode == AttentionMode::kSparse ? "sparse" : "dense_warmup")));
  batch.Set("indexer_loss", Json::Bool(c.indexer_loss));
  batch.Set("detach_indexer", Json::Bool(c.detach));
  batch.Set("indexer_loss_scale", Json::Number(o.indexer_loss_scale));
  Json dl = Json::Array();
  for (float x : dlogp) dl.Push(Json::Number(x));
  batch.Set("dlogp", dl);
  return batch;
}

// Our results for the script to compare: log-probs, every gradient, and the discrete choices
// (top-k indices per layer, routed experts) it replays. Points into `m` and `r`.
std::vector<TensorToWrite> OurResults(Transformer* m, const ForwardResult& r) {
  std::vector<TensorToWrite> ours;
  ours.push_back({"logp", Dtype::kF32, {int64_t(r.logp.size())}, r.logp.data()});
  for (const TensorInfo& t : m->table().tensors()) {
    ours.push_back({"grad." + t.name, Dtype::kF32, t.shape, m->grads() + t.offset});
  }
  for (int l = 0; l < m->dims().n_layers; ++l) {
    const auto& idx = m->layer_acts(l).indices;
    if (!idx.empty()) {
      ours.push_back(
          {"indices." + std::to_string(l), Dtype::kI32, {int64_t(idx.size())}, idx.data()});
    }
  }
  if (!r.routed_experts.empty()) {
    ours.push_back(
        {"experts", Dtype::kI32, {int64_t(r.routed_experts.size())}, r.routed_experts.data()});
  }
  return ours;
}

class ReferenceTest : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceTest, LogProbsAndGradientsMatchPyTorch) {
  DSARL_REQUIRE(HaveTorch(), "PyTorch and numpy for "
                                 << kPython << " (apt-get install python3-torch python3-numpy)");
  const Case c = GetParam();
  ModelDims d = testing::TinyTestDims(c.moe, c.mode);
  if (c.yarn) {
    d.yarn_factor = 4.0f;
    d.yarn_original_max_pos = 16;
    d.yarn_mscale = 0.8f;
    d.yarn_mscale_all_dim = 0.7f;
  }
  Transformer m(d);
  m.InitRandom(99);
  PackedBatch b = testing::RandomBatch({19, 11}, d.vocab, 17);
  std::mt19937 rng(4);
  if (c.kept) {
    b.kept.resize(b.tokens.size());
    for (size_t t = 1; t < b.tokens.size(); t += 3) {
      b.kept[t] = {b.targets[t], int((b.targets[t] + 3) % d.vocab),
                   int((b.targets[t] + 5) % d.vocab)};
    }
  }
  if (c.forced) {
    ASSERT_OK_AND_ASSIGN(auto rec, m.Forward(b, ForwardOptions{}));
    b.forced_experts = rec.routed_experts;
    std::reverse(b.forced_experts.begin(), b.forced_experts.end());  // a different, valid routing
  }
  ForwardOptions o;
  o.mode = c.mode;
  o.indexer_loss = c.indexer_loss;
  o.detach_indexer = c.detach;
  o.indexer_loss_scale = 0.1f;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> dlogp(b.tokens.size());
  for (float& x : dlogp) x = u(rng);
  m.ZeroGrad();
  ASSERT_OK_AND_ASSIGN(ForwardResult r, m.Forward(b, o));
  ASSERT_OK(m.Backward(dlogp.data()));

  // Per process: CTest runs this test and its `.avx2` twin at the same time.
  const std::string dir =
      ::testing::TempDir() + "/dsarl_ref_" + std::to_string(getpid()) + "_" + c.name;
  std::filesystem::remove_all(dir);
  ASSERT_OK(SaveCheckpoint(dir, m));
  std::ofstream(dir + "/batch.json") << BatchJson(b, c, o, dlogp).Dump();
  ASSERT_OK(WriteSafetensors(dir + "/ours.safetensors", OurResults(&m, r)));
  const std::string cmd = std::string(kPython) + " " + DSARL_SOURCE_DIR +
                          "/tests/reference/dsa_reference.py " + dir + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
  const int rc = pclose(pipe);
  std::cout << out;
  EXPECT_EQ(rc, 0) << out;
}

INSTANTIATE_TEST_SUITE_P(
    Configs, ReferenceTest,
    ::testing::Values(
        Case{.name = "dense", .mode = AttentionMode::kDense},
        Case{.name = "sparse_kept", .kept = true}, Case{.name = "sparse_yarn", .yarn = true},
        Case{.name = "sparse_indexer_not_detached", .indexer_loss = true, .detach = false},
        Case{.name = "warmup", .mode = AttentionMode::kDenseWarmup, .indexer_loss = true},
        Case{.name = "moe", .moe = true}, Case{.name = "moe_forced", .moe = true, .forced = true}),
    [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

}  // namespace
}  // namespace dsarl::model
