#include "model/config_json.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace dsarl::model {
namespace {

const char* ModeName(AttentionMode m) {
  switch (m) {
    case AttentionMode::kDense:
      return "dense";
    case AttentionMode::kDenseWarmup:
      return "dense_warmup";
    default:
      return "sparse";
  }
}

// Fields that describe the file or a runtime default, not the model: accepted and not used.
// (transformers writes the first group on every save; the second is PreTrainedConfig's generic
// attributes, which older versions wrote too.)
const std::set<std::string_view>& MetadataKeys() {
  static const auto* keys = new std::set<std::string_view>{"architectures",
                                                           "model_type",
                                                           "transformers_version",
                                                           "dtype",
                                                           "torch_dtype",
                                                           "use_cache",
                                                           "output_router_logits",
                                                           "initializer_range",
                                                           "bos_token_id",
                                                           "eos_token_id",
                                                           "pad_token_id",
                                                           "dsarl_attention_mode",
                                                           "num_nextn_predict_layers",
                                                           "_name_or_path",
                                                           "auto_map",
                                                           "return_dict",
                                                           "output_hidden_states",
                                                           "output_attentions",
                                                           "torchscript",
                                                           "tie_encoder_decoder",
                                                           "is_encoder_decoder",
                                                           "is_decoder",
                                                           "add_cross_attention",
                                                           "chunk_size_feed_forward",
                                                           "id2label",
                                                           "label2id",
                                                           "problem_type",
                                                           "tokenizer_class",
                                                           "prefix",
                                                           "sep_token_id",
                                                           "decoder_start_token_id",
                                                           "task_specific_params",
                                                           "router_aux_loss_coef",
                                                           "aux_loss_alpha",
                                                           "seq_aux"};
  return *keys;
}

// Fields read into ModelDims or checked against them (DimsFromConfigJson).
const std::set<std::string_view>& ModelKeys() {
  static const auto* keys = new std::set<std::string_view>{"vocab_size",
                                                           "hidden_size",
                                                           "intermediate_size",
                                                           "moe_intermediate_size",
                                                           "num_hidden_layers",
                                                           "num_attention_heads",
                                                           "num_key_value_heads",
                                                           "q_lora_rank",
                                                           "kv_lora_rank",
                                                           "qk_nope_head_dim",
                                                           "qk_rope_head_dim",
                                                           "v_head_dim",
                                                           "qk_head_dim",
                                                           "head_dim",
                                                           "index_n_heads",
                                                           "index_head_dim",
                                                           "index_topk",
                                                           "n_routed_experts",
                                                           "n_shared_experts",
                                                           "num_experts_per_tok",
                                                           "first_k_dense_replace",
                                                           "moe_layer_freq",
                                                           "n_group",
                                                           "topk_group",
                                                           "routed_scaling_factor",
                                                           "norm_topk_prob",
                                                           "scoring_func",
                                                           "topk_method",
                                                           "hidden_act",
                                                           "max_position_embeddings",
                                                           "rms_norm_eps",
                                                           "rope_theta",
                                                           "rope_scaling",
                                                           "rope_parameters",
                                                           "attention_bias",
                                                           "mlp_bias",
                                                           "attention_dropout",
                                                           "tie_word_embeddings",
                                                           "mlp_layer_types",
                                                           "layer_types",
                                                           "ep_size"};
  return *keys;
}

std::vector<std::string> MlpLayerTypes(const ModelDims& d) {
  std::vector<std::string> out;
  for (int l = 0; l < d.n_layers; ++l) out.push_back(d.is_moe_layer(l) ? "sparse" : "dense");
  return out;
}

Json StringArray(const std::vector<std::string>& items) {
  Json a = Json::Array();
  for (const std::string& s : items) a.Push(Json::String(s));
  return a;
}

// rope_parameters (transformers 5) and rope_scaling (DeepSeek, transformers 4) for `d`.
Json RopeParameters(const ModelDims& d, bool legacy) {
  Json p = Json::Object();
  if (!legacy) {
    p.Set("rope_type", Json::String(d.yarn_factor > 1.0f ? "yarn" : "default"));
    p.Set("rope_theta", Json::Number(d.rope_theta));
  } else {
    p.Set("type", Json::String("yarn"));
  }
  if (d.yarn_factor > 1.0f) {
    p.Set("factor", Json::Number(d.yarn_factor));
    p.Set("original_max_position_embeddings", Json::Int(d.yarn_original_max_pos));
    p.Set("beta_fast", Json::Number(d.yarn_beta_fast));
    p.Set("beta_slow", Json::Number(d.yarn_beta_slow));
    p.Set("mscale", Json::Number(d.yarn_mscale));
    p.Set("mscale_all_dim", Json::Number(d.yarn_mscale_all_dim));
  }
  return p;
}

}  // namespace

