#include "model/transformer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "model/cpu/ops.h"

namespace dsarl::model {

Transformer::Transformer(const ModelDims& dims)
    : dims_(dims),
      table_(dims),
      params_(table_.total_floats(), 0.0f),
      grads_(table_.total_floats(), 0.0f) {
  w_ = BindTensors(dims_, table_, params_.data());
  g_ = BindTensors(dims_, table_, grads_.data());
  rope_ = cpu::MakeRopeTable(dims_.rope, dims_.max_pos, dims_.rope_theta, dims_.yarn_factor,
                             dims_.yarn_original_max_pos, dims_.yarn_beta_fast,
                             dims_.yarn_beta_slow, dims_.yarn_mscale, dims_.yarn_mscale_all_dim);
}

void Transformer::InitRandom(uint64_t seed) { InitParameters(dims_, table_, seed, params()); }

void Transformer::ZeroGrad() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

absl::Status Transformer::Validate(const PackedBatch& b) const {
  const int T = b.tokens.size();
  if (b.seq_start.size() < 2 || b.seq_start.front() != 0 || b.seq_start.back() != T) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch: seq_start must run from 0 to the token count ", T));
  }
  for (size_t i = 1; i < b.seq_start.size(); ++i) {
    const int len = b.seq_start[i] - b.seq_start[i - 1];
    if (len <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("batch: sequence ", i - 1, " is empty"));
    }
    if (len > dims_.max_pos) {
      return absl::InvalidArgumentError(absl::StrCat("batch: sequence ", i - 1, " has ", len,
                                                     " tokens, more than max_position_embeddings ",
                                                     dims_.max_pos));
    }
  }
  if (static_cast<int>(b.targets.size()) != T) {
    return absl::InvalidArgumentError("batch: targets must have one entry per token");
  }
  for (int t = 0; t < T; ++t) {
    if (b.tokens[t] < 0 || b.tokens[t] >= dims_.vocab) {
      return absl::InvalidArgumentError(absl::StrCat("batch: token ", b.tokens[t], " at position ",
                                                     t, " is outside the vocabulary"));
    }
    if (b.targets[t] < -1 || b.targets[t] >= dims_.vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("batch: target ", b.targets[t], " at ", t, " is outside the vocabulary"));
    }
  }
  if (!b.kept.empty()) {
    if (static_cast<int>(b.kept.size()) != T) {
      return absl::InvalidArgumentError("batch: kept must be empty or have one set per token");
    }
    for (int t = 0; t < T; ++t) {
      const auto& k = b.kept[t];
      if (k.empty() || b.targets[t] < 0) continue;
      for (int v : k) {
        if (v < 0 || v >= dims_.vocab) {
          return absl::InvalidArgumentError(absl::StrCat("batch: kept set at ", t, " has id ", v));
        }
      }
      if (std::find(k.begin(), k.end(), b.targets[t]) == k.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("batch: target ", b.targets[t], " at ", t, " is not in its kept set"));
      }
    }
  }
  const int K = dims_.experts_per_tok, M = dims_.n_moe_layers();
  if (!b.forced_experts.empty()) {
    if (b.forced_experts.size() != size_t(T) * M * K) {
      return absl::InvalidArgumentError(
          absl::StrCat("batch: forced_experts has ", b.forced_experts.size(), " entries, expected ",
                       size_t(T) * M * K, " (tokens x MoE layers x experts_per_tok)"));
    }
    for (size_t i = 0; i < b.forced_experts.size(); i += K) {
      for (int k = 0; k < K; ++k) {
        const int e = b.forced_experts[i + k];
        if (e < 0 || e >= dims_.n_routed) {
          return absl::InvalidArgumentError(absl::StrCat("batch: forced expert ", e, " invalid"));
        }
        for (int j = 0; j < k; ++j) {
          if (b.forced_experts[i + j] == e) {
            return absl::InvalidArgumentError(
                absl::StrCat("batch: forced expert ", e, " repeated"));
          }
        }
      }
    }
  }
  return absl::OkStatus();
}

