#include "model/params.h"

#include <cmath>
#include <functional>

#include "absl/strings/str_cat.h"

namespace dsarl::model {
namespace {

// splitmix64: a tiny, well-mixed, portable generator (libstdc++'s distributions are not
// specified bit-for-bit across platforms).
uint64_t SplitMix(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t HashName(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

ParamTable::ParamTable(const ModelDims& d) {
  using I = TensorInfo::Init;
  const int64_t D = d.d_model, H = d.n_heads;
  Add("model.embed_tokens.weight", {d.vocab, D});
  for (int l = 0; l < d.n_layers; ++l) {
    const std::string p = absl::StrCat("model.layers.", l, ".");
    Add(p + "input_layernorm.weight", {D}, I::kOnes);
    Add(p + "self_attn.q_a_proj.weight", {d.q_lora, D});
    Add(p + "self_attn.q_a_layernorm.weight", {d.q_lora}, I::kOnes);
    Add(p + "self_attn.q_b_proj.weight", {H * d.qk_head(), d.q_lora});
    Add(p + "self_attn.kv_a_proj_with_mqa.weight", {d.kv_dim(), D});
    Add(p + "self_attn.kv_a_layernorm.weight", {d.d_c}, I::kOnes);
    Add(p + "self_attn.kv_b_proj.weight", {H * (d.nope + d.v_head), d.d_c});
    Add(p + "self_attn.o_proj.weight", {D, H * d.v_head});
    Add(p + "self_attn.indexer.wq_b.weight", {int64_t(d.index_heads) * d.index_dim, d.q_lora},
        I::kNormal, true, true);
    Add(p + "self_attn.indexer.wk.weight", {d.index_dim, D}, I::kNormal, true, true);
    Add(p + "self_attn.indexer.k_norm.weight", {d.index_dim}, I::kOnes, true, true);
    Add(p + "self_attn.indexer.k_norm.bias", {d.index_dim}, I::kZeros, true, true);
    Add(p + "self_attn.indexer.weights_proj.weight", {d.index_heads, D}, I::kNormal, true, true);
    Add(p + "post_attention_layernorm.weight", {D}, I::kOnes);
    auto mlp = [&](const std::string& q, int64_t hidden) {
      Add(q + "gate_proj.weight", {hidden, D});
      Add(q + "up_proj.weight", {hidden, D});
      Add(q + "down_proj.weight", {D, hidden});
    };
    if (d.is_moe_layer(l)) {
      Add(p + "mlp.gate.weight", {d.n_routed, D});
      Add(p + "mlp.gate.e_score_correction_bias", {d.n_routed}, I::kZeros, false);
      for (int e = 0; e < d.n_routed; ++e) mlp(absl::StrCat(p, "mlp.experts.", e, "."), d.moe_ffn);
      if (d.n_shared > 0) mlp(p + "mlp.shared_experts.", int64_t(d.moe_ffn) * d.n_shared);
    } else {
      mlp(p + "mlp.", d.ffn);
    }
  }
  Add("model.norm.weight", {D}, I::kOnes);
  Add("lm_head.weight", {d.vocab, D});
}

void ParamTable::Add(const std::string& name, std::vector<int64_t> shape, TensorInfo::Init init,
                     bool trainable, bool is_indexer) {
  TensorInfo t;
  t.name = name;
  t.numel = 1;
  for (int64_t s : shape) t.numel *= s;
  t.shape = std::move(shape);
  t.offset = total_;
  t.init = init;
  t.trainable = trainable;
  t.is_indexer = is_indexer;
  // Keep every tensor 16-float (64-byte) aligned for vector loads.
  total_ += (t.numel + 15) / 16 * 16;
  tensors_.push_back(std::move(t));
}

const TensorInfo* ParamTable::Find(const std::string& name) const {
  for (const TensorInfo& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

ModelTensors BindTensors(const ModelDims& d, const ParamTable& table, float* base) {
  auto at = [&](const std::string& name) -> float* {
    const TensorInfo* t = table.Find(name);
    return t == nullptr ? nullptr : base + t->offset;
  };
  ModelTensors m;
  m.embed = at("model.embed_tokens.weight");
  m.final_norm = at("model.norm.weight");
  m.lm_head = at("lm_head.weight");
  for (int l = 0; l < d.n_layers; ++l) {
    const std::string p = absl::StrCat("model.layers.", l, ".");
    LayerTensors L;
    L.input_norm = at(p + "input_layernorm.weight");
    L.q_a = at(p + "self_attn.q_a_proj.weight");
    L.q_a_norm = at(p + "self_attn.q_a_layernorm.weight");
    L.q_b = at(p + "self_attn.q_b_proj.weight");
    L.kv_a = at(p + "self_attn.kv_a_proj_with_mqa.weight");
    L.kv_a_norm = at(p + "self_attn.kv_a_layernorm.weight");
    L.kv_b = at(p + "self_attn.kv_b_proj.weight");
    L.o_proj = at(p + "self_attn.o_proj.weight");
    L.idx_wq_b = at(p + "self_attn.indexer.wq_b.weight");
    L.idx_wk = at(p + "self_attn.indexer.wk.weight");
    L.idx_k_norm_w = at(p + "self_attn.indexer.k_norm.weight");
    L.idx_k_norm_b = at(p + "self_attn.indexer.k_norm.bias");
    L.idx_weights = at(p + "self_attn.indexer.weights_proj.weight");
    L.post_norm = at(p + "post_attention_layernorm.weight");
    auto mlp = [&](const std::string& q, int hidden) {
      return MlpTensors{at(q + "gate_proj.weight"), at(q + "up_proj.weight"),
                        at(q + "down_proj.weight"), hidden};
    };
    L.moe = d.is_moe_layer(l);
    if (L.moe) {
      L.router = at(p + "mlp.gate.weight");
      L.router_bias = at(p + "mlp.gate.e_score_correction_bias");
      for (int e = 0; e < d.n_routed; ++e) {
        L.experts.push_back(mlp(absl::StrCat(p, "mlp.experts.", e, "."), d.moe_ffn));
      }
      if (d.n_shared > 0) L.shared = mlp(p + "mlp.shared_experts.", d.moe_ffn * d.n_shared);
    } else {
      L.mlp = mlp(p + "mlp.", d.ffn);
    }
    m.layers.push_back(std::move(L));
  }
  return m;
}

void InitParameters(const ModelDims& d, const ParamTable& table, uint64_t seed, float* base) {
  for (const TensorInfo& t : table.tensors()) {
    float* x = base + t.offset;
    switch (t.init) {
      case TensorInfo::Init::kOnes:
        std::fill(x, x + t.numel, 1.0f);
        break;
      case TensorInfo::Init::kZeros:
        std::fill(x, x + t.numel, 0.0f);
        break;
      case TensorInfo::Init::kNormal: {
        uint64_t s = seed ^ HashName(t.name);
        for (size_t i = 0; i < t.numel; i += 2) {
          // Box-Muller on two uniforms in (0, 1].
          double u1 = ((SplitMix(&s) >> 11) + 1) * 0x1.0p-53;
          double u2 = ((SplitMix(&s) >> 11) + 1) * 0x1.0p-53;
          double r = std::sqrt(-2.0 * std::log(u1)), a = 2.0 * M_PI * u2;
          x[i] = static_cast<float>(d.init_std * r * std::cos(a));
          if (i + 1 < t.numel) x[i + 1] = static_cast<float>(d.init_std * r * std::sin(a));
        }
        break;
      }
    }
  }
}

}  // namespace dsarl::model
