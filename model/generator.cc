#include "model/generator.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
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

absl::StatusOr<Generator::StepResult> Generator::Step(
    const std::vector<SeqId>& seqs, const std::vector<std::vector<int>>& tokens,
    const std::vector<int>& forced_experts) {
  const ModelDims& d = model_->dims();
  const ModelTensors& w = model_->weights();
  const Backend& be = model_->backend();
  if (seqs.size() != tokens.size()) {
    return absl::InvalidArgumentError("generator: one token list per sequence is required");
  }
  std::set<SeqId> seen;
  int T = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    auto it = caches_.find(seqs[i]);
    if (it == caches_.end()) return absl::InvalidArgumentError(absl::StrCat("generator: no sequence ", seqs[i]));
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
        return absl::InvalidArgumentError(absl::StrCat("generator: token ", t, " outside the vocabulary"));
      }
    }
    T += tokens[i].size();
  }
  const int K = d.experts_per_tok, M = d.n_moe_layers();
  if (!forced_experts.empty() && forced_experts.size() != size_t(T) * M * K) {
    return absl::InvalidArgumentError("generator: forced_experts has the wrong size");
  }
  // Rows: every new token, sequence by sequence.
  std::vector<int> flat, pos, row_seq;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int start = caches_[seqs[i]].len;
    for (size_t j = 0; j < tokens[i].size(); ++j) {
      flat.push_back(tokens[i][j]);
      pos.push_back(start + j);
      row_seq.push_back(i);
    }
  }
  const int D = d.d_model, kd = d.kv_dim(), dI = d.index_dim;
  StepResult r;
  if (M > 0) r.routed_experts.resize(size_t(T) * M * K);
  std::vector<float> x(size_t(T) * D), next(size_t(T) * D);
  be.embedding_forward(x.data(), flat.data(), w.embed, T, D);
  std::vector<Cache*> cache(seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) cache[i] = &caches_[seqs[i]];
  int moe_index = 0;
  for (int l = 0; l < d.n_layers; ++l) {
    const LayerTensors& lw = w.layers[l];
    LayerProject(be, &acts_, x.data(), pos.data(), lw, d, model_->rope(), T);
    // Append this layer's new keys to each sequence's cache, then point every row at its cache.
    for (int t = 0; t < T; ++t) {
      Cache* c = cache[row_seq[t]];
      c->kv[l].insert(c->kv[l].end(), &acts_.kv[size_t(t) * kd], &acts_.kv[size_t(t + 1) * kd]);
      c->ki[l].insert(c->ki[l].end(), &acts_.ki[size_t(t) * dI], &acts_.ki[size_t(t + 1) * dI]);
    }
    cpu::KeyRows ak, ik;
    ak.base.resize(T);
    ak.n_keys.resize(T);
    ik.base.resize(T);
    ik.n_keys.resize(T);
    for (int t = 0; t < T; ++t) {
      Cache* c = cache[row_seq[t]];
      ak.base[t] = c->kv[l].data();
      ik.base[t] = c->ki[l].data();
      ak.n_keys[t] = ik.n_keys[t] = pos[t] + 1;
    }
    LayerAttend(be, &acts_, ak, ik, d, mode_ == AttentionMode::kSparse);
    std::vector<int> forced;
    if (lw.moe && !forced_experts.empty()) {
      forced.resize(size_t(T) * K);
      for (int t = 0; t < T; ++t) {
        std::copy_n(&forced_experts[(size_t(t) * M + moe_index) * K], K, &forced[size_t(t) * K]);
      }
    }
    LayerOutput(be, next.data(), &acts_, lw, d, forced.empty() ? nullptr : forced.data());
    if (lw.moe) {
      for (int t = 0; t < T; ++t) {
        std::copy_n(&acts_.moe.experts[size_t(t) * K], K,
                    &r.routed_experts[(size_t(t) * M + moe_index) * K]);
      }
      ++moe_index;
    }
    std::swap(x, next);
  }
  for (size_t i = 0; i < seqs.size(); ++i) cache[i]->len += tokens[i].size();
  // Logits only for each sequence's last new row.
  const int n = seqs.size();
  std::vector<float> last(size_t(n) * D), xn(size_t(n) * D), rstd(n);
  int row = 0;
  for (int i = 0; i < n; ++i) {
    row += tokens[i].size();
    std::copy_n(&x[size_t(row - 1) * D], D, &last[size_t(i) * D]);
  }
  be.rmsnorm_forward(xn.data(), rstd.data(), last.data(), w.final_norm, n, D, d.eps, -1);
  r.logits.resize(size_t(n) * d.vocab);
  be.matmul_forward(r.logits.data(), xn.data(), w.lm_head, n, D, d.vocab, false, -1, -1);
  return r;
}

}  // namespace dsarl::model
