#include "model/checkpoint.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "model/memory_estimate.h"
#include "model/safetensors.h"
#include "model/tokenizer.h"

namespace dsarl::model {
namespace {

std::string ShapeString(const std::vector<int64_t>& s) {
  return absl::StrCat("[", absl::StrJoin(s, ", "), "]");
}

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

std::vector<TensorToWrite> TensorsOf(const Transformer& model) {
  std::vector<TensorToWrite> out;
  for (const TensorInfo& t : model.table().tensors()) {
    out.push_back(TensorToWrite{t.name, Dtype::kF32, t.shape, model.params() + t.offset});
  }
  return out;
}

// InvalidArgument naming the tensor when `values` holds a NaN or an infinity: weights like that
// make every log-prob NaN, so a diverged or corrupt checkpoint is refused where it is read instead
// of being scored, sampled from or trained.
absl::Status CheckFinite(const std::string& source, const std::string& name,
                         absl::Span<const float> values) {
  float probe = 0;  // x * 0 is NaN exactly for a NaN or an infinity; the sum keeps it
  for (float v : values) probe += v * 0.0f;
  if (probe == 0) return absl::OkStatus();
  size_t bad = 0, first = values.size();
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i])) continue;
    if (bad++ == 0) first = i;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": tensor ", name, " has ", bad, " non-finite value(s) (the first, at index ", first,
      ", is ", values[first], "): the weights are unusable (a diverged run or a corrupt file)"));
}

// Validates every tensor before copying any, so a bad file leaves `model` untouched.
absl::Status LoadTensors(const SafetensorsFile& file, Transformer* model) {
  const ParamTable& table = model->table();
  for (const TensorInfo& t : table.tensors()) {
    const SafetensorsTensorInfo* info = file.Find(t.name);
    if (info == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.source(), ": tensor ", t.name, " is missing"));
    }
    if (info->shape != t.shape) {
      return absl::InvalidArgumentError(absl::StrCat(file.source(), ": tensor ", t.name,
                                                     " has shape ", ShapeString(info->shape),
                                                     ", the model expects ", ShapeString(t.shape)));
    }
    if (info->dtype != Dtype::kF32 && info->dtype != Dtype::kBF16 && info->dtype != Dtype::kF16 &&
        info->dtype != Dtype::kF64) {
      return absl::InvalidArgumentError(absl::StrCat(file.source(), ": tensor ", t.name,
                                                     " has dtype ", DtypeName(info->dtype),
                                                     "; expected a floating-point type"));
    }
  }
  for (const SafetensorsTensorInfo& info : file.tensors()) {
    if (table.Find(info.name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(file.source(), ": tensor ", info.name,
                                                     " is not part of this model's configuration"));
    }
  }
  // Checked before anything is written, so a bad image leaves the model as it was.
  std::vector<float> scratch;
  for (const TensorInfo& t : table.tensors()) {
    scratch.resize(t.numel);
    RETURN_IF_ERROR(file.ReadFloat32Into(t.name, absl::MakeSpan(scratch)));
    RETURN_IF_ERROR(CheckFinite(file.source(), t.name, scratch));
  }
  for (const TensorInfo& t : table.tensors()) {
    RETURN_IF_ERROR(
        file.ReadFloat32Into(t.name, absl::Span<float>(model->params() + t.offset, t.numel)));
  }
  return absl::OkStatus();
}

}  // namespace

Json ConfigJson(const ModelDims& d) {
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
  c.Set("n_routed_experts", d.n_routed > 0 ? Json::Int(d.n_routed) : Json());
  c.Set("n_shared_experts", Json::Int(d.n_shared));
  c.Set("num_experts_per_tok", Json::Int(d.experts_per_tok));
  c.Set("first_k_dense_replace", Json::Int(d.n_routed > 0 ? d.first_k_dense : d.n_layers));
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
  c.Set("rope_theta", Json::Number(d.rope_theta));
  if (d.yarn_factor > 1.0f) {
    Json y = Json::Object();
    y.Set("type", Json::String("yarn"));
    y.Set("factor", Json::Number(d.yarn_factor));
    y.Set("original_max_position_embeddings", Json::Int(d.yarn_original_max_pos));
    y.Set("beta_fast", Json::Number(d.yarn_beta_fast));
    y.Set("beta_slow", Json::Number(d.yarn_beta_slow));
    y.Set("mscale", Json::Number(d.yarn_mscale));
    y.Set("mscale_all_dim", Json::Number(d.yarn_mscale_all_dim));
    c.Set("rope_scaling", y);
  } else {
    c.Set("rope_scaling", Json());
  }
  c.Set("attention_bias", Json::Bool(false));
  c.Set("tie_word_embeddings", Json::Bool(false));
  c.Set("use_cache", Json::Bool(true));
  c.Set("bos_token_id", Json::Int(kBosId));
  c.Set("eos_token_id", Json::Int(kEosId));
  c.Set("pad_token_id", Json::Int(kPadId));
  c.Set("torch_dtype", Json::String("float32"));
  c.Set("dsarl_attention_mode", Json::String(ModeName(d.mode)));
  return c;
}

