// Checkpoints written by Hugging Face transformers' own save_pretrained (tests/model/data/hf, made
// by scripts/make_hf_fixture.py): dsarl loads them as they are (rope_parameters with a non-default
// theta, YaRN, MoE with per-expert tensors) and its log-probs match the ones transformers computed,
// dense and sparse (transformers aligned to dsarl's tie rule). The full round trip with a live
// transformers is scripts/check_hf.sh; this keeps CI honest without installing torch.
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "base/json.h"
#include "gtest/gtest.h"
#include "model/checkpoint.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

std::string FixtureDir(const std::string& kind) {
  return std::string(DSARL_SOURCE_DIR) + "/tests/model/data/hf/" + kind;
}

Json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  absl::StatusOr<Json> j = ParseJson(ss.str());
  EXPECT_TRUE(j.ok()) << path << ": " << j.status();
  return j.ok() ? *j : Json();
}

// Max |dlogp| over every scored position of every sequence of expected.json, in `mode`.
double MaxLogProbDiff(Transformer& m, const Json& expected, AttentionMode mode) {
  double worst = 0;
  for (const Json& seq : expected.Find("sequences")->array()) {
    PackedBatch b;
    b.seq_start = {0};
    const auto& ids = seq.Find("ids")->array();
    for (size_t i = 0; i < ids.size(); ++i) {
      b.tokens.push_back(static_cast<int>(ids[i].int_value()));
      b.targets.push_back(i + 1 < ids.size() ? static_cast<int>(ids[i + 1].int_value()) : -1);
    }
    b.seq_start.push_back(static_cast<int>(b.tokens.size()));
    ForwardOptions opts;
    opts.mode = mode;
    absl::StatusOr<ForwardResult> r = m.Forward(b, opts);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return INFINITY;
    const auto& want = seq.Find(mode == AttentionMode::kDense ? "dense" : "sparse")->array();
    EXPECT_EQ(want.size() + 1, ids.size());
    for (size_t t = 0; t < want.size(); ++t) {
      const double d = std::fabs(r->logp[t] - want[t].number_value());
      worst = std::isnan(d) ? INFINITY : std::max(worst, d);
    }
  }
  return worst;
}

TEST(HfFixture, TransformersSavesLoadAndScoreTheSame) {
  for (const std::string kind : {"dense", "moe"}) {
    SCOPED_TRACE(kind);
    ASSERT_OK_AND_ASSIGN(auto m, LoadCheckpoint(FixtureDir(kind)));
    const Json expected = ReadJson(FixtureDir(kind) + "/expected.json");
    ASSERT_NE(expected.Find("sequences"), nullptr);
    EXPECT_LE(MaxLogProbDiff(*m, expected, AttentionMode::kDense), 1e-5);
    EXPECT_LE(MaxLogProbDiff(*m, expected, AttentionMode::kSparse), 1e-5);
  }
}

TEST(HfFixture, RopeParametersAreRead) {
  ASSERT_OK_AND_ASSIGN(ModelDims dense, ReadCheckpointDims(FixtureDir("dense")));
  EXPECT_EQ(dense.rope_theta, 50000.0f);
  EXPECT_EQ(dense.yarn_factor, 1.0f);
  EXPECT_EQ(dense.n_routed, 0);
  ASSERT_OK_AND_ASSIGN(ModelDims moe, ReadCheckpointDims(FixtureDir("moe")));
  EXPECT_EQ(moe.rope_theta, 20000.0f);
  EXPECT_EQ(moe.yarn_factor, 2.0f);
  EXPECT_EQ(moe.yarn_original_max_pos, 64);
  EXPECT_EQ(moe.n_routed, 4);
  EXPECT_EQ(moe.first_k_dense, 1);
}

}  // namespace
}  // namespace dsarl::model
