// Small model configurations and batches shared by the model tests.
#ifndef DSARL_TESTS_MODEL_MODEL_TEST_UTIL_H_
#define DSARL_TESTS_MODEL_MODEL_TEST_UTIL_H_

#include <random>
#include <vector>

#include "model/dims.h"
#include "model/transformer.h"

namespace dsarl::model::testing {

// A model small enough for finite differences, with every feature of the real one.
inline ModelDims TinyTestDims(bool moe, AttentionMode mode) {
  ModelDims d;
  d.vocab = 300;
  d.d_model = 32;
  d.n_layers = 2;
  d.n_heads = 2;
  d.q_lora = 16;
  d.d_c = 12;
  d.nope = 8;
  d.rope = 4;
  d.v_head = 6;
  d.index_heads = 2;
  d.index_dim = 8;
  d.index_topk = 5;
  d.ffn = 24;
  d.max_pos = 64;
  d.init_std = 0.2f;
  d.mode = mode;
  if (moe) {
    d.n_routed = 4;
    d.experts_per_tok = 2;
    d.n_shared = 1;
    d.moe_ffn = 8;
    d.first_k_dense = 1;
    d.n_group = 2;
    d.topk_group = 1;
    d.routed_scale = 1.5f;
  }
  return d;
}

// Dims of a two-layer model whose layer 1 is a MoE layer of width `d_model`, with the attention and
// indexer as small as they go: for op tests that need only the MoE layer's tensors.
inline ModelDims SmallMoeDims(int d_model, int experts, int per_token, int shared, int groups,
                              int topk_groups, bool norm_topk, int moe_ffn) {
  ModelDims d;
  d.vocab = 16;
  d.d_model = d_model;
  d.n_layers = 2;
  d.n_heads = 1;
  d.q_lora = 4;
  d.d_c = 4;
  d.nope = 2;
  d.rope = 2;
  d.v_head = 2;
  d.index_heads = 1;
  d.index_dim = 4;
  d.ffn = 4;
  d.max_pos = 8;
  d.n_routed = experts;
  d.experts_per_tok = per_token;
  d.n_shared = shared;
  d.moe_ffn = moe_ffn;
  d.first_k_dense = 1;
  d.n_group = groups;
  d.topk_group = topk_groups;
  d.routed_scale = 1.5f;
  d.norm_topk_prob = norm_topk;
  return d;
}

// Sequences of the given lengths with random tokens; each position predicts the next token.
inline PackedBatch RandomBatch(const std::vector<int>& lengths, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  PackedBatch b;
  b.seq_start.push_back(0);
  for (int len : lengths) {
    std::vector<int> toks(len + 1);
    for (int& t : toks) t = rng() % vocab;
    for (int i = 0; i < len; ++i) {
      b.tokens.push_back(toks[i]);
      b.targets.push_back(toks[i + 1]);
    }
    b.seq_start.push_back(b.tokens.size());
  }
  return b;
}

}  // namespace dsarl::model::testing

#endif  // DSARL_TESTS_MODEL_MODEL_TEST_UTIL_H_
