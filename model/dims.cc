#include "model/dims.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace dsarl::model {
namespace {

// YaRN's attention temperature correction (DeepSeek: yarn_get_mscale).
float YarnMscale(float scale, float mscale) {
  if (scale <= 1.0f) return 1.0f;
  return 0.1f * mscale * std::log(scale) + 1.0f;
}

int64_t MlpParams(int64_t d_model, int64_t hidden) { return 3 * d_model * hidden; }

}  // namespace

int ModelDims::n_moe_layers() const {
  if (n_routed == 0) return 0;
  return std::max(0, n_layers - first_k_dense);
}

float ModelDims::attn_scale() const {
  float s = 1.0f / std::sqrt(static_cast<float>(qk_head()));
  if (yarn_factor > 1.0f) {
    float m = YarnMscale(yarn_factor, yarn_mscale_all_dim);
    s *= m * m;
  }
  return s;
}

absl::StatusOr<ModelDims> DimsFromConfig(const proto::ModelConfig& c) {
  ModelDims d;
  d.vocab = c.vocab_size();
  d.d_model = c.d_model();
  d.n_layers = c.n_layers();
  d.n_heads = c.n_heads();
  d.q_lora = c.q_lora_rank();
  d.d_c = c.kv_lora_rank();
  d.nope = c.qk_nope_head_dim();
  d.rope = c.qk_rope_head_dim();
  d.v_head = c.v_head_dim();
  d.index_heads = c.index_n_heads();
  d.index_dim = c.index_head_dim();
  d.index_topk = c.index_topk();
  d.ffn = c.intermediate_size();
  d.max_pos = c.max_position_embeddings();
  d.rope_theta = c.rope_theta();
  d.eps = c.rms_norm_eps();
  d.init_std = c.initializer_range();
  d.yarn_factor = c.rope_scaling_factor();
  d.yarn_beta_fast = c.yarn_beta_fast();
  d.yarn_beta_slow = c.yarn_beta_slow();
  d.yarn_mscale = c.yarn_mscale();
  d.yarn_mscale_all_dim = c.yarn_mscale_all_dim();
  d.yarn_original_max_pos = c.original_max_position_embeddings();
  d.n_routed = c.n_routed_experts();
  d.experts_per_tok = c.num_experts_per_tok();
  d.n_shared = c.n_shared_experts();
  d.moe_ffn = c.moe_intermediate_size();
  d.first_k_dense = c.first_k_dense_replace();
  d.n_group = c.n_group();
  d.topk_group = c.topk_group();
  d.routed_scale = c.routed_scaling_factor();
  d.norm_topk_prob = c.norm_topk_prob();
  switch (c.attention_mode()) {
    case proto::ModelConfig::DENSE:
      d.mode = AttentionMode::kDense;
      break;
    case proto::ModelConfig::DENSE_WARMUP:
      d.mode = AttentionMode::kDenseWarmup;
      break;
    default:
      d.mode = AttentionMode::kSparse;
      break;
  }
  RETURN_IF_ERROR(ValidateDims(d, "model"));
  return d;
}

absl::Status ValidateDims(const ModelDims& d, absl::string_view source, DimNames names) {
  auto bad = [&](absl::string_view field, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", field, " ", why));
  };
  struct Size {
    const char* field;  // in proto/config.proto
    const char* key;    // in config.json
    int value, min, max;
  };
  const Size sizes[] = {
      {"vocab_size", "vocab_size", d.vocab, 1, 1 << 24},
      {"d_model", "hidden_size", d.d_model, 1, 1 << 20},
      {"n_layers", "num_hidden_layers", d.n_layers, 1, 1 << 16},
      {"n_heads", "num_attention_heads", d.n_heads, 1, 1 << 16},
      {"q_lora_rank", "q_lora_rank", d.q_lora, 1, 1 << 20},
      {"kv_lora_rank", "kv_lora_rank", d.d_c, 1, 1 << 20},
      {"qk_nope_head_dim", "qk_nope_head_dim", d.nope, 1, 1 << 16},
      {"qk_rope_head_dim", "qk_rope_head_dim", d.rope, 2, 1 << 16},
      {"v_head_dim", "v_head_dim", d.v_head, 1, 1 << 16},
      {"index_n_heads", "index_n_heads", d.index_heads, 1, 1 << 16},
      {"index_head_dim", "index_head_dim", d.index_dim, 2, 1 << 16},
      {"index_topk", "index_topk", d.index_topk, 1, 1 << 24},
      {"intermediate_size", "intermediate_size", d.ffn, 1, 1 << 24},
      {"max_position_embeddings", "max_position_embeddings", d.max_pos, 1, 1 << 24},
      {"original_max_position_embeddings", "rope_scaling.original_max_position_embeddings",
       d.yarn_original_max_pos, 1, 1 << 24},
      {"n_routed_experts", "n_routed_experts", d.n_routed, 0, 1 << 16},
      {"num_experts_per_tok", "num_experts_per_tok", d.experts_per_tok, 1, 1 << 16},
      {"n_shared_experts", "n_shared_experts", d.n_shared, 0, 1 << 16},
      {"moe_intermediate_size", "moe_intermediate_size", d.moe_ffn, 1, 1 << 24},
      {"first_k_dense_replace", "first_k_dense_replace", d.first_k_dense, 0, 1 << 16},
      {"n_group", "n_group", d.n_group, 1, 1 << 16},
      {"topk_group", "topk_group", d.topk_group, 1, 1 << 16},
  };
  for (const Size& s : sizes) {
    if (s.value < s.min || s.value > s.max) {
      return bad(names == DimNames::kConfigJson ? s.key : s.field,
                 absl::StrCat("is ", s.value, "; it must be in [", s.min, ", ", s.max, "]"));
    }
  }
  if (d.rope % 2 != 0 || d.index_dim % 2 != 0 || d.index_dim < d.rope) {
    return bad("qk_rope_head_dim", absl::StrCat("(", d.rope, ") must be even and index_head_dim (",
                                                d.index_dim, ") even and at least as large"));
  }
  if (d.n_routed > 0 &&
      (d.experts_per_tok > d.n_routed || d.n_routed % d.n_group != 0 || d.topk_group > d.n_group)) {
    return bad("n_routed_experts",
               "is inconsistent with num_experts_per_tok, n_group or topk_group");
  }
  const float floats[] = {d.rope_theta,     d.eps,
                          d.init_std,       d.yarn_factor,
                          d.yarn_beta_fast, d.yarn_beta_slow,
                          d.yarn_mscale,    d.yarn_mscale_all_dim,
                          d.routed_scale};
  for (float f : floats) {
    if (!std::isfinite(f)) return bad("a floating-point field", "is not finite");
  }
  if (!(d.eps > 0) || !(d.rope_theta >= 1) || !(d.yarn_factor >= 1) || !(d.init_std >= 0)) {
    return bad("rms_norm_eps/rope_theta/rope_scaling factor/initializer_range", "is out of range");
  }
  // The count in double first: beyond 2^53 the int64 sums below could overflow.
  const double D = d.d_model, L = d.n_layers, H = d.n_heads;
  const double per_layer =
      D * d.q_lora + double(d.q_lora) * H * d.qk_head() + D * d.kv_dim() +
      double(d.d_c) * H * (d.nope + d.v_head) + H * double(d.v_head) * D +
      double(d.q_lora) * d.index_heads * d.index_dim + D * d.index_dim + D * d.index_heads +
      3 * D * std::max<double>(d.ffn, double(d.n_routed + d.n_shared) * d.moe_ffn) +
      double(d.n_routed) * D;
  const double total = 2 * double(d.vocab) * D + L * per_layer;
  if (total > kMaxParameters) {
    return bad("size", absl::StrFormat("gives %.3g parameters, more than dsarl can address (%.3g)",
                                       total, kMaxParameters));
  }
  return absl::OkStatus();
}

