// Generation with per-layer caches: for every past token of a sequence, each layer keeps its MLA
// key [c_kv ; k_rope] (d_c + d_r floats) and its indexer key (d_I floats). Prefill appends a
// prompt's keys; each decode step appends one. Many sequences of different lengths step together
// (their projections and FFNs run as one batch of rows); Fork copies a sequence's caches so the G
// samples of a prompt share one prefill.
#ifndef DSARL_MODEL_GENERATOR_H_
#define DSARL_MODEL_GENERATOR_H_

#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "model/transformer.h"

namespace dsarl::model {

class Generator {
 public:
  using SeqId = int;

  // Uses `model`'s weights (not copied; they must outlive the generator and not change during a
  // Step). `mode` picks dense or sparse (DSA) attention.
  Generator(const Transformer* model, AttentionMode mode);

  // Attention mode of later Steps (caches stay valid: they hold keys, not attention results).
  void set_mode(AttentionMode mode) { mode_ = mode; }

  SeqId NewSequence();
  // A new sequence with a copy of `src`'s caches. NotFound for an unknown id.
  absl::StatusOr<SeqId> Fork(SeqId src);
  void Release(SeqId id);
  // Tokens in the cache of `id` (0 for unknown ids).
  int Length(SeqId id) const;

  struct StepResult {
    std::vector<float> logits;        // [n_seqs, vocab]: next-token logits after each sequence
    std::vector<int> routed_experts;  // [new rows, n_moe_layers, experts_per_tok]
  };

  // Appends tokens[i] to sequence seqs[i] (any number of tokens each: a prompt, or one token when
  // decoding) and returns each sequence's next-token logits. forced_experts, when non-empty, gives
  // [new rows, n_moe_layers, experts_per_tok] to replay recorded routing. InvalidArgument for
  // unknown ids, repeated ids, empty token lists, out-of-vocabulary tokens or a context longer than
  // max_position_embeddings; then no cache is changed.
  absl::StatusOr<StepResult> Step(const std::vector<SeqId>& seqs,
                                  const std::vector<std::vector<int>>& tokens,
                                  const std::vector<int>& forced_experts = {});

 private:
  struct Cache {
    int len = 0;
    std::vector<std::vector<float>> kv;  // [layer][len, d_c + d_r]
    std::vector<std::vector<float>> ki;  // [layer][len, d_I]
  };
  struct Rows;  // one Step's new tokens as rows, sequence by sequence

  // Step's argument checks (InvalidArgument as documented there); returns the number of new rows.
  absl::StatusOr<int> CheckStep(const std::vector<SeqId>& seqs,
                                const std::vector<std::vector<int>>& tokens,
                                const std::vector<int>& forced_experts) const;
  // Layer l (the moe_index-th MoE layer when it is one) for every row: x [rows, D] -> out
  // [rows, D]. Appends the layer's new keys to each row's cache and attends over the cache;
  // records the layer's routing in r->routed_experts.
  void StepLayer(int l, int moe_index, const Rows& rows, const std::vector<Cache*>& cache,
                 const std::vector<int>& forced_experts, const float* x, float* out, StepResult* r);
  // Next-token logits [n_seqs, vocab] from the last new row of each sequence in x [rows, D].
  std::vector<float> LastRowLogits(const std::vector<float>& x,
                                   const std::vector<std::vector<int>>& tokens) const;

  const Transformer* model_;
  AttentionMode mode_;
  std::map<SeqId, Cache> caches_;
  SeqId next_id_ = 0;
  LayerActs acts_;  // scratch, reused across layers and steps
};

}  // namespace dsarl::model

#endif  // DSARL_MODEL_GENERATOR_H_