Json ConfigJson(const ModelDims& d, const ConfigTokenIds& ids) {
  Json c = Json::Object();
  c.Set("architectures", Json::Array({Json::String("DeepseekV32ForCausalLM")}));
  c.Set("model_type", Json::String("deepseek_v32"));
  c.Set("vocab_size", Json::Int(d.vocab));
  c.Set("hidden_size", Json::Int(d.d_model));
  c.Set("intermediate_size", Json::Int(d.ffn));
  c.Set("moe_intermediate_size", Json::Int(d.moe_ffn));
  c.Set("num_hidden_layers", Json::Int(d.n_layers));
  c.Set("num_attention_heads", Json::Int(d.n_heads));
  c.Set("num_key_value_heads", Json::Int(d.n_heads));
  c.Set("q_lora_rank", Json::Int(d.q_lora));
  c.Set("kv_lora_rank", Json::Int(d.d_c));
  c.Set("qk_nope_head_dim", Json::Int(d.nope));
  c.Set("qk_rope_head_dim", Json::Int(d.rope));
  c.Set("v_head_dim", Json::Int(d.v_head));
  c.Set("index_n_heads", Json::Int(d.index_heads));
  c.Set("index_head_dim", Json::Int(d.index_dim));
  c.Set("index_topk", Json::Int(d.index_topk));
  // 0 without experts: transformers' config types it as an int (null is refused there).
  c.Set("n_routed_experts", Json::Int(d.n_routed));
  c.Set("n_shared_experts", Json::Int(d.n_shared));
  c.Set("num_experts_per_tok", Json::Int(d.experts_per_tok));
  c.Set("first_k_dense_replace", Json::Int(d.n_routed > 0 ? d.first_k_dense : d.n_layers));
  c.Set("mlp_layer_types", StringArray(MlpLayerTypes(d)));
  c.Set("moe_layer_freq", Json::Int(1));
  c.Set("n_group", Json::Int(d.n_group));
  c.Set("topk_group", Json::Int(d.topk_group));
  c.Set("routed_scaling_factor", Json::Number(d.routed_scale));
  c.Set("norm_topk_prob", Json::Bool(d.norm_topk_prob));
  c.Set("scoring_func", Json::String("sigmoid"));
  c.Set("topk_method", Json::String("noaux_tc"));
  c.Set("hidden_act", Json::String("silu"));
  c.Set("max_position_embeddings", Json::Int(d.max_pos));
  c.Set("initializer_range", Json::Number(d.init_std));
  c.Set("rms_norm_eps", Json::Number(d.eps));
  c.Set("rope_parameters", RopeParameters(d, /*legacy=*/false));
  c.Set("rope_theta", Json::Number(d.rope_theta));
  c.Set("rope_scaling", d.yarn_factor > 1.0f ? RopeParameters(d, /*legacy=*/true) : Json());
  c.Set("attention_bias", Json::Bool(false));
  c.Set("attention_dropout", Json::Number(0.0));
  c.Set("mlp_bias", Json::Bool(false));
  c.Set("tie_word_embeddings", Json::Bool(false));
  c.Set("use_cache", Json::Bool(true));
  c.Set("bos_token_id", ids.bos >= 0 ? Json::Int(ids.bos) : Json());
  c.Set("eos_token_id", ids.eos >= 0 ? Json::Int(ids.eos) : Json());
  c.Set("pad_token_id", ids.pad >= 0 ? Json::Int(ids.pad) : Json());
  c.Set("dtype", Json::String("float32"));
  c.Set("dsarl_attention_mode", Json::String(ModeName(d.mode)));
  return c;
}

Json GenerationConfigJson(const ConfigTokenIds& ids) {
  Json g = Json::Object();
  g.Set("bos_token_id", ids.bos >= 0 ? Json::Int(ids.bos) : Json());
  g.Set("eos_token_id", ids.eos >= 0 ? Json::Int(ids.eos) : Json());
  g.Set("pad_token_id", ids.pad >= 0 ? Json::Int(ids.pad) : Json());
  g.Set("do_sample", Json::Bool(false));
  return g;
}

}  // namespace dsarl::model

