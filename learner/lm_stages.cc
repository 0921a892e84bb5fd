#include "learner/lm_stages.h"

#include <algorithm>
#include <fstream>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "model/tokenizer.h"

namespace dsarl::learner {
namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Consecutive samples up to `budget` tokens (at least one).
std::vector<TrainSample> NextBatch(const std::vector<TrainSample>& data, std::vector<size_t>* order,
                                   size_t* pos, uint64_t seed, int* epoch, int budget) {
  std::vector<TrainSample> batch;
  int used = 0;
  while (batch.empty() ||
         used + int(data[(*order)[*pos % order->size()]].tokens.size()) <= budget) {
    if (*pos >= order->size()) {
      *pos = 0;
      ++*epoch;
      uint64_t s = Mix(seed ^ Mix(*epoch));
      for (size_t i = order->size() - 1; i > 0; --i) {
        s = Mix(s);
        std::swap((*order)[i], (*order)[s % (i + 1)]);
      }
    }
    const TrainSample& x = data[(*order)[(*pos)++]];
    used += x.tokens.size();
    batch.push_back(x);
    if (batch.size() >= data.size()) break;
  }
  return batch;
}

LmStepOptions StepOptions(LmStage stage) {
  LmStepOptions o;
  switch (stage) {
    case LmStage::kSft:
      o.mode = model::AttentionMode::kSparse;
      break;
    case LmStage::kDsaWarmup:
      o.mode = model::AttentionMode::kDenseWarmup;
      o.lm_loss = false;
      o.indexer_only = true;
      break;
    case LmStage::kDsaSparse:
      o.mode = model::AttentionMode::kSparse;
      o.indexer_loss = true;
      break;
  }
  return o;
}

}  // namespace

absl::StatusOr<std::vector<TrainSample>> LoadTextCorpus(const std::string& path, int max_len,
                                                        const model::Tokenizer& tok) {
  if (max_len < 2) return absl::InvalidArgumentError("max_len must be at least 2");
  if (tok.chat().bos < 0 || tok.chat().eos < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": the tokenizer ", tok.name(), " has no <bos> or <eos> token to frame documents"));
  }
  std::vector<TrainSample> out;
  auto add = [&](absl::string_view line, int64_t) -> absl::Status {
    if (line.empty()) return absl::OkStatus();
    std::vector<int> ids = {tok.chat().bos};
    for (int32_t t : tok.Encode(line)) ids.push_back(t);
    ids.push_back(tok.chat().eos);
    for (size_t start = 0; start + 1 < ids.size(); start += max_len - 1) {
      const size_t end = std::min(ids.size(), start + max_len);
      TrainSample s;
      s.tokens.assign(ids.begin() + start, ids.begin() + end);
      s.loss_mask.assign(s.tokens.size(), 1);
      s.loss_mask[0] = 0;
      s.behaviour_logprobs.assign(s.tokens.size(), 0.0f);
      out.push_back(std::move(s));
      if (end == ids.size()) break;
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(ForEachLine(path, kMaxLineBytes, "text corpus", add));
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no text"));
  return out;
}

absl::StatusOr<std::vector<StageStepMetrics>> RunLmStage(
    Trainer* trainer, const std::vector<TrainSample>& data, const StageOptions& options,
    const std::function<void(const StageStepMetrics&)>& on_step) {
  if (data.empty()) return absl::InvalidArgumentError("no training sequences");
  std::vector<size_t> order(data.size());
  std::iota(order.begin(), order.end(), 0);
  size_t pos = order.size();  // shuffle on first use
  int epoch = -1;
  std::vector<StageStepMetrics> out;
  const LmStepOptions so = StepOptions(options.stage);
  for (int step = 0; step < options.steps; ++step) {
    std::vector<TrainSample> batch =
        NextBatch(data, &order, &pos, options.seed, &epoch, options.batch_tokens);
    ASSIGN_OR_RETURN(StepReport r, trainer->LmStep(batch, so));
    StageStepMetrics m;
    m.step = step + 1;
    m.lm_loss = r.lm_loss;
    m.indexer_kl = r.indexer_kl;
    m.recall = r.indexer_recall;
    m.layer_kl = r.layer_kl;
    m.layer_recall = r.layer_recall;
    out.push_back(m);
    if (on_step) on_step(m);
  }
  return out;
}

absl::StatusOr<StageEval> EvaluateStage(Trainer* trainer, const std::vector<TrainSample>& data,
                                        int batch_tokens) {
  StageEval e;
  int64_t n = 0;
  for (size_t start = 0; start < data.size();) {
    std::vector<TrainSample> batch;
    int used = 0;
    while (start < data.size() &&
           (batch.empty() || used + int(data[start].tokens.size()) <= batch_tokens)) {
      used += data[start].tokens.size();
      batch.push_back(data[start++]);
    }
    LmStepOptions dense;
    dense.mode = model::AttentionMode::kDenseWarmup;  // dense attention + indexer statistics
    dense.no_update = true;
    ASSIGN_OR_RETURN(StepReport d, trainer->LmStep(batch, dense));
    LmStepOptions sparse;
    sparse.mode = model::AttentionMode::kSparse;
    sparse.no_update = true;
    ASSIGN_OR_RETURN(StepReport s, trainer->LmStep(batch, sparse));
    const double w = batch.size();
    e.lm_loss_dense += d.lm_loss * w;
    e.lm_loss_sparse += s.lm_loss * w;
    e.recall += d.indexer_recall * w;
    e.indexer_kl += d.indexer_kl * w;
    if (e.layer_recall.empty()) {
      e.layer_recall.assign(d.layer_recall.size(), 0.0);
      e.layer_kl.assign(d.layer_kl.size(), 0.0);
    }
    for (size_t l = 0; l < d.layer_recall.size(); ++l) {
      e.layer_recall[l] += d.layer_recall[l] * w;
      e.layer_kl[l] += d.layer_kl[l] * w;
    }
    n += batch.size();
  }
  const double inv = 1.0 / std::max<int64_t>(n, 1);
  e.lm_loss_dense *= inv;
  e.lm_loss_sparse *= inv;
  e.recall *= inv;
  e.indexer_kl *= inv;
  for (double& v : e.layer_recall) v *= inv;
  for (double& v : e.layer_kl) v *= inv;
  return e;
}

}  // namespace dsarl::learner