namespace {

// config.json's "rope_scaling" object (YaRN) into `d`.
absl::Status ReadYarn(const Json& y, const std::string& source, ModelDims* d) {
  const std::pair<const char*, float*> floats[] = {{"factor", &d->yarn_factor},
                                                   {"beta_fast", &d->yarn_beta_fast},
                                                   {"beta_slow", &d->yarn_beta_slow},
                                                   {"mscale", &d->yarn_mscale},
                                                   {"mscale_all_dim", &d->yarn_mscale_all_dim}};
  for (const auto& [key, out] : floats) {
    const Json* v = y.Find(key);
    if (v == nullptr || v->is_null()) continue;
    if (!v->is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": \"rope_scaling.", key, "\" must be a number"));
    }
    *out = static_cast<float>(v->number_value());
  }
  if (const Json* o = y.Find("original_max_position_embeddings"); o && o->is_integer()) {
    if (o->int_value() < 1 || o->int_value() > (1 << 30)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": \"rope_scaling.original_max_position_embeddings\" is out of range"));
    }
    d->yarn_original_max_pos = static_cast<int>(o->int_value());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelDims> DimsFromConfigJson(const Json& c, const std::string& source) {
  if (!c.is_object())
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  auto get_int = [&](const char* key, int* out, bool required) -> absl::Status {
    const Json* v = c.Find(key);
    if (v == nullptr || v->is_null()) {
      if (required)
        return absl::InvalidArgumentError(absl::StrCat(source, ": missing \"", key, "\""));
      return absl::OkStatus();
    }
    if (!v->is_integer() || v->int_value() < 0 || v->int_value() > (1 << 30)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": \"", key, "\" must be a non-negative integer"));
    }
    *out = static_cast<int>(v->int_value());
    return absl::OkStatus();
  };
  auto get_float = [&](const Json& obj, const char* key, float* out) -> absl::Status {
    const Json* v = obj.Find(key);
    if (v == nullptr || v->is_null()) return absl::OkStatus();
    if (!v->is_number()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": \"", key, "\" must be a number"));
    }
    *out = static_cast<float>(v->number_value());
    return absl::OkStatus();
  };
  ModelDims d;
  RETURN_IF_ERROR(get_int("vocab_size", &d.vocab, true));
  RETURN_IF_ERROR(get_int("hidden_size", &d.d_model, true));
  RETURN_IF_ERROR(get_int("intermediate_size", &d.ffn, true));
  RETURN_IF_ERROR(get_int("num_hidden_layers", &d.n_layers, true));
  RETURN_IF_ERROR(get_int("num_attention_heads", &d.n_heads, true));
  RETURN_IF_ERROR(get_int("q_lora_rank", &d.q_lora, true));
  RETURN_IF_ERROR(get_int("kv_lora_rank", &d.d_c, true));
  RETURN_IF_ERROR(get_int("qk_nope_head_dim", &d.nope, true));
  RETURN_IF_ERROR(get_int("qk_rope_head_dim", &d.rope, true));
  RETURN_IF_ERROR(get_int("v_head_dim", &d.v_head, true));
  RETURN_IF_ERROR(get_int("index_n_heads", &d.index_heads, true));
  RETURN_IF_ERROR(get_int("index_head_dim", &d.index_dim, true));
  RETURN_IF_ERROR(get_int("index_topk", &d.index_topk, true));
  RETURN_IF_ERROR(get_int("max_position_embeddings", &d.max_pos, true));
  RETURN_IF_ERROR(get_int("n_routed_experts", &d.n_routed, false));
  RETURN_IF_ERROR(get_int("moe_intermediate_size", &d.moe_ffn, false));
  RETURN_IF_ERROR(get_int("n_shared_experts", &d.n_shared, false));
  RETURN_IF_ERROR(get_int("num_experts_per_tok", &d.experts_per_tok, false));
  RETURN_IF_ERROR(get_int("first_k_dense_replace", &d.first_k_dense, false));
  RETURN_IF_ERROR(get_int("n_group", &d.n_group, false));
  RETURN_IF_ERROR(get_int("topk_group", &d.topk_group, false));
  RETURN_IF_ERROR(get_float(c, "routed_scaling_factor", &d.routed_scale));
  RETURN_IF_ERROR(get_float(c, "rms_norm_eps", &d.eps));
  RETURN_IF_ERROR(get_float(c, "rope_theta", &d.rope_theta));
  RETURN_IF_ERROR(get_float(c, "initializer_range", &d.init_std));
  if (const Json* v = c.Find("norm_topk_prob"); v != nullptr && v->is_bool()) {
    d.norm_topk_prob = v->bool_value();
  }
  if (const Json* y = c.Find("rope_scaling"); y != nullptr && y->is_object()) {
    RETURN_IF_ERROR(ReadYarn(*y, source, &d));
  }
  if (const Json* t = c.Find("tie_word_embeddings"); t != nullptr && t->bool_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": tie_word_embeddings is true; DeepSeek-V3.2 models are untied"));
  }
  if (const Json* m = c.Find("dsarl_attention_mode"); m != nullptr && m->is_string()) {
    const std::string& s = m->string_value();
    d.mode = s == "dense"
                 ? AttentionMode::kDense
                 : (s == "dense_warmup" ? AttentionMode::kDenseWarmup : AttentionMode::kSparse);
  }
  if (d.n_routed == 0) d.first_k_dense = d.n_layers;
  if (d.rope % 2 != 0 || d.index_dim < d.rope || d.vocab <= 0 || d.d_model <= 0 ||
      (d.n_routed > 0 && (d.n_group <= 0 || d.n_routed % d.n_group != 0 ||
                          d.experts_per_tok > d.n_routed || d.topk_group > d.n_group))) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": inconsistent model sizes"));
  }
  RETURN_IF_ERROR(ValidateDims(d, source, DimNames::kConfigJson));
  return d;
}