namespace dsarl::model {
namespace {

absl::Status Bad(const std::string& source, absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": \"", key, "\" ", what));
}

// Every key is known: read, checked or metadata.
absl::Status CheckKeys(const Json& c, const std::string& source) {
  for (const auto& [key, value] : c.object()) {
    if (ModelKeys().count(key) > 0 || MetadataKeys().count(key) > 0) continue;
    if (key == "quantization_config") {
      return Bad(source, key,
                 "is set: quantized (FP8) weights are not supported; dequantize the checkpoint to "
                 "float32 or bfloat16 first");
    }
    return Bad(source, key,
               "is not a DeepSeek-V3.2 config field dsarl knows; refusing it rather than ignoring "
               "something that might change the model");
  }
  return absl::OkStatus();
}

absl::Status GetInt(const Json& obj, const std::string& source, absl::string_view prefix,
                    const char* key, int* out, bool required) {
  const Json* v = obj.Find(key);
  if (v == nullptr || v->is_null()) {
    if (required) return Bad(source, absl::StrCat(prefix, key), "is missing");
    return absl::OkStatus();
  }
  if (!v->is_integer() || v->int_value() < 0 || v->int_value() > (1 << 30)) {
    return Bad(source, absl::StrCat(prefix, key), "must be a non-negative integer");
  }
  *out = static_cast<int>(v->int_value());
  return absl::OkStatus();
}

absl::Status GetFloat(const Json& obj, const std::string& source, absl::string_view prefix,
                      const char* key, float* out) {
  const Json* v = obj.Find(key);
  if (v == nullptr || v->is_null()) return absl::OkStatus();
  if (!v->is_number()) return Bad(source, absl::StrCat(prefix, key), "must be a number");
  *out = static_cast<float>(v->number_value());
  return absl::OkStatus();
}

// `key` absent, null, or equal to `want` (a string, bool or number field with one allowed value).
absl::Status Expect(const Json& c, const std::string& source, const char* key, const Json& want,
                    absl::string_view why) {
  const Json* v = c.Find(key);
  if (v == nullptr || v->is_null()) return absl::OkStatus();
  const bool same = v->type() == want.type() &&
                    (want.is_number() ? v->number_value() == want.number_value() : *v == want);
  if (same) return absl::OkStatus();
  return Bad(source, key,
             absl::StrCat("is ", v->Dump(), ", dsarl supports only ", want.Dump(), " (", why, ")"));
}

// The rope settings of one object (rope_parameters, or the legacy rope_scaling), as read.
struct RopeFields {
  bool present = false;
  std::string type;  // "default" or "yarn"
  std::optional<float> theta;
  ModelDims yarn;  // yarn_* fields only
  std::set<std::string> yarn_keys;
};

absl::StatusOr<RopeFields> ReadRopeObject(const Json& obj, const std::string& source,
                                          const char* name) {
  RopeFields r;
  if (obj.is_null()) return r;
  if (!obj.is_object()) return Bad(source, name, "must be an object or null");
  r.present = true;
  const std::string prefix = absl::StrCat(name, ".");
  static const std::set<std::string_view> kYarn = {"factor",    "original_max_position_embeddings",
                                                   "beta_fast", "beta_slow",
                                                   "mscale",    "mscale_all_dim"};
  for (const auto& [key, value] : obj.object()) {
    if (key == "type" || key == "rope_type") {
      if (!value.is_string()) return Bad(source, prefix + key, "must be a string");
      const std::string& t = value.string_value();
      if (t != "default" && t != "yarn") {
        return Bad(source, prefix + key,
                   absl::StrCat("is \"", t, "\"; dsarl supports \"default\" and \"yarn\""));
      }
      if (!r.type.empty() && r.type != t) {
        return Bad(source, name, "has \"type\" and \"rope_type\" that differ");
      }
      r.type = t;
    } else if (key == "rope_theta") {
      if (!value.is_number() || !(value.number_value() > 0)) {
        return Bad(source, prefix + key, "must be a positive number");
      }
      r.theta = static_cast<float>(value.number_value());
    } else if (kYarn.count(key) > 0) {
      r.yarn_keys.insert(key);
    } else {
      return Bad(source, prefix + key, "is not a rope parameter dsarl knows");
    }
  }
  if (r.type.empty()) r.type = r.yarn_keys.empty() ? "default" : "yarn";
  if (r.type == "default" && !r.yarn_keys.empty()) {
    return Bad(source, name, "sets YaRN parameters but its rope type is \"default\"");
  }
  const std::pair<const char*, float*> floats[] = {{"factor", &r.yarn.yarn_factor},
                                                   {"beta_fast", &r.yarn.yarn_beta_fast},
                                                   {"beta_slow", &r.yarn.yarn_beta_slow},
                                                   {"mscale", &r.yarn.yarn_mscale},
                                                   {"mscale_all_dim", &r.yarn.yarn_mscale_all_dim}};
  for (const auto& [key, out] : floats) RETURN_IF_ERROR(GetFloat(obj, source, prefix, key, out));
  RETURN_IF_ERROR(GetInt(obj, source, prefix, "original_max_position_embeddings",
                         &r.yarn.yarn_original_max_pos, false));
  if (r.type == "yarn" && !(r.yarn.yarn_factor > 1.0f)) {
    return Bad(source, prefix + "factor", "must be greater than 1 for YaRN");
  }
  return r;
}

