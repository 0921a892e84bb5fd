// ModelDims: the transformer's sizes as plain C++ values, derived once from proto::ModelConfig,
// plus the arithmetic everyone needs about them (parameter counts, FLOPs, cache bytes).
#ifndef DSARL_MODEL_DIMS_H_
#define DSARL_MODEL_DIMS_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/config.pb.h"

namespace dsarl::model {

enum class AttentionMode { kDense, kSparse, kDenseWarmup };

struct ModelDims {
  int vocab = 320, d_model = 256, n_layers = 4, n_heads = 4;
  int q_lora = 128, d_c = 64, nope = 32, rope = 16, v_head = 32;
  int index_heads = 4, index_dim = 32, index_topk = 64;
  int ffn = 512, max_pos = 1024;
  float rope_theta = 10000.0f, eps = 1e-6f, init_std = 0.02f;
  // YaRN (factor 1 = off).
  float yarn_factor = 1.0f, yarn_beta_fast = 32.0f, yarn_beta_slow = 1.0f;
  float yarn_mscale = 1.0f, yarn_mscale_all_dim = 1.0f;
  int yarn_original_max_pos = 1024;
  // MoE (n_routed 0 = dense FFN everywhere).
  int n_routed = 0, experts_per_tok = 2, n_shared = 1, moe_ffn = 256, first_k_dense = 1;
  int n_group = 1, topk_group = 1;
  float routed_scale = 1.0f;
  bool norm_topk_prob = true;
  AttentionMode mode = AttentionMode::kSparse;

  int qk_head() const { return nope + rope; }  // per-head q width in q_b_proj
  int kv_dim() const { return d_c + rope; }    // MQA key width: [c_kv ; k_rope]
  bool is_moe_layer(int layer) const { return n_routed > 0 && layer >= first_k_dense; }
  int n_moe_layers() const;
  // Softmax scale of MLA: (nope + rope)^-0.5, times mscale^2 under YaRN.
  float attn_scale() const;
};

// Every size positive and within the bounds of proto/config.proto, rope and indexer widths even,
// MoE sizes consistent, finite floats, and at most kMaxParameters parameters (so every count
// below is exact in int64). InvalidArgument naming `source` and the field otherwise.
// `names` picks the names messages use: proto/config.proto's or config.json's.
enum class DimNames { kConfig, kConfigJson };
absl::Status ValidateDims(const ModelDims& d, absl::string_view source,
                          DimNames names = DimNames::kConfig);
inline constexpr double kMaxParameters = 9007199254740992.0;  // 2^53

// Builds dims from a resolved config (presets applied). InvalidArgument on inconsistent sizes.
absl::StatusOr<ModelDims> DimsFromConfig(const proto::ModelConfig& config);

// Parameter counts by part ("embedding", "attention", "indexer", "ffn", "moe_experts", ...).
std::map<std::string, int64_t> ParameterCountByPart(const ModelDims& d);
int64_t ParameterCount(const ModelDims& d);
// Parameters used per token (MoE counts only the active experts).
int64_t ActiveParameterCount(const ModelDims& d);

// Forward FLOPs per token at context length `context` (average over positions 0..context-1):
// matmuls 2 x active params, plus attention (dense or top-k) and the indexer.
double ForwardFlopsPerToken(const ModelDims& d, int context, bool sparse);

// Decode cache bytes per token per sequence (all layers): MLA latent + rope key + indexer key,
// fp32.
int64_t CacheBytesPerToken(const ModelDims& d);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_DIMS_H_