std::map<std::string, int64_t> ParameterCountByPart(const ModelDims& d) {
  std::map<std::string, int64_t> p;
  const int64_t D = d.d_model, H = d.n_heads;
  p["embedding"] = int64_t(d.vocab) * D;
  p["lm_head"] = int64_t(d.vocab) * D;
  p["norms"] = D;  // final norm
  int64_t attn = 0, idx = 0, ffn = 0, experts = 0, shared = 0, router = 0, norms = 0;
  for (int l = 0; l < d.n_layers; ++l) {
    norms += 2 * D + d.q_lora + d.d_c;
    attn += D * d.q_lora + int64_t(d.q_lora) * H * d.qk_head() + D * d.kv_dim() +
            int64_t(d.d_c) * H * (d.nope + d.v_head) + H * int64_t(d.v_head) * D;
    idx += int64_t(d.q_lora) * d.index_heads * d.index_dim + D * d.index_dim + 2 * d.index_dim +
           D * d.index_heads;
    if (d.is_moe_layer(l)) {
      router += int64_t(d.n_routed) * D + d.n_routed;
      experts += int64_t(d.n_routed) * MlpParams(D, d.moe_ffn);
      shared += MlpParams(D, int64_t(d.moe_ffn) * d.n_shared);
    } else {
      ffn += MlpParams(D, d.ffn);
    }
  }
  p["norms"] += norms;
  p["attention"] = attn;
  p["indexer"] = idx;
  p["ffn"] = ffn;
  if (d.n_routed > 0) {
    p["moe_router"] = router;
    p["moe_experts"] = experts;
    p["moe_shared_experts"] = shared;
  }
  return p;
}

int64_t ParameterCount(const ModelDims& d) {
  int64_t n = 0;
  for (const auto& [_, v] : ParameterCountByPart(d)) n += v;
  return n;
}

int64_t ActiveParameterCount(const ModelDims& d) {
  int64_t n = ParameterCount(d);
  if (d.n_routed > 0) {
    n -= int64_t(d.n_moe_layers()) * (d.n_routed - d.experts_per_tok) *
         MlpParams(d.d_model, d.moe_ffn);
  }
  return n - int64_t(d.vocab) * d.d_model;  // the embedding is a lookup, not a matmul
}

double ForwardFlopsPerToken(const ModelDims& d, int context, bool sparse) {
  double flops = 2.0 * ActiveParameterCount(d);
  const double avg_keys = (context + 1) / 2.0;
  const double keys = sparse ? std::min<double>(avg_keys, d.index_topk) : avg_keys;
  // Scores over [c_kv; k_rope] and the weighted sum over c_kv, per head.
  const double attn_per_key = 2.0 * d.n_heads * (d.kv_dim() + d.d_c);
  double per_layer = attn_per_key * keys;
  if (sparse) per_layer += 2.0 * d.index_heads * d.index_dim * avg_keys;  // indexer, all keys
  return flops + d.n_layers * per_layer;
}

int64_t CacheBytesPerToken(const ModelDims& d) {
  return int64_t(d.n_layers) * (d.kv_dim() + d.index_dim) * sizeof(float);
}

}  // namespace dsarl::model