bool Close(float a, float b) { return std::fabs(a - b) <= 1e-6f * std::max(1.0f, std::fabs(b)); }

// rope_theta, rope_scaling and rope_parameters into `d`, refusing any two that disagree.
absl::Status ReadRope(const Json& c, const std::string& source, ModelDims* d) {
  RETURN_IF_ERROR(GetFloat(c, source, "", "rope_theta", &d->rope_theta));
  const Json* top_theta = c.Find("rope_theta");
  const bool has_top_theta = top_theta != nullptr && !top_theta->is_null();
  const Json* legacy_json = c.Find("rope_scaling");
  const Json* params_json = c.Find("rope_parameters");
  ASSIGN_OR_RETURN(RopeFields legacy,
                   ReadRopeObject(legacy_json ? *legacy_json : Json(), source, "rope_scaling"));
  ASSIGN_OR_RETURN(RopeFields params,
                   ReadRopeObject(params_json ? *params_json : Json(), source, "rope_parameters"));
  if (legacy.theta.has_value()) {
    return Bad(source, "rope_scaling.rope_theta", "belongs in rope_theta or rope_parameters");
  }
  if (params.present && params.theta.has_value()) {
    if (has_top_theta && !Close(*params.theta, d->rope_theta)) {
      return Bad(source, "rope_parameters.rope_theta",
                 absl::StrCat("is ", *params.theta, " but \"rope_theta\" is ", d->rope_theta,
                              "; the two must agree (or drop one)"));
    }
    d->rope_theta = *params.theta;
  }
  if (params.present && legacy.present) {
    if (params.type != legacy.type) {
      return Bad(
          source, "rope_parameters.rope_type",
          absl::StrCat("is \"", params.type, "\" but \"rope_scaling\" says \"", legacy.type, "\""));
    }
    const std::pair<float, float> pairs[] = {
        {params.yarn.yarn_factor, legacy.yarn.yarn_factor},
        {params.yarn.yarn_beta_fast, legacy.yarn.yarn_beta_fast},
        {params.yarn.yarn_beta_slow, legacy.yarn.yarn_beta_slow},
        {params.yarn.yarn_mscale, legacy.yarn.yarn_mscale},
        {params.yarn.yarn_mscale_all_dim, legacy.yarn.yarn_mscale_all_dim},
        {float(params.yarn.yarn_original_max_pos), float(legacy.yarn.yarn_original_max_pos)}};
    for (const auto& [a, b] : pairs) {
      if (!Close(a, b)) {
        return Bad(source, "rope_parameters",
                   "and \"rope_scaling\" give different YaRN parameters; they must agree");
      }
    }
  }
  const RopeFields& r = params.present ? params : legacy;
  if (r.present && r.type == "yarn") {
    d->yarn_factor = r.yarn.yarn_factor;
    d->yarn_beta_fast = r.yarn.yarn_beta_fast;
    d->yarn_beta_slow = r.yarn.yarn_beta_slow;
    d->yarn_mscale = r.yarn.yarn_mscale;
    d->yarn_mscale_all_dim = r.yarn.yarn_mscale_all_dim;
    d->yarn_original_max_pos = r.yarn.yarn_original_max_pos;
  }
  return absl::OkStatus();
}

