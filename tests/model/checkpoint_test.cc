// Checkpoints: save then load is bit-exact; truncated, corrupt or mismatched files are refused
// with a message naming the tensor (or file); in-memory weights round-trip and a bad image leaves
// the model untouched.
#include "model/checkpoint.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/safetensors.h"
#include "tests/model/model_test_util.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

using ::testing::HasSubstr;

// Per process: CTest runs each test and its `.avx2` twin at the same time.
std::string TempDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/dsarl_ckpt_" + std::to_string(getpid()) + "_" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(Checkpoint, SaveThenLoadIsBitExact) {
  for (bool moe : {false, true}) {
    ModelDims d = testing::TinyTestDims(moe, AttentionMode::kSparse);
    d.yarn_factor = moe ? 4.0f : 1.0f;
    d.yarn_original_max_pos = 16;
    Transformer m(d);
    m.InitRandom(21);
    const std::string dir = TempDir(moe ? "moe" : "dense");
    ASSERT_OK(SaveCheckpoint(dir, m, {{"step", "7"}}));
    ASSERT_OK_AND_ASSIGN(auto loaded, LoadCheckpoint(dir));
    ASSERT_EQ(loaded->table().total_floats(), m.table().total_floats());
    EXPECT_EQ(std::memcmp(loaded->params(), m.params(), m.table().total_floats() * sizeof(float)),
              0);
    EXPECT_EQ(loaded->dims().n_routed, d.n_routed);
    EXPECT_EQ(loaded->dims().yarn_factor, d.yarn_factor);
    EXPECT_EQ(loaded->dims().index_topk, d.index_topk);
    ASSERT_OK_AND_ASSIGN(auto file, SafetensorsFile::Open(dir + "/model.safetensors"));
    EXPECT_EQ(file.metadata().at("step"), "7");
    // The same forward.
    PackedBatch b = testing::RandomBatch({12}, d.vocab, 1);
    ASSERT_OK_AND_ASSIGN(auto r1, m.Forward(b, ForwardOptions{}));
    ASSERT_OK_AND_ASSIGN(auto r2, loaded->Forward(b, ForwardOptions{}));
    EXPECT_EQ(r1.logp, r2.logp);
  }
}

TEST(Checkpoint, TruncatedFileIsRefused) {
  ModelDims d = testing::TinyTestDims(false, AttentionMode::kSparse);
  Transformer m(d);
  m.InitRandom(1);
  const std::string dir = TempDir("trunc");
  ASSERT_OK(SaveCheckpoint(dir, m));
  const std::string path = dir + "/model.safetensors";
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 100);
  auto r = LoadCheckpoint(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("model.safetensors"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("lm_head.weight"));
}

TEST(Checkpoint, MismatchedShapesMissingAndExtraTensorsAreNamed) {
  ModelDims d = testing::TinyTestDims(false, AttentionMode::kSparse);
  Transformer m(d);
  m.InitRandom(1);
  const std::string dir = TempDir("mismatch");
  ASSERT_OK(SaveCheckpoint(dir, m));
  // A config that promises a wider model than the tensors hold.
  ModelDims wider = d;
  wider.d_model = 40;
  std::ofstream(dir + "/config.json") << ConfigJson(wider).Dump(2);
  auto r = LoadCheckpoint(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("model.embed_tokens.weight"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("[300, 40]"));
  // A file without one tensor, and one with a stray tensor.
  std::ofstream(dir + "/config.json") << ConfigJson(d).Dump(2);
  std::vector<TensorToWrite> tensors;
  for (const TensorInfo& t : m.table().tensors()) {
    if (t.name == "model.layers.1.self_attn.indexer.wk.weight") continue;
    tensors.push_back({t.name, Dtype::kF32, t.shape, m.params() + t.offset});
  }
  ASSERT_OK(WriteSafetensors(dir + "/model.safetensors", tensors));
  r = LoadCheckpoint(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("model.layers.1.self_attn.indexer.wk.weight is missing"));
  float extra[2] = {1, 2};
  tensors.push_back(
      {"model.layers.1.self_attn.indexer.wk.weight",
       Dtype::kF32,
       {8, 32},
       m.params() + m.table().Find("model.layers.1.self_attn.indexer.wk.weight")->offset});
  tensors.push_back({"model.layers.9.mlp.gate_proj.weight", Dtype::kF32, {2}, extra});
  ASSERT_OK(WriteSafetensors(dir + "/model.safetensors", tensors));
  r = LoadCheckpoint(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("model.layers.9.mlp.gate_proj.weight"));
  EXPECT_EQ(LoadCheckpoint(TempDir("nothing")).status().code(), absl::StatusCode::kNotFound);
}

TEST(Checkpoint, WeightImagesRoundTripAndBadImagesChangeNothing) {
  ModelDims d = testing::TinyTestDims(true, AttentionMode::kSparse);
  Transformer a(d), b(d);
  a.InitRandom(1);
  b.InitRandom(2);
  ASSERT_OK_AND_ASSIGN(std::string image, SerializeWeights(a, {{"version", "3"}}));
  std::vector<float> before(b.params(), b.params() + b.table().total_floats());
  EXPECT_FALSE(DeserializeWeightsInto(image.substr(0, image.size() / 2), "half", &b).ok());
  EXPECT_EQ(std::memcmp(before.data(), b.params(), before.size() * sizeof(float)), 0);
  ASSERT_OK(DeserializeWeightsInto(image, "whole", &b));
  EXPECT_EQ(std::memcmp(a.params(), b.params(), before.size() * sizeof(float)), 0);
}

// Weights with a NaN or an infinity (a diverged run) are refused at load, naming the file and the
// tensor, instead of scoring every sequence as NaN; an image like that changes nothing.
TEST(Checkpoint, NonFiniteWeightsAreRefusedNamingTheTensor) {
  ModelDims d = testing::TinyTestDims(false, AttentionMode::kSparse);
  for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    Transformer m(d);
    m.InitRandom(3);
    const TensorInfo& t = m.table().tensors()[1];
    m.params()[t.offset + 5] = bad;
    const std::string dir = TempDir("nonfinite");
    ASSERT_OK(SaveCheckpoint(dir, m));
    const absl::Status s = LoadCheckpoint(dir).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()),
                HasSubstr(dir + "/model.safetensors: tensor " + t.name +
                          " has 1 non-finite value(s) (the first, at index 5"));

    Transformer target(d);
    target.InitRandom(4);
    std::vector<float> before(target.params(), target.params() + target.table().total_floats());
    ASSERT_OK_AND_ASSIGN(std::string image, SerializeWeights(m, {}));
    EXPECT_FALSE(DeserializeWeightsInto(image, "nan image", &target).ok());
    EXPECT_EQ(std::memcmp(before.data(), target.params(), before.size() * sizeof(float)), 0);
  }
}

}  // namespace
}  // namespace dsarl::model