cpu::KeyRows Transformer::Keys(const std::vector<float>& buf, int width) const {
  cpu::KeyRows k;
  const int T = batch_.tokens.size();
  k.base.resize(T);
  k.n_keys.resize(T);
  for (size_t s = 0; s + 1 < batch_.seq_start.size(); ++s) {
    for (int t = batch_.seq_start[s]; t < batch_.seq_start[s + 1]; ++t) {
      k.base[t] = buf.data() + size_t(batch_.seq_start[s]) * width;
      k.n_keys[t] = t - batch_.seq_start[s] + 1;
    }
  }
  return k;
}

absl::StatusOr<ForwardResult> Transformer::Forward(const PackedBatch& batch,
                                                   const ForwardOptions& options) {
  if (absl::Status s = Validate(batch); !s.ok()) return s;
  if (!(options.temperature > 0.0f) || !std::isfinite(options.temperature)) {
    return absl::InvalidArgumentError("forward: temperature must be positive and finite");
  }
  have_forward_ = false;
  batch_ = batch;
  options_ = options;
  const ModelDims& d = dims_;
  const int T = batch.tokens.size(), D = d.d_model, M = d.n_moe_layers();
  pos_.resize(T);
  for (size_t s = 0; s + 1 < batch.seq_start.size(); ++s) {
    for (int t = batch.seq_start[s]; t < batch.seq_start[s + 1]; ++t) {
      pos_[t] = t - batch.seq_start[s];
    }
  }
  ForwardResult r;
  if (M > 0) r.routed_experts.resize(size_t(T) * M * d.experts_per_tok);
  std::vector<float> x(size_t(T) * D), next(size_t(T) * D);
  backend_->embedding_forward(x.data(), batch.tokens.data(), w_.embed, T, D);
  acts_.resize(d.n_layers);
  int moe_index = 0;
  for (int l = 0; l < d.n_layers; ++l) {
    ForwardLayer(l, moe_index, x.data(), next.data(), &r);
    if (w_.layers[l].moe) ++moe_index;
    std::swap(x, next);
  }
  HeadForward(x, &r);
  have_forward_ = true;
  return r;
}

void Transformer::ForwardLayer(int l, int moe_index, const float* x, float* out, ForwardResult* r) {
  const Backend& be = *backend_;
  const ModelDims& d = dims_;
  const int T = batch_.tokens.size(), K = d.experts_per_tok, M = d.n_moe_layers();
  LayerActs& a = acts_[l];
  const LayerTensors& lw = w_.layers[l];
  LayerProject(be, &a, x, pos_.data(), lw, d, rope_, T);
  const cpu::KeyRows attn_keys = Keys(a.kv, d.kv_dim());
  const cpu::KeyRows index_keys = Keys(a.ki, d.index_dim);
  LayerAttend(be, &a, attn_keys, index_keys, d, options_.mode == AttentionMode::kSparse);
  if (options_.indexer_loss || options_.mode == AttentionMode::kDenseWarmup) {
    r->indexer.push_back(LayerIndexerLoss(&a, attn_keys, index_keys));
  }
  std::vector<int> forced;
  if (lw.moe && !batch_.forced_experts.empty()) {
    forced = MoeLayerExperts(batch_.forced_experts, T, M, K, moe_index);
  }
  LayerOutput(be, out, &a, lw, d, forced.empty() ? nullptr : forced.data());
  if (lw.moe) {
    SetMoeLayerExperts(r->routed_experts.data(), a.moe.experts.data(), T, M, K, moe_index);
  }
}