absl::Status ReadSizes(const Json& c, const std::string& source, ModelDims* d) {
  const std::pair<const char*, int*> required[] = {{"vocab_size", &d->vocab},
                                                   {"hidden_size", &d->d_model},
                                                   {"intermediate_size", &d->ffn},
                                                   {"num_hidden_layers", &d->n_layers},
                                                   {"num_attention_heads", &d->n_heads},
                                                   {"q_lora_rank", &d->q_lora},
                                                   {"kv_lora_rank", &d->d_c},
                                                   {"qk_nope_head_dim", &d->nope},
                                                   {"qk_rope_head_dim", &d->rope},
                                                   {"v_head_dim", &d->v_head},
                                                   {"index_n_heads", &d->index_heads},
                                                   {"index_head_dim", &d->index_dim},
                                                   {"index_topk", &d->index_topk},
                                                   {"max_position_embeddings", &d->max_pos}};
  for (const auto& [key, out] : required) RETURN_IF_ERROR(GetInt(c, source, "", key, out, true));
  const std::pair<const char*, int*> optional[] = {{"n_routed_experts", &d->n_routed},
                                                   {"moe_intermediate_size", &d->moe_ffn},
                                                   {"n_shared_experts", &d->n_shared},
                                                   {"num_experts_per_tok", &d->experts_per_tok},
                                                   {"first_k_dense_replace", &d->first_k_dense},
                                                   {"n_group", &d->n_group},
                                                   {"topk_group", &d->topk_group}};
  for (const auto& [key, out] : optional) RETURN_IF_ERROR(GetInt(c, source, "", key, out, false));
  RETURN_IF_ERROR(GetFloat(c, source, "", "routed_scaling_factor", &d->routed_scale));
  RETURN_IF_ERROR(GetFloat(c, source, "", "rms_norm_eps", &d->eps));
  RETURN_IF_ERROR(GetFloat(c, source, "", "initializer_range", &d->init_std));
  if (const Json* v = c.Find("norm_topk_prob"); v != nullptr && !v->is_null()) {
    if (!v->is_bool()) return Bad(source, "norm_topk_prob", "must be true or false");
    d->norm_topk_prob = v->bool_value();
  }
  // Derived sizes transformers writes: they must be what the sizes above imply.
  const std::pair<const char*, int> derived[] = {{"num_key_value_heads", d->n_heads},
                                                 {"head_dim", d->rope},
                                                 {"qk_head_dim", d->nope + d->rope}};
  for (const auto& [key, want] : derived) {
    int got = want;
    RETURN_IF_ERROR(GetInt(c, source, "", key, &got, false));
    if (got != want) {
      return Bad(source, key, absl::StrCat("is ", got, "; the other sizes make it ", want));
    }
  }
  return absl::OkStatus();
}

// layer_types, and mlp_layer_types (transformers 5) against first_k_dense_replace and
// n_routed_experts.
absl::Status ReadMlpLayerTypes(const Json& c, const std::string& source, ModelDims* d) {
  if (const Json* lt = c.Find("layer_types"); lt != nullptr && !lt->is_null()) {
    bool ok = lt->is_array() && static_cast<int>(lt->array().size()) == d->n_layers;
    for (const Json& s : lt->array())
      ok &= s.is_string() && s.string_value() == "indexed_attention";
    if (!ok) {
      return Bad(source, "layer_types",
                 "must be \"indexed_attention\" for each of num_hidden_layers layers");
    }
  }
  const Json* v = c.Find("mlp_layer_types");
  if (v == nullptr || v->is_null()) return absl::OkStatus();
  if (!v->is_array() || static_cast<int>(v->array().size()) != d->n_layers) {
    return Bad(source, "mlp_layer_types",
               absl::StrCat("must be a list of num_hidden_layers = ", d->n_layers, " strings"));
  }
  int dense_prefix = 0;
  bool seen_sparse = false;
  for (const Json& t : v->array()) {
    const std::string s = t.is_string() ? t.string_value() : "";
    if (s != "dense" && s != "sparse") {
      return Bad(source, "mlp_layer_types", "may hold only \"dense\" and \"sparse\"");
    }
    if (s == "dense" && seen_sparse) {
      return Bad(source, "mlp_layer_types",
                 "has a dense layer after a sparse one; dsarl's MoE layers are the last ones");
    }
    seen_sparse |= s == "sparse";
    dense_prefix += s == "dense";
  }
  if (seen_sparse && d->n_routed == 0) {
    return Bad(source, "mlp_layer_types", "has sparse (MoE) layers but n_routed_experts is 0");
  }
  const Json* fk = c.Find("first_k_dense_replace");
  const int first_k = seen_sparse ? dense_prefix : d->n_layers;
  const int stated = d->n_routed > 0 ? std::min(d->first_k_dense, d->n_layers) : d->n_layers;
  if (fk != nullptr && !fk->is_null() && first_k != stated) {
    return Bad(source, "mlp_layer_types",
               absl::StrCat("makes ", dense_prefix,
                            " leading layer(s) dense, but "
                            "first_k_dense_replace and n_routed_experts make it ",
                            stated));
  }
  d->first_k_dense = first_k;
  return absl::OkStatus();
}