absl::Status SaveCheckpoint(const std::string& dir, const Transformer& model,
                            const std::map<std::string, std::string>& metadata) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat(dir, ": cannot create directory: ", ec.message()));
  SafetensorsMetadata meta(metadata.begin(), metadata.end());
  meta["format"] = "pt";
  RETURN_IF_ERROR(WriteSafetensors(dir + "/model.safetensors", TensorsOf(model), meta));
  const std::string cfg = ConfigJson(model.dims()).Dump(2) + "\n";
  const std::string tmp = dir + "/config.json.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << cfg;
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat(tmp, ": write failed (disk full?)"));
  }
  std::filesystem::rename(tmp, dir + "/config.json", ec);
  if (ec)
    return absl::InternalError(absl::StrCat(dir, "/config.json: rename failed: ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<ModelDims> ReadCheckpointDims(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  ASSIGN_OR_RETURN(std::string text, ReadFileBounded(cfg_path, kMaxTextFileBytes, "config.json"));
  auto json = ParseJson(text);
  if (!json.ok()) return Annotate(json.status(), cfg_path);
  return DimsFromConfigJson(*json, cfg_path);
}

absl::StatusOr<std::unique_ptr<Transformer>> LoadCheckpoint(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  ASSIGN_OR_RETURN(ModelDims dims, ReadCheckpointDims(dir));
  // The weights and the file image at once, checked before either is allocated.
  RETURN_IF_ERROR(CheckFitsInMemory(
      2 * ParameterBytes(dims),
      absl::StrCat(cfg_path, ": loading a model of ", ParameterCount(dims), " parameters")));
  ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(dir + "/model.safetensors"));
  auto model = std::make_unique<Transformer>(dims);
  RETURN_IF_ERROR(LoadTensors(file, model.get()));
  return model;
}

absl::StatusOr<std::string> SerializeWeights(const Transformer& model,
                                             const std::map<std::string, std::string>& metadata) {
  SafetensorsMetadata meta(metadata.begin(), metadata.end());
  return SerializeSafetensors(TensorsOf(model), meta);
}

absl::Status DeserializeWeightsInto(std::string bytes, const std::string& source,
                                    Transformer* model) {
  ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::FromBytes(std::move(bytes), source));
  return LoadTensors(file, model);
}

}  // namespace dsarl::model
