#include "model/generator.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "model/cpu/ops.h"

namespace dsarl::model {

Generator::Generator(const Transformer* model, AttentionMode mode) : model_(model), mode_(mode) {}

Generator::SeqId Generator::NewSequence() {
  const ModelDims& d = model_->dims();
  Cache c;
  c.kv.resize(d.n_layers);
  c.ki.resize(d.n_layers);
  caches_[next_id_] = std::move(c);
  return next_id_++;
}

absl::StatusOr<Generator::SeqId> Generator::Fork(SeqId src) {
  auto it = caches_.find(src);
  if (it == caches_.end()) return absl::NotFoundError(absl::StrCat("no sequence ", src));
  caches_[next_id_] = it->second;
  return next_id_++;
}

void Generator::Release(SeqId id) { caches_.erase(id); }

int Generator::Length(SeqId id) const {
  auto it = caches_.find(id);
  return it == caches_.end() ? 0 : it->second.len;
}

// One Step's new tokens as rows, sequence by sequence.
struct Generator::Rows {
  std::vector<int> token;  // [rows]
  std::vector<int> pos;    // [rows] position in its sequence
  std::vector<int> seq;    // [rows] index into the Step's seqs
};

absl::StatusOr<Generator::StepResult> Generator::Step(const std::vector<SeqId>& seqs,
                                                      const std::vector<std::vector<int>>& tokens,
                                                      const std::vector<int>& forced_experts) {
  ASSIGN_OR_RETURN(const int T, CheckStep(seqs, tokens, forced_experts));
  const ModelDims& d = model_->dims();
  std::vector<Cache*> cache(seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) cache[i] = &caches_[seqs[i]];
  Rows rows;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int start = cache[i]->len;
    for (size_t j = 0; j < tokens[i].size(); ++j) {
      rows.token.push_back(tokens[i][j]);
      rows.pos.push_back(start + j);
      rows.seq.push_back(i);
    }
  }
  StepResult r;
  if (d.n_moe_layers() > 0) {
    r.routed_experts.resize(size_t(T) * d.n_moe_layers() * d.experts_per_tok);
  }
  std::vector<float> x(size_t(T) * d.d_model), next(size_t(T) * d.d_model);
  model_->backend().embedding_forward(x.data(), rows.token.data(), model_->weights().embed, T,
                                      d.d_model);
  int moe_index = 0;
  for (int l = 0; l < d.n_layers; ++l) {
    StepLayer(l, moe_index, rows, cache, forced_experts, x.data(), next.data(), &r);
    if (model_->weights().layers[l].moe) ++moe_index;
    std::swap(x, next);
  }
  for (size_t i = 0; i < seqs.size(); ++i) cache[i]->len += tokens[i].size();
  r.logits = LastRowLogits(x, tokens);
  return r;
}

absl::StatusOr<int> Generator::CheckStep(const std::vector<SeqId>& seqs,
                                         const std::vector<std::vector<int>>& tokens,
                                         const std::vector<int>& forced_experts) const {
  const ModelDims& d = model_->dims();
  if (seqs.size() != tokens.size()) {
    return absl::InvalidArgumentError("generator: one token list per sequence is required");
  }
  std::set<SeqId> seen;
  int T = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    auto it = caches_.find(seqs[i]);
    if (it == caches_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("generator: no sequence ", seqs[i]));
    }
    if (!seen.insert(seqs[i]).second) {
      return absl::InvalidArgumentError(absl::StrCat("generator: sequence ", seqs[i], " repeated"));
    }
    if (tokens[i].empty()) return absl::InvalidArgumentError("generator: empty token list");
    if (it->second.len + static_cast<int>(tokens[i].size()) > d.max_pos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "generator: sequence ", seqs[i], " would reach ", it->second.len + tokens[i].size(),
          " tokens, more than max_position_embeddings ", d.max_pos));
    }
    for (int t : tokens[i]) {
      if (t < 0 || t >= d.vocab) {
        return absl::InvalidArgumentError(
            absl::StrCat("generator: token ", t, " outside the vocabulary"));
      }
    }
    T += tokens[i].size();
  }
  if (!forced_experts.empty() &&
      forced_experts.size() != size_t(T) * d.n_moe_layers() * d.experts_per_tok) {
    return absl::InvalidArgumentError("generator: forced_experts has the wrong size");
  }
  return T;
}

void Generator::StepLayer(int l, int moe_index, const Rows& rows, const std::vector<Cache*>& cache,
                          const std::vector<int>& forced_experts, const float* x, float* out,
                          StepResult* r) {
  const ModelDims& d = model_->dims();
  const Backend& be = model_->backend();
  const LayerTensors& lw = model_->weights().layers[l];
  const int T = rows.token.size(), kd = d.kv_dim(), dI = d.index_dim;
  const int K = d.experts_per_tok, M = d.n_moe_layers();
  LayerProject(be, &acts_, x, rows.pos.data(), lw, d, model_->rope(), T);
  // Append this layer's new keys to each sequence's cache, then point every row at its cache.
  for (int t = 0; t < T; ++t) {
    Cache* c = cache[rows.seq[t]];
    c->kv[l].insert(c->kv[l].end(), &acts_.kv[size_t(t) * kd], &acts_.kv[size_t(t + 1) * kd]);
    c->ki[l].insert(c->ki[l].end(), &acts_.ki[size_t(t) * dI], &acts_.ki[size_t(t + 1) * dI]);
  }
  cpu::KeyRows ak, ik;
  ak.base.resize(T);
  ak.n_keys.resize(T);
  ik.base.resize(T);
  ik.n_keys.resize(T);
  for (int t = 0; t < T; ++t) {
    Cache* c = cache[rows.seq[t]];
    ak.base[t] = c->kv[l].data();
    ik.base[t] = c->ki[l].data();
    ak.n_keys[t] = ik.n_keys[t] = rows.pos[t] + 1;
  }
  LayerAttend(be, &acts_, ak, ik, d, mode_ == AttentionMode::kSparse);
  std::vector<int> forced;
  if (lw.moe && !forced_experts.empty()) {
    forced = MoeLayerExperts(forced_experts, T, M, K, moe_index);
  }
  LayerOutput(be, out, &acts_, lw, d, forced.empty() ? nullptr : forced.data());
  if (lw.moe) {
    SetMoeLayerExperts(r->routed_experts.data(), acts_.moe.experts.data(), T, M, K, moe_index);
  }
}

std::vector<float> Generator::LastRowLogits(const std::vector<float>& x,
                                            const std::vector<std::vector<int>>& tokens) const {
  const ModelDims& d = model_->dims();
  const ModelTensors& w = model_->weights();
  const Backend& be = model_->backend();
  const int n = tokens.size(), D = d.d_model;
  std::vector<float> last(size_t(n) * D), xn(size_t(n) * D), rstd(n);
  int row = 0;
  for (int i = 0; i < n; ++i) {
    row += tokens[i].size();
    std::copy_n(&x[size_t(row - 1) * D], D, &last[size_t(i) * D]);
  }
  be.rmsnorm_forward(xn.data(), rstd.data(), last.data(), w.final_norm, n, D, d.eps, -1);
  std::vector<float> logits(size_t(n) * d.vocab);
  be.matmul_forward(logits.data(), xn.data(), w.lm_head, n, D, d.vocab, false, -1, -1);
  return logits;
}

}  // namespace dsarl::model
