// config.json: written with the types transformers' strict DeepseekV32Config checks, read back to
// the same dims, rope_parameters and the legacy rope fields both understood, and unknown or
// contradictory fields refused by name instead of ignored.
#include "model/config_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/model_test_util.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

using ::testing::HasSubstr;

ModelDims Yarn(ModelDims d) {
  d.yarn_factor = 4.0f;
  d.yarn_original_max_pos = 16;
  d.rope_theta = 50000.0f;
  return d;
}

absl::StatusOr<ModelDims> Read(const Json& c) { return DimsFromConfigJson(c, "dir/config.json"); }

absl::Status ReadError(Json c) { return Read(c).status(); }

TEST(ConfigJson, TypesAreWhatTransformersChecks) {
  const ModelDims d = testing::TinyTestDims(false, AttentionMode::kSparse);
  const std::string text = ConfigJson(d).Dump();
  EXPECT_THAT(text, HasSubstr("\"n_routed_experts\":0"));         // an int, never null
  EXPECT_THAT(text, HasSubstr("\"routed_scaling_factor\":1.0"));  // a float, with its point
  EXPECT_THAT(text, HasSubstr("\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":"));
  EXPECT_THAT(text, HasSubstr("\"mlp_layer_types\":[\"dense\""));
}

TEST(ConfigJson, WrittenDimsReadBack) {
  for (bool moe : {false, true}) {
    const ModelDims d = Yarn(testing::TinyTestDims(moe, AttentionMode::kDense));
    ASSERT_OK_AND_ASSIGN(ModelDims back, Read(ConfigJson(d)));
    EXPECT_EQ(back.n_routed, d.n_routed);
    EXPECT_EQ(back.first_k_dense, moe ? d.first_k_dense : d.n_layers);
    EXPECT_EQ(back.rope_theta, d.rope_theta);
    EXPECT_EQ(back.yarn_factor, d.yarn_factor);
    EXPECT_EQ(back.yarn_original_max_pos, d.yarn_original_max_pos);
    EXPECT_EQ(back.mode, AttentionMode::kDense);
    EXPECT_EQ(ConfigJson(back).Dump(), ConfigJson(d).Dump());
  }
}

TEST(ConfigJson, RopeParametersAloneAreRead) {
  // transformers 5 writes rope_parameters only; theta 50000 must not read as the default.
  Json c = ConfigJson(Yarn(testing::TinyTestDims(false, AttentionMode::kSparse)));
  c.Set("rope_theta", Json());
  c.Set("rope_scaling", Json());
  ASSERT_OK_AND_ASSIGN(ModelDims d, Read(c));
  EXPECT_EQ(d.rope_theta, 50000.0f);
  EXPECT_EQ(d.yarn_factor, 4.0f);
  // And the legacy fields alone (DeepSeek's own files, transformers 4).
  Json legacy = ConfigJson(Yarn(testing::TinyTestDims(false, AttentionMode::kSparse)));
  legacy.Set("rope_parameters", Json());
  ASSERT_OK_AND_ASSIGN(ModelDims l, Read(legacy));
  EXPECT_EQ(l.rope_theta, 50000.0f);
  EXPECT_EQ(l.yarn_factor, 4.0f);
}

TEST(ConfigJson, ContradictionsAreRefused) {
  const Json base = ConfigJson(Yarn(testing::TinyTestDims(true, AttentionMode::kSparse)));
  Json theta = base;
  theta.Set("rope_theta", Json::Number(10000.0));
  EXPECT_THAT(ReadError(theta).message(), HasSubstr("\"rope_parameters.rope_theta\" is 50000"));
  Json yarn = base;
  Json scaling = *base.Find("rope_scaling");
  scaling.Set("factor", Json::Number(8.0));
  yarn.Set("rope_scaling", scaling);
  EXPECT_THAT(ReadError(yarn).message(), HasSubstr("different YaRN parameters"));
  Json layers = base;
  layers.Set("first_k_dense_replace", Json::Int(2));
  EXPECT_THAT(ReadError(layers).message(), HasSubstr("\"mlp_layer_types\""));
  Json heads = base;
  heads.Set("num_key_value_heads", Json::Int(1));
  EXPECT_THAT(ReadError(heads).message(), HasSubstr("\"num_key_value_heads\" is 1"));
}

TEST(ConfigJson, UnknownAndUnsupportedFieldsAreRefused) {
  const Json base = ConfigJson(testing::TinyTestDims(false, AttentionMode::kSparse));
  Json unknown = base;
  unknown.Set("sliding_window", Json::Int(4096));
  EXPECT_THAT(ReadError(unknown).message(),
              HasSubstr("dir/config.json: \"sliding_window\" is not a DeepSeek-V3.2 config field"));
  Json quant = base;
  quant.Set("quantization_config", Json::Object());
  EXPECT_THAT(ReadError(quant).message(), HasSubstr("quantized (FP8) weights"));
  Json rope = base;
  Json p = Json::Object();
  p.Set("rope_type", Json::String("llama3"));
  rope.Set("rope_parameters", p);
  EXPECT_THAT(ReadError(rope).message(), HasSubstr("\"rope_parameters.rope_type\" is \"llama3\""));
  Json act = base;
  act.Set("hidden_act", Json::String("gelu"));
  EXPECT_THAT(ReadError(act).message(), HasSubstr("\"hidden_act\" is \"gelu\""));
  Json dropout = base;
  dropout.Set("attention_dropout", Json::Number(0.1));
  EXPECT_THAT(ReadError(dropout).message(), HasSubstr("\"attention_dropout\""));
  Json type = base;
  type.Set("model_type", Json::String("llama"));
  EXPECT_THAT(ReadError(type).message(), HasSubstr("\"model_type\""));
}

TEST(ConfigJson, TransformersMetadataIsAccepted) {
  Json c = ConfigJson(testing::TinyTestDims(false, AttentionMode::kSparse));
  c.Set("transformers_version", Json::String("5.24.0"));
  c.Set("output_router_logits", Json::Bool(false));
  c.Set("layer_types", Json::Array());
  EXPECT_THAT(ReadError(c).message(), HasSubstr("\"layer_types\""));  // wrong length
  Json ok = ConfigJson(testing::TinyTestDims(false, AttentionMode::kSparse));
  ok.Set("transformers_version", Json::String("5.24.0"));
  ok.Set("eos_token_id", Json::Array({Json::Int(1), Json::Int(2)}));
  EXPECT_OK(Read(ok));
}

}  // namespace
}  // namespace dsarl::model
