#include "model/layer.h"

#include <algorithm>
#include <cmath>

namespace dsarl::model {

namespace {

// Pointers to head h's slices of kv_b_proj: W_uk,h [nope, d_c] and W_uv,h [v_head, d_c].
float* Wuk(float* kv_b, const ModelDims& d, int h) {
  return kv_b + size_t(h) * (d.nope + d.v_head) * d.d_c;
}
float* Wuv(float* kv_b, const ModelDims& d, int h) {
  return kv_b + (size_t(h) * (d.nope + d.v_head) + d.nope) * d.d_c;
}

}  // namespace

void LayerProject(const Backend& be, LayerActs* a, const float* x, const int* pos,
                  const LayerTensors& w, const ModelDims& d, const cpu::RopeTable& rope, int T) {
  const int D = d.d_model, H = d.n_heads, qk = d.qk_head(), kd = d.kv_dim();
  const int HI = d.index_heads, dI = d.index_dim;
  a->T = T;
  a->x_in.assign(x, x + size_t(T) * D);
  a->xn1.resize(size_t(T) * D);
  a->rstd1.resize(T);
  be.rmsnorm_forward(a->xn1.data(), a->rstd1.data(), x, w.input_norm, T, D, d.eps, -1);
  // Query path: c_q = RMSNorm(W_dq x); q = W_uq c_q, rope on each head's last `rope` dims.
  a->qa.resize(size_t(T) * d.q_lora);
  a->cq.resize(size_t(T) * d.q_lora);
  a->rstd_q.resize(T);
  be.matmul_forward(a->qa.data(), a->xn1.data(), w.q_a, T, D, d.q_lora, false, -1, -1);
  be.rmsnorm_forward(a->cq.data(), a->rstd_q.data(), a->qa.data(), w.q_a_norm, T, d.q_lora, d.eps,
                     -1);
  a->q.resize(size_t(T) * H * qk);
  be.matmul_forward(a->q.data(), a->cq.data(), w.q_b, T, d.q_lora, H * qk, false, -1, -1);
  be.rope_interleaved(a->q.data(), pos, rope, T, H, H * qk, qk, d.nope, false);
  // Key path: [c_kv ; k_rope] = W_dkv x (one matrix), c_kv normalized, k_rope rotated.
  a->kva.resize(size_t(T) * kd);
  be.matmul_forward(a->kva.data(), a->xn1.data(), w.kv_a, T, D, kd, false, -1, -1);
  std::vector<float> lat(size_t(T) * d.d_c);
  a->rstd_kv.resize(T);
  be.rmsnorm_forward(lat.data(), a->rstd_kv.data(), a->kva.data(), w.kv_a_norm, T, d.d_c, d.eps,
                     kd);
  a->kv.resize(size_t(T) * kd);
  for (int t = 0; t < T; ++t) {
    std::copy_n(&lat[size_t(t) * d.d_c], d.d_c, &a->kv[size_t(t) * kd]);
    std::copy_n(&a->kva[size_t(t) * kd + d.d_c], d.rope, &a->kv[size_t(t) * kd + d.d_c]);
  }
  be.rope_interleaved(a->kv.data(), pos, rope, T, 1, kd, kd, d.d_c, false);
  // Absorbed queries: [W_uk,h^T q_nope,h ; q_rope,h].
  a->qabs.resize(size_t(T) * H * kd);
  for (int h = 0; h < H; ++h) {
    be.gemm(false, false, T, d.d_c, d.nope, 1.0f, a->q.data() + size_t(h) * qk, H * qk,
            Wuk(w.kv_b, d, h), d.d_c, 0.0f, a->qabs.data() + size_t(h) * kd, H * kd);
  }
  for (int t = 0; t < T; ++t) {
    for (int h = 0; h < H; ++h) {
      std::copy_n(&a->q[(size_t(t) * H + h) * qk + d.nope], d.rope,
                  &a->qabs[(size_t(t) * H + h) * kd + d.d_c]);
    }
  }
  // Lightning indexer: q_I = W_qI c_q, k_I = LayerNorm(W_kI x), w = W_w x * H_I^-0.5; rotate-half
  // rope on the first `rope` dims of each.
  a->qi.resize(size_t(T) * HI * dI);
  be.matmul_forward(a->qi.data(), a->cq.data(), w.idx_wq_b, T, d.q_lora, HI * dI, false, -1, -1);
  be.rope_half(a->qi.data(), pos, rope, T, HI, HI * dI, dI, 0, false);
  a->ki_pre.resize(size_t(T) * dI);
  a->ki.resize(size_t(T) * dI);
  a->ki_mean.resize(T);
  a->ki_rstd.resize(T);
  be.matmul_forward(a->ki_pre.data(), a->xn1.data(), w.idx_wk, T, D, dI, false, -1, -1);
  be.layernorm_forward(a->ki.data(), a->ki_mean.data(), a->ki_rstd.data(), a->ki_pre.data(),
                       w.idx_k_norm_w, w.idx_k_norm_b, T, dI, 1e-6f);
  be.rope_half(a->ki.data(), pos, rope, T, 1, dI, dI, 0, false);
  a->wi.resize(size_t(T) * HI);
  be.matmul_forward(a->wi.data(), a->xn1.data(), w.idx_weights, T, D, HI, false, -1, -1);
  const float ws = 1.0f / std::sqrt(float(HI));
  for (float& v : a->wi) v *= ws;
  a->has_indexer_grad = false;
}

void LayerAttend(const Backend& be, LayerActs* a, const cpu::KeyRows& attn_keys,
                 const cpu::KeyRows& index_keys, const ModelDims& d, bool sparse) {
  const int T = a->T, H = d.n_heads;
  cpu::AttentionShape sh{H, d.d_c, d.rope, d.attn_scale()};
  a->o.resize(size_t(T) * H * d.d_c);
  a->lse.resize(size_t(T) * H);
  // When every row sees at most index_topk keys the top-k keeps them all, and the dense path gives
  // the bit-identical result SPEC §1 requires.
  bool beyond_topk = false;
  for (int t = 0; t < T && sparse; ++t) beyond_topk |= attn_keys.n_keys[t] > d.index_topk;
  if (sparse && beyond_topk) {
    a->topk = d.index_topk;
    a->indices.resize(size_t(T) * a->topk);
    be.indexer_select(a->indices.data(), a->qi.data(), a->wi.data(), index_keys,
                      cpu::IndexerShape{d.index_heads, d.index_dim}, T, a->topk);
    cpu::KeyRows sparse_keys = attn_keys;
    sparse_keys.indices = a->indices.data();
    sparse_keys.topk = a->topk;
    be.attention_forward(a->o.data(), a->lse.data(), a->qabs.data(), sparse_keys, sh, T);
  } else {
    a->topk = 0;
    a->indices.clear();
    be.attention_forward(a->o.data(), a->lse.data(), a->qabs.data(), attn_keys, sh, T);
  }
}

void LayerOutput(const Backend& be, float* out, LayerActs* a, const LayerTensors& w,
                 const ModelDims& d, const int* forced_experts) {
  const int T = a->T, D = d.d_model, H = d.n_heads;
  a->v.resize(size_t(T) * H * d.v_head);
  for (int h = 0; h < H; ++h) {
    be.matmul_forward(a->v.data() + size_t(h) * d.v_head, a->o.data() + size_t(h) * d.d_c,
                      Wuv(w.kv_b, d, h), T, d.d_c, d.v_head, false, H * d.v_head, H * d.d_c);
  }
  a->x_mid = a->x_in;
  be.matmul_forward(a->x_mid.data(), a->v.data(), w.o_proj, T, H * d.v_head, D, true, -1, -1);
  a->xn2.resize(size_t(T) * D);
  a->rstd2.resize(T);
  be.rmsnorm_forward(a->xn2.data(), a->rstd2.data(), a->x_mid.data(), w.post_norm, T, D, d.eps, -1);
  std::copy(a->x_mid.begin(), a->x_mid.end(), out);
  if (w.moe) {
    std::vector<float> y(size_t(T) * D);
    be.moe_forward(y.data(), &a->moe, a->xn2.data(), w, d, forced_experts, T);
    for (size_t i = 0; i < y.size(); ++i) out[i] += y[i];
  } else {
    be.mlp_forward(out, &a->mlp, a->xn2.data(), w.mlp, T, D, true);
  }
}

std::vector<int> MoeLayerExperts(const std::vector<int>& all, int T, int n_moe_layers, int k,
                                 int moe_index) {
  std::vector<int> layer(size_t(T) * k);
  for (int t = 0; t < T; ++t) {
    std::copy_n(&all[(size_t(t) * n_moe_layers + moe_index) * k], k, &layer[size_t(t) * k]);
  }
  return layer;
}

void SetMoeLayerExperts(int* all, const int* layer_experts, int T, int n_moe_layers, int k,
                        int moe_index) {
  for (int t = 0; t < T; ++t) {
    std::copy_n(&layer_experts[size_t(t) * k], k, &all[(size_t(t) * n_moe_layers + moe_index) * k]);
  }
}

namespace {

// Backward of LayerOutput given dout [T, D]: adds the residual's share into dx [T, D] and returns
// d_o [T, H, d_c], the gradient of the attention output.
std::vector<float> OutputBackward(const Backend& be, float* dx, const LayerTensors& g,
                                  const float* dout, const LayerActs& a, const LayerTensors& w,
                                  const ModelDims& d) {
  const int T = a.T, D = d.d_model, H = d.n_heads;
  // out = x_mid + FFN(RMSNorm(x_mid))
  std::vector<float> dxmid(dout, dout + size_t(T) * D), dxn2(size_t(T) * D, 0.0f);
  if (w.moe) {
    be.moe_backward(dxn2.data(), g, dout, a.xn2.data(), a.moe, w, d, T);
  } else {
    be.mlp_backward(dxn2.data(), g.mlp, dout, a.xn2.data(), a.mlp, w.mlp, T, D);
  }
  be.rmsnorm_backward(dxmid.data(), g.post_norm, dxn2.data(), a.x_mid.data(), w.post_norm,
                      a.rstd2.data(), T, D, -1, -1);
  // x_mid = x_in + o_proj(v)
  for (size_t i = 0; i < dxmid.size(); ++i) dx[i] += dxmid[i];
  std::vector<float> dv(size_t(T) * H * d.v_head, 0.0f);
  be.matmul_backward(dv.data(), g.o_proj, dxmid.data(), a.v.data(), w.o_proj, T, H * d.v_head, D,
                     -1, -1, -1);
  // v_h = W_uv,h o_h
  std::vector<float> d_o(size_t(T) * H * d.d_c, 0.0f);
  for (int h = 0; h < H; ++h) {
    be.matmul_backward(d_o.data() + size_t(h) * d.d_c, Wuv(g.kv_b, d, h),
                       dv.data() + size_t(h) * d.v_head, a.o.data() + size_t(h) * d.d_c,
                       Wuv(w.kv_b, d, h), T, d.d_c, d.v_head, H * d.v_head, H * d.d_c, H * d.d_c);
  }
  return d_o;
}

// Backward of LayerAttend's attention (sparse: over the recorded indices) and of LayerProject's
// MLA query and key paths, given d_o [T, H, d_c]: adds into dcq [T, q_lora] (the query latent)
// and dxn1 [T, D] (the normed block input).
void AttentionProjectBackward(const Backend& be, float* dcq, float* dxn1, const LayerTensors& g,
                              const std::vector<float>& d_o, const LayerActs& a,
                              const LayerTensors& w, const ModelDims& d, const cpu::RopeTable& rope,
                              const int* pos, const cpu::KeyRows& attn_keys) {
  const int T = a.T, D = d.d_model, H = d.n_heads, qk = d.qk_head(), kd = d.kv_dim();
  cpu::AttentionShape sh{H, d.d_c, d.rope, d.attn_scale()};
  cpu::KeyRows keys = attn_keys;
  if (a.topk > 0) {
    keys.indices = a.indices.data();
    keys.topk = a.topk;
  }
  std::vector<float> dqabs(size_t(T) * H * kd, 0.0f), dkv(size_t(T) * kd, 0.0f);
  be.attention_backward(dqabs.data(), dkv.data(), d_o.data(), a.qabs.data(), a.kv.data(), keys,
                        a.o.data(), a.lse.data(), sh, T, T);
  // qabs_h = [q_nope,h W_uk,h ; q_rope,h]
  std::vector<float> dq(size_t(T) * H * qk, 0.0f);
  for (int h = 0; h < H; ++h) {
    be.gemm(false, true, T, d.nope, d.d_c, 1.0f, dqabs.data() + size_t(h) * kd, H * kd,
            Wuk(w.kv_b, d, h), d.d_c, 1.0f, dq.data() + size_t(h) * qk, H * qk);
    be.gemm(true, false, d.nope, d.d_c, T, 1.0f, a.q.data() + size_t(h) * qk, H * qk,
            dqabs.data() + size_t(h) * kd, H * kd, 1.0f, Wuk(g.kv_b, d, h), d.d_c);
  }
  for (int t = 0; t < T; ++t) {
    for (int h = 0; h < H; ++h) {
      const float* src = &dqabs[(size_t(t) * H + h) * kd + d.d_c];
      float* dst = &dq[(size_t(t) * H + h) * qk + d.nope];
      for (int c = 0; c < d.rope; ++c) dst[c] += src[c];
    }
  }
  // q = rope(q_b(c_q))
  be.rope_interleaved(dq.data(), pos, rope, T, H, H * qk, qk, d.nope, true);
  be.matmul_backward(dcq, g.q_b, dq.data(), a.cq.data(), w.q_b, T, d.q_lora, H * qk, -1, -1, -1);
  // kv = [RMSNorm(kva[:d_c]) ; rope(kva[d_c:])]
  be.rope_interleaved(dkv.data(), pos, rope, T, 1, kd, kd, d.d_c, true);
  std::vector<float> dlat(size_t(T) * d.d_c), dkva(size_t(T) * kd, 0.0f);
  for (int t = 0; t < T; ++t) {
    std::copy_n(&dkv[size_t(t) * kd], d.d_c, &dlat[size_t(t) * d.d_c]);
    std::copy_n(&dkv[size_t(t) * kd + d.d_c], d.rope, &dkva[size_t(t) * kd + d.d_c]);
  }
  be.rmsnorm_backward(dkva.data(), g.kv_a_norm, dlat.data(), a.kva.data(), w.kv_a_norm,
                      a.rstd_kv.data(), T, d.d_c, kd, kd);
  be.matmul_backward(dxn1, g.kv_a, dkva.data(), a.xn1.data(), w.kv_a, T, D, kd, -1, -1, -1);
}

// Backward of LayerProject's lightning indexer from the indexer loss's gradients (a.dqi, a.dki,
// a.dwi): through rope, LayerNorm and the three projections into their weights' gradients, and
// into dcq [T, q_lora] and dxn1 [T, D] unless those are null (detached).
void IndexerProjectBackward(const Backend& be, float* dcq, float* dxn1, const LayerTensors& g,
                            const LayerActs& a, const LayerTensors& w, const ModelDims& d,
                            const cpu::RopeTable& rope, const int* pos) {
  const int T = a.T, D = d.d_model, HI = d.index_heads, dI = d.index_dim;
  // q_I = rope(W_qI c_q)
  std::vector<float> dqi(a.dqi);
  be.rope_half(dqi.data(), pos, rope, T, HI, HI * dI, dI, 0, true);
  be.matmul_backward(dcq, g.idx_wq_b, dqi.data(), a.cq.data(), w.idx_wq_b, T, d.q_lora, HI * dI, -1,
                     -1, -1);
  // k_I = rope(LayerNorm(W_kI xn1))
  std::vector<float> dki(a.dki), dki_pre(size_t(T) * dI, 0.0f);
  be.rope_half(dki.data(), pos, rope, T, 1, dI, dI, 0, true);
  be.layernorm_backward(dki_pre.data(), g.idx_k_norm_w, g.idx_k_norm_b, dki.data(), a.ki_pre.data(),
                        w.idx_k_norm_w, a.ki_mean.data(), a.ki_rstd.data(), T, dI);
  be.matmul_backward(dxn1, g.idx_wk, dki_pre.data(), a.xn1.data(), w.idx_wk, T, D, dI, -1, -1, -1);
  // w = W_w xn1 * H_I^-0.5
  std::vector<float> dwi(a.dwi);
  const float ws = 1.0f / std::sqrt(float(HI));
  for (float& v : dwi) v *= ws;
  be.matmul_backward(dxn1, g.idx_weights, dwi.data(), a.xn1.data(), w.idx_weights, T, D, HI, -1, -1,
                     -1);
}

}  // namespace

void LayerBackward(const Backend& be, float* dx, const LayerTensors& g, const float* dout,
                   const LayerActs& a, const LayerTensors& w, const ModelDims& d,
                   const cpu::RopeTable& rope, const int* pos, const cpu::KeyRows& attn_keys,
                   bool lm, bool detach_indexer) {
  const int T = a.T, D = d.d_model;
  std::vector<float> dxn1(size_t(T) * D, 0.0f), dcq(size_t(T) * d.q_lora, 0.0f);
  if (lm) {
    const std::vector<float> d_o = OutputBackward(be, dx, g, dout, a, w, d);
    AttentionProjectBackward(be, dcq.data(), dxn1.data(), g, d_o, a, w, d, rope, pos, attn_keys);
  }
  if (a.has_indexer_grad) {
    // Detached, the indexer loss's gradients stop at the indexer projections' weights.
    IndexerProjectBackward(be, detach_indexer ? nullptr : dcq.data(),
                           detach_indexer ? nullptr : dxn1.data(), g, a, w, d, rope, pos);
  }
  if (!lm && detach_indexer) return;
  // c_q = RMSNorm(q_a(xn1)); xn1 = RMSNorm(x_in)
  std::vector<float> dqa(size_t(T) * d.q_lora, 0.0f);
  be.rmsnorm_backward(dqa.data(), g.q_a_norm, dcq.data(), a.qa.data(), w.q_a_norm, a.rstd_q.data(),
                      T, d.q_lora, -1, -1);
  be.matmul_backward(dxn1.data(), g.q_a, dqa.data(), a.xn1.data(), w.q_a, T, D, d.q_lora, -1, -1,
                     -1);
  be.rmsnorm_backward(dx, g.input_norm, dxn1.data(), a.x_in.data(), w.input_norm, a.rstd1.data(), T,
                      D, -1, -1);
}

}  // namespace dsarl::model