LayerIndexerStats Transformer::LayerIndexerLoss(LayerActs* a, const cpu::KeyRows& attn_keys,
                                                const cpu::KeyRows& index_keys) {
  const Backend& be = *backend_;
  const ModelDims& d = dims_;
  const int T = batch_.tokens.size();
  cpu::AttentionShape sh{d.n_heads, d.d_c, d.rope, d.attn_scale()};
  cpu::KeyRows target_keys = attn_keys;
  const bool selected = a->topk > 0;  // false when the top-k covered every row
  if (selected) {
    target_keys.indices = a->indices.data();
    target_keys.topk = a->topk;
  }
  auto target = [&](int row, float* p) {
    be.attention_target_row(p, a->qabs.data() + size_t(row) * d.n_heads * d.kv_dim(),
                            a->lse.data() + size_t(row) * d.n_heads, target_keys, row, sh);
  };
  a->dqi.assign(a->qi.size(), 0.0f);
  a->dki.assign(a->ki.size(), 0.0f);
  a->dwi.assign(a->wi.size(), 0.0f);
  cpu::IndexerLossStats st = be.indexer_loss(
      a->dqi.data(), a->dki.data(), a->dwi.data(), a->qi.data(), a->ki.data(), a->wi.data(),
      index_keys, selected ? a->indices.data() : nullptr, d.index_topk, target,
      cpu::IndexerShape{d.index_heads, d.index_dim}, T, T, options_.indexer_loss_scale);
  a->has_indexer_grad = true;
  return {st.kl_sum, st.recall_sum, st.rows, st.recall_rows};
}

void Transformer::HeadForward(const std::vector<float>& x, ForwardResult* r) {
  const Backend& be = *backend_;
  const ModelDims& d = dims_;
  const int T = batch_.tokens.size(), D = d.d_model;
  x_final_ = x;
  xn_final_.resize(size_t(T) * D);
  rstd_final_.resize(T);
  be.rmsnorm_forward(xn_final_.data(), rstd_final_.data(), x.data(), w_.final_norm, T, D, d.eps,
                     -1);
  logits_.resize(size_t(T) * d.vocab);
  be.matmul_forward(logits_.data(), xn_final_.data(), w_.lm_head, T, D, d.vocab, false, -1, -1);
  if (options_.temperature != 1.0f) {
    const float inv = 1.0f / options_.temperature;
    for (float& z : logits_) z *= inv;
  }
  r->logp.resize(T);
  if (options_.entropy) r->entropy.resize(T);
  be.logprob_forward(r->logp.data(), options_.entropy ? r->entropy.data() : nullptr, logits_.data(),
                     batch_.targets.data(), batch_.kept.empty() ? nullptr : &batch_.kept, T,
                     d.vocab);
}

absl::Status Transformer::Backward(const float* dlogp) {
  if (!have_forward_) return absl::FailedPreconditionError("Backward called without Forward");
  const Backend& be = *backend_;
  const ModelDims& d = dims_;
  const int T = batch_.tokens.size(), D = d.d_model;
  const bool lm = dlogp != nullptr;
  std::vector<float> dx(size_t(T) * D, 0.0f), dprev(size_t(T) * D);
  if (lm) {
    std::vector<float> dlogits(size_t(T) * d.vocab, 0.0f), dxn(size_t(T) * D, 0.0f);
    be.logprob_backward(dlogits.data(), dlogp, logits_.data(), batch_.targets.data(),
                        batch_.kept.empty() ? nullptr : &batch_.kept, T, d.vocab);
    if (options_.temperature != 1.0f) {  // logits_ = raw / temperature
      const float inv = 1.0f / options_.temperature;
      for (float& g : dlogits) g *= inv;
    }
    be.matmul_backward(dxn.data(), g_.lm_head, dlogits.data(), xn_final_.data(), w_.lm_head, T, D,
                       d.vocab, -1, -1, -1);
    be.rmsnorm_backward(dx.data(), g_.final_norm, dxn.data(), x_final_.data(), w_.final_norm,
                        rstd_final_.data(), T, D, -1, -1);
  }
  for (int l = d.n_layers - 1; l >= 0; --l) {
    std::fill(dprev.begin(), dprev.end(), 0.0f);
    const cpu::KeyRows attn_keys = Keys(acts_[l].kv, d.kv_dim());
    LayerBackward(be, dprev.data(), g_.layers[l], dx.data(), acts_[l], w_.layers[l], d, rope_,
                  pos_.data(), attn_keys, lm, options_.detach_indexer);
    std::swap(dx, dprev);
  }
  if (lm || !options_.detach_indexer) {
    be.embedding_backward(g_.embed, dx.data(), batch_.tokens.data(), T, D);
  }
  return absl::OkStatus();
}

}  // namespace dsarl::model