// Fields with one value dsarl implements, the architecture, and the attention mode.
absl::Status ReadFixed(const Json& c, const std::string& source, ModelDims* d) {
  RETURN_IF_ERROR(Expect(c, source, "model_type", Json::String("deepseek_v32"), "the model"));
  if (const Json* a = c.Find("architectures"); a != nullptr && !a->is_null()) {
    bool ok = a->is_array();
    for (const Json& s : a->array())
      ok &= s.is_string() && s.string_value().rfind("DeepseekV32", 0) == 0;
    if (!ok) return Bad(source, "architectures", "must name DeepseekV32ForCausalLM");
  }
  RETURN_IF_ERROR(Expect(c, source, "hidden_act", Json::String("silu"), "SwiGLU"));
  RETURN_IF_ERROR(Expect(c, source, "scoring_func", Json::String("sigmoid"), "the MoE router"));
  RETURN_IF_ERROR(Expect(c, source, "topk_method", Json::String("noaux_tc"), "the MoE router"));
  RETURN_IF_ERROR(Expect(c, source, "moe_layer_freq", Json::Int(1), "every layer after the dense"));
  RETURN_IF_ERROR(Expect(c, source, "attention_bias", Json::Bool(false), "no biases"));
  RETURN_IF_ERROR(Expect(c, source, "mlp_bias", Json::Bool(false), "no biases"));
  RETURN_IF_ERROR(Expect(c, source, "attention_dropout", Json::Number(0), "no dropout"));
  RETURN_IF_ERROR(Expect(c, source, "tie_word_embeddings", Json::Bool(false),
                         "DeepSeek-V3.2 models are untied"));
  if (const Json* m = c.Find("dsarl_attention_mode"); m != nullptr && !m->is_null()) {
    const std::string s = m->is_string() ? m->string_value() : "";
    if (s == "dense") {
      d->mode = AttentionMode::kDense;
    } else if (s == "dense_warmup") {
      d->mode = AttentionMode::kDenseWarmup;
    } else if (s == "sparse") {
      d->mode = AttentionMode::kSparse;
    } else {
      return Bad(source, "dsarl_attention_mode",
                 "must be \"dense\", \"dense_warmup\" or \"sparse\"");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelDims> DimsFromConfigJson(const Json& c, const std::string& source) {
  if (!c.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  }
  RETURN_IF_ERROR(CheckKeys(c, source));
  ModelDims d;
  RETURN_IF_ERROR(ReadSizes(c, source, &d));
  RETURN_IF_ERROR(ReadFixed(c, source, &d));
  RETURN_IF_ERROR(ReadRope(c, source, &d));
  if (d.n_routed == 0) d.first_k_dense = d.n_layers;
  if (d.rope % 2 != 0 || d.index_dim < d.rope || d.vocab <= 0 || d.d_model <= 0 ||
      (d.n_routed > 0 && (d.n_group <= 0 || d.n_routed % d.n_group != 0 ||
                          d.experts_per_tok > d.n_routed || d.topk_group > d.n_group))) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": inconsistent model sizes"));
  }
  RETURN_IF_ERROR(ValidateDims(d, source, DimNames::kConfigJson));
  // Per-layer lists after the sizes: an out-of-range layer count is named as such first.
  RETURN_IF_ERROR(ReadMlpLayerTypes(c, source, &d));
  return d;
}

}  // namespace dsarl::model
