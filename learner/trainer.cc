#include "learner/trainer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "learner/data_parallel.h"

namespace dsarl::learner {

TrainerOptions TrainerOptionsFromConfig(const proto::JobConfig& c) {
  TrainerOptions o;
  const proto::LearnerConfig& l = c.learner();
  o.grpo = GrpoConfigFromProto(l);
  o.adam.beta1 = l.adam_beta1();
  o.adam.beta2 = l.adam_beta2();
  o.adam.eps = l.adam_eps();
  o.adam.weight_decay = l.weight_decay();
  o.lr.peak = l.lr();
  o.lr.warmup_steps = l.warmup_steps();
  o.lr.total_steps = l.total_steps();
  o.lr.min_ratio = l.min_lr_ratio();
  o.grad_clip = l.grad_clip();
  o.micro_batch_tokens = l.micro_batch_tokens();
  o.minibatches = l.minibatches_per_step();
  o.temperature = c.rollout().temperature();
  switch (c.model().attention_mode()) {
    case proto::ModelConfig::DENSE:
      o.mode = model::AttentionMode::kDense;
      break;
    case proto::ModelConfig::DENSE_WARMUP:
      o.mode = model::AttentionMode::kDenseWarmup;
      break;
    default:
      o.mode = model::AttentionMode::kSparse;
      break;
  }
  return o;
}

absl::Status ValidateSample(const TrainSample& s, int vocab, int routed_per_token) {
  const size_t n = s.tokens.size();
  if (n < 2) return absl::InvalidArgumentError("sample has fewer than 2 tokens");
  if (s.loss_mask.size() != n || s.behaviour_logprobs.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("sample: ", n, " tokens but ",
                                                   s.loss_mask.size(), " mask entries and ",
                                                   s.behaviour_logprobs.size(), " log-probs"));
  }
  if (s.loss_mask[0] != 0) {
    return absl::InvalidArgumentError("sample: the first token cannot be a policy token");
  }
  if (!s.kept.empty() && s.kept.size() != n) {
    return absl::InvalidArgumentError("sample: kept sets must be empty or one per token");
  }
  if (!s.routed_experts.empty() && s.routed_experts.size() != n * routed_per_token) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sample: ", s.routed_experts.size(), " routed experts, expected ", n * routed_per_token));
  }
  for (size_t t = 0; t < n; ++t) {
    if (s.tokens[t] < 0 || s.tokens[t] >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("sample: token ", s.tokens[t], " at ", t, " outside the vocabulary"));
    }
    if (s.loss_mask[t] && !std::isfinite(s.behaviour_logprobs[t])) {
      return absl::InvalidArgumentError(
          absl::StrCat("sample: behaviour log-prob at ", t, " is not finite"));
    }
  }
  return absl::OkStatus();
}

namespace {

// What the model's forward refuses beyond ValidateSample: length, kept sets, forced experts.
absl::Status CheckForModel(const TrainSample& s, const model::ModelDims& d) {
  const int n = s.tokens.size();
  if (n > d.max_pos) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample: ", n, " tokens, more than ", d.max_pos));
  }
  for (int t = 1; t < n && !s.kept.empty(); ++t) {
    const std::vector<int>& k = s.kept[t];
    if (!s.loss_mask[t] || k.empty()) continue;
    for (int v : k) {
      if (v < 0 || v >= d.vocab) {
        return absl::InvalidArgumentError(absl::StrCat("sample: kept set at ", t, " has id ", v));
      }
    }
    if (std::find(k.begin(), k.end(), s.tokens[t]) == k.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sample: kept set at ", t, " lacks its token ", s.tokens[t]));
    }
  }
  const int K = d.experts_per_tok;
  for (size_t i = 0; K > 0 && i + K <= s.routed_experts.size(); i += K) {
    for (int a = 0; a < K; ++a) {
      const int e = s.routed_experts[i + a];
      if (e < 0 || e >= d.n_routed ||
          std::count(s.routed_experts.begin() + i, s.routed_experts.begin() + i + a, e) > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("sample: recorded expert ", e, " repeated or out of range"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTrainGroup(const TrainGroup& g, const model::ModelDims& d) {
  if (g.samples.empty() || g.samples.size() != g.rewards.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(g.samples.size(), " samples and ", g.rewards.size(), " rewards"));
  }
  const int routed = d.n_moe_layers() * d.experts_per_tok;
  for (size_t i = 0; i < g.samples.size(); ++i) {
    absl::Status s = ValidateSample(g.samples[i], d.vocab, routed);
    if (s.ok()) s = CheckForModel(g.samples[i], d);
    if (s.ok() && !std::isfinite(g.rewards[i])) {
      s = absl::InvalidArgumentError(absl::StrCat("reward ", g.rewards[i], " is not finite"));
    }
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("sample ", i, ": ", s.message()));
  }
  return absl::OkStatus();
}

Trainer::Trainer(model::Transformer* policy, std::unique_ptr<model::Transformer> reference,
                 TrainerOptions options)
    : policy_(policy), reference_(std::move(reference)), options_(std::move(options)) {
  adam_ = std::make_unique<AdamW>(policy_->table(), options_.adam, AllTrainable);
}

std::vector<std::vector<int>> Trainer::Pack(const std::vector<const TrainSample*>& s) const {
  std::vector<std::vector<int>> out;
  int used = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const int n = s[i]->tokens.size();
    if (out.empty() || used + n > options_.micro_batch_tokens) {
      out.emplace_back();
      used = 0;
    }
    out.back().push_back(i);
    used += n;
  }
  return out;
}

absl::StatusOr<model::PackedBatch> Trainer::Build(const std::vector<const TrainSample*>& s,
                                                  const std::vector<int>& which) const {
  const model::ModelDims& d = policy_->dims();
  const int routed = d.n_moe_layers() * d.experts_per_tok;
  model::PackedBatch b;
  b.seq_start.push_back(0);
  bool any_kept = false, any_routed = false;
  for (int i : which) {
    any_kept |= !s[i]->kept.empty();
    any_routed |= !s[i]->routed_experts.empty();
  }
  for (int i : which) {
    const TrainSample& x = *s[i];
    RETURN_IF_ERROR(ValidateSample(x, d.vocab, routed));
    const size_t n = x.tokens.size();
    for (size_t t = 0; t < n; ++t) {
      b.tokens.push_back(x.tokens[t]);
      // Position t predicts token t + 1; only policy tokens are scored.
      const bool scored = t + 1 < n && x.loss_mask[t + 1];
      b.targets.push_back(scored ? x.tokens[t + 1] : -1);
      if (any_kept) {
        b.kept.push_back(scored && !x.kept.empty() ? x.kept[t + 1] : std::vector<int>{});
      }
    }
    if (any_routed) {
      if (x.routed_experts.empty()) {
        return absl::InvalidArgumentError(
            "micro-batch mixes samples with and without recorded experts");
      }
      b.forced_experts.insert(b.forced_experts.end(), x.routed_experts.begin(),
                              x.routed_experts.end());
    }
    b.seq_start.push_back(b.tokens.size());
  }
  return b;
}

absl::StatusOr<std::vector<std::vector<float>>> Trainer::LogProbs(
    model::Transformer* m, const std::vector<const TrainSample*>& samples) {
  std::vector<std::vector<float>> out(samples.size());
  const model::ForwardOptions o = ScoringOptions();
  for (const std::vector<int>& micro : Pack(samples)) {
    ASSIGN_OR_RETURN(model::PackedBatch b, Build(samples, micro));
    ASSIGN_OR_RETURN(model::ForwardResult r, m->Forward(b, o));
    for (size_t k = 0; k < micro.size(); ++k) {
      const TrainSample& x = *samples[micro[k]];
      std::vector<float>& lp = out[micro[k]];
      lp.assign(x.tokens.size(), 0.0f);
      for (size_t t = 1; t < x.tokens.size(); ++t) {
        if (x.loss_mask[t]) lp[t] = r.logp[b.seq_start[k] + t - 1];
      }
    }
  }
  return out;
}

void Trainer::ApplyUpdate(bool indexer_only, double loss, MinibatchReport* rep) {
  const model::ParamTable& table = policy_->table();
  const TensorFilter filter = indexer_only ? TensorFilter(IndexerOnly) : TensorFilter(AllTrainable);
  rep->loss = loss;
  rep->grad_norm = GradNorm(table, policy_->grads(), filter);
  rep->lr = options_.lr.At(step_);
  if (!std::isfinite(loss) || !std::isfinite(rep->grad_norm)) {
    rep->skipped = true;  // reported; parameters and optimizer state untouched
    ++step_;
    return;
  }
  if (options_.grad_clip > 0 && rep->grad_norm > options_.grad_clip) {
    ScaleGrads(table, policy_->grads(), filter, float(options_.grad_clip / rep->grad_norm));
  }
  if (indexer_only && !indexer_adam_) {
    indexer_adam_ = std::make_unique<AdamW>(policy_->table(), options_.adam, IndexerOnly);
  }
  (indexer_only ? indexer_adam_ : adam_)->Step(policy_->params(), policy_->grads(), rep->lr);
  ++step_;
}

// One GrpoStep: the rollout batch flattened, its reference log-probs, and what the mini-batches
// add up.
struct Trainer::GrpoPass {
  explicit GrpoPass(const GrpoConfig& config) : grpo(config) {}
  std::vector<const TrainSample*> samples;  // every sample of the batch, group by group
  std::vector<std::pair<int, int>> where;   // (group, sample) of each entry of `samples`
  std::vector<std::vector<float>> ref;      // reference log-probs of each (when beta > 0)
  GrpoAccumulator grpo;                     // advantages, loss terms and statistics
  std::vector<std::string> drop;            // per group of the batch: why it is dropped, or ""
  std::vector<int> acc_group;               // per group of the batch: its index in `grpo`
  std::vector<int> owner;                   // per group of the batch: the rank that trains it
  model::ForwardOptions forward;
  double entropy_sum = 0;
  int64_t entropy_n = 0;
  StepReport report;
};

model::ForwardOptions Trainer::ScoringOptions() const {
  model::ForwardOptions o;
  o.mode = options_.mode == model::AttentionMode::kDenseWarmup ? model::AttentionMode::kDense
                                                               : options_.mode;
  o.temperature = options_.temperature;
  return o;
}

void Trainer::AdmitGroups(const std::vector<TrainGroup>& batch, GrpoPass* pass) const {
  pass->drop.assign(batch.size(), "");
  pass->acc_group.assign(batch.size(), -1);
  for (size_t g = 0; g < batch.size(); ++g) {
    absl::Status ok = CheckTrainGroup(batch[g], policy_->dims());
    if (ok.ok()) {
      for (double a : Advantages(batch[g].rewards, options_.grpo.std_norm)) {
        if (!std::isfinite(a)) ok = absl::InvalidArgumentError("advantages are not finite");
      }
    }
    if (!ok.ok()) {
      pass->drop[g] = std::string(ok.message());
      continue;
    }
    pass->acc_group[g] = pass->grpo.AddGroup(batch[g].rewards);
    for (size_t i = 0; i < batch[g].samples.size(); ++i) {
      pass->samples.push_back(&batch[g].samples[i]);
      pass->where.push_back({int(g), int(i)});
    }
  }
}

bool Trainer::Owned(const GrpoPass& pass, int group) const {
  return pass.owner[group] == (comm_ == nullptr ? 0 : comm_->rank());
}

absl::Status Trainer::ReferenceLogProbs(GrpoPass* pass) {
  std::vector<const TrainSample*> mine;
  std::vector<size_t> at;
  for (size_t a = 0; a < pass->samples.size(); ++a) {
    if (!Owned(*pass, pass->where[a].first)) continue;
    mine.push_back(pass->samples[a]);
    at.push_back(a);
  }
  pass->ref.assign(pass->samples.size(), {});
  if (!mine.empty()) {
    ASSIGN_OR_RETURN(std::vector<std::vector<float>> ref, LogProbs(reference_.get(), mine));
    for (size_t k = 0; k < at.size(); ++k) pass->ref[at[k]] = std::move(ref[k]);
  }
  // Per group: 1 + the sample and the token of its first non-finite reference log-prob, written
  // by its owner alone, so that every rank drops it with the same reason.
  const size_t n_groups = pass->drop.size();
  std::vector<double> bad(3 * n_groups, 0.0);
  for (size_t a : at) {
    const TrainSample& x = *pass->samples[a];
    const int g = pass->where[a].first;
    for (size_t t = 0; t < x.tokens.size() && bad[3 * g] == 0; ++t) {
      if (x.loss_mask[t] && !std::isfinite(pass->ref[a][t])) {
        bad[3 * g] = 1;
        bad[3 * g + 1] = pass->where[a].second;
        bad[3 * g + 2] = double(t);
      }
    }
  }
  if (comm_ != nullptr)
    RETURN_IF_ERROR(comm_->AllReduce(absl::MakeSpan(bad), dist::ReduceOp::kSum));
  for (size_t g = 0; g < n_groups; ++g) {
    if (bad[3 * g] > 0 && pass->drop[g].empty()) {
      pass->drop[g] = absl::StrCat("sample ", int64_t(bad[3 * g + 1]), ": reference log-prob at ",
                                   int64_t(bad[3 * g + 2]), " is not finite");
    }
  }
  return absl::OkStatus();
}

absl::Status Trainer::ReduceStatistics(GrpoPass* pass) {
  if (comm_ == nullptr) return absl::OkStatus();
  std::vector<double> sums = pass->grpo.SequenceSums();
  sums.push_back(pass->entropy_sum);
  sums.push_back(double(pass->entropy_n));
  sums.push_back(double(pass->report.tokens));
  sums.push_back(double(pass->report.micro_batches));
  RETURN_IF_ERROR(comm_->AllReduce(absl::MakeSpan(sums), dist::ReduceOp::kSum));
  const size_t n = sums.size();
  pass->report.micro_batches = std::llround(sums[n - 1]);
  pass->report.tokens = std::llround(sums[n - 2]);
  pass->entropy_n = std::llround(sums[n - 3]);
  pass->entropy_sum = sums[n - 4];
  sums.resize(n - 4);
  pass->grpo.SetSequenceSums(sums);
  return absl::OkStatus();
}

absl::StatusOr<StepReport> Trainer::GrpoStep(const std::vector<TrainGroup>& batch) {
  const GrpoConfig& gc = options_.grpo;
  const int n_groups = batch.size();
  if (n_groups == 0) return absl::InvalidArgumentError("GRPO step with no groups");
  GrpoPass pass(gc);
  AdmitGroups(batch, &pass);
  const int n_mb = std::max(1, std::min(options_.minibatches, n_groups));
  // Which rank trains each group: within each mini-batch, balanced by tokens.
  std::vector<int64_t> tokens(n_groups, 0);
  std::vector<bool> live(n_groups);
  for (int g = 0; g < n_groups; ++g) {
    live[g] = pass.drop[g].empty();
    for (const TrainSample& x : batch[g].samples) tokens[g] += x.tokens.size();
  }
  pass.owner.assign(n_groups, -1);
  const int world = comm_ == nullptr ? 1 : comm_->world_size();
  for (int mb = 0; mb < n_mb; ++mb) {
    AssignOwners(tokens, live, n_groups * mb / n_mb, n_groups * (mb + 1) / n_mb, world,
                 &pass.owner);
  }
  // Reference log-probs once per rollout batch.
  if (gc.beta > 0 && !pass.samples.empty()) {
    if (!reference_) return absl::FailedPreconditionError("kl_coef > 0 needs a reference model");
    RETURN_IF_ERROR(ReferenceLogProbs(&pass));
  }
  pass.forward = ScoringOptions();
  pass.forward.entropy = true;
  for (int mb = 0; mb < n_mb; ++mb) {
    RETURN_IF_ERROR(GrpoMinibatch(n_groups * mb / n_mb, n_groups * (mb + 1) / n_mb, &pass));
  }
  for (int g = 0; g < n_groups; ++g) {
    if (!pass.drop[g].empty()) pass.report.dropped.push_back({g, pass.drop[g]});
  }
  RETURN_IF_ERROR(ReduceStatistics(&pass));
  RETURN_IF_ERROR(SyncReplicas(&pass.report.resynced_ranks));
  // Batch statistics from the log-probs each group was trained with.
  // (A non-finite log-prob, already reported as a skipped step, leaves the statistics empty.)
  if (absl::StatusOr<GrpoStats> stats = pass.grpo.Stats(); stats.ok()) pass.report.grpo = *stats;
  pass.report.entropy = pass.entropy_n > 0 ? pass.entropy_sum / pass.entropy_n : 0.0;
  return std::move(pass.report);
}

absl::Status Trainer::GrpoMinibatch(int g0, int g1, GrpoPass* pass) {
  int live = 0;
  for (int g = g0; g < g1; ++g) live += pass->drop[g].empty();
  MinibatchReport rep;
  double J = 0;
  if (live > 0) {
    // What one pass adds to the sums, to take back when the pass is done again.
    const GrpoAccumulator grpo = pass->grpo;
    const double entropy_sum = pass->entropy_sum;
    const int64_t entropy_n = pass->entropy_n, tokens = pass->report.tokens;
    const int micro_batches = pass->report.micro_batches;
    std::vector<int> bad;
    RETURN_IF_ERROR(GrpoMinibatchPass(g0, g1, pass, &J, &bad));
    // Every group non-finite: the policy itself, not a group; the update is skipped below.
    if (!bad.empty() && static_cast<int>(bad.size()) < live) {
      for (int g : bad) pass->drop[g] = "loss terms under the current policy are not finite";
      pass->grpo = grpo;
      pass->entropy_sum = entropy_sum;
      pass->entropy_n = entropy_n;
      pass->report.tokens = tokens;
      pass->report.micro_batches = micro_batches;
      J = 0;
      bad.clear();
      RETURN_IF_ERROR(GrpoMinibatchPass(g0, g1, pass, &J, &bad));
    }
    ApplyUpdate(false, -J, &rep);
  } else {
    rep.lr = options_.lr.At(step_);
    rep.skipped = true;  // nothing left to train on
    ++step_;
  }
  pass->report.minibatches.push_back(rep);
  return absl::OkStatus();
}

absl::Status Trainer::GrpoMinibatchPass(int g0, int g1, GrpoPass* pass, double* objective,
                                        std::vector<int>* bad) {
  std::vector<const TrainSample*> samples;
  std::vector<int> index;  // into pass->samples
  GrpoNorm norm{0, 0};
  for (int g = g0; g < g1; ++g) norm.groups += pass->drop[g].empty();
  for (size_t k = 0; k < pass->samples.size(); ++k) {
    const int g = pass->where[k].first;
    if (g < g0 || g >= g1 || !pass->drop[g].empty()) continue;
    // The normalizers count every rank's groups; this rank forwards its own.
    for (int m : pass->samples[k]->loss_mask) norm.tokens += m != 0;
    if (!Owned(*pass, g)) continue;
    samples.push_back(pass->samples[k]);
    index.push_back(k);
  }
  policy_->ZeroGrad();
  for (const std::vector<int>& micro : Pack(samples)) {
    RETURN_IF_ERROR(GrpoMicroBatch(samples, index, micro, norm, pass, objective, bad));
  }
  if (comm_ == nullptr) return absl::OkStatus();
  // The objective and the non-finite groups of every rank, then the gradient.
  std::vector<double> shared(1 + g1 - g0, 0.0);
  shared[0] = *objective;
  for (int g : *bad) shared[1 + g - g0] = 1;
  RETURN_IF_ERROR(comm_->AllReduce(absl::MakeSpan(shared), dist::ReduceOp::kSum));
  *objective = shared[0];
  bad->clear();
  for (int g = g0; g < g1; ++g) {
    if (shared[1 + g - g0] > 0) bad->push_back(g);
  }
  return dist::BucketedAllReduce(comm_,
                                 absl::MakeSpan(policy_->grads(), policy_->table().total_floats()),
                                 dist::ReduceOp::kSum);
}

absl::Status Trainer::GrpoMicroBatch(const std::vector<const TrainSample*>& samples,
                                     const std::vector<int>& index, const std::vector<int>& micro,
                                     const GrpoNorm& norm, GrpoPass* pass, double* objective,
                                     std::vector<int>* bad) {
  const bool kl = options_.grpo.beta > 0;
  ASSIGN_OR_RETURN(model::PackedBatch b, Build(samples, micro));
  ASSIGN_OR_RETURN(model::ForwardResult r, policy_->Forward(b, pass->forward));
  pass->report.tokens += b.tokens.size();
  ++pass->report.micro_batches;
  std::vector<float> dlogp(b.tokens.size(), 0.0f);
  for (size_t k = 0; k < micro.size(); ++k) {
    const int a = index[micro[k]];
    const auto [g, i] = pass->where[a];
    const TrainSample& x = *pass->samples[a];
    const size_t n = x.tokens.size();
    const size_t start = b.seq_start[k];  // position start + t - 1 predicts token t
    GrpoSequence seq;
    seq.mask = x.loss_mask;
    seq.logp_old = x.behaviour_logprobs;
    if (kl) seq.logp_ref = pass->ref[a];
    seq.logp.assign(n, 0.0f);
    for (size_t t = 1; t < n; ++t) {
      if (!x.loss_mask[t]) continue;
      seq.logp[t] = r.logp[start + t - 1];
      pass->entropy_sum += r.entropy[start + t - 1];
      ++pass->entropy_n;
    }
    std::vector<float> dl;
    const SequenceTerms terms = pass->grpo.AddSequence(pass->acc_group[g], i, seq, norm, &dl);
    *objective += terms.objective;
    bool finite = std::isfinite(terms.objective);
    for (size_t t = 1; t < n; ++t) {
      dlogp[start + t - 1] = dl[t];
      finite &= std::isfinite(dl[t]);
    }
    if (!finite && std::find(bad->begin(), bad->end(), g) == bad->end()) bad->push_back(g);
  }
  return policy_->Backward(dlogp.data());
}

absl::StatusOr<StepReport> Trainer::LmStep(const std::vector<TrainSample>& batch,
                                           const LmStepOptions& lo) {
  StepReport report;
  std::vector<const TrainSample*> samples;
  int64_t counted = 0, rows = 0;
  for (const TrainSample& s : batch) {
    samples.push_back(&s);
    for (int m : s.loss_mask) counted += m != 0;
    rows += s.tokens.size();
  }
  if (samples.empty()) return absl::InvalidArgumentError("LM step with no samples");
  const bool idx_loss = lo.indexer_loss || lo.mode == model::AttentionMode::kDenseWarmup;
  model::ForwardOptions fo;
  fo.mode = lo.mode;
  fo.indexer_loss = idx_loss;
  fo.detach_indexer = true;
  // Per-row mean KL summed over layers.
  fo.indexer_loss_scale = lo.indexer_loss_weight / float(std::max<int64_t>(rows, 1));
  policy_->ZeroGrad();
  double loss = 0, kl = 0, recall = 0;
  int64_t kl_rows = 0;
  std::vector<double> layer_kl, layer_recall;
  std::vector<int64_t> layer_rows, layer_recall_rows;
  int64_t recall_rows = 0;
  for (const std::vector<int>& micro : Pack(samples)) {
    ASSIGN_OR_RETURN(model::PackedBatch b, Build(samples, micro));
    ASSIGN_OR_RETURN(model::ForwardResult r, policy_->Forward(b, fo));
    report.tokens += b.tokens.size();
    ++report.micro_batches;
    std::vector<float> dlogp(b.tokens.size(), 0.0f);
    for (size_t t = 0; t < b.tokens.size(); ++t) {
      if (b.targets[t] < 0) continue;
      loss -= r.logp[t] / std::max<int64_t>(counted, 1);
      dlogp[t] = -1.0f / std::max<int64_t>(counted, 1);
    }
    for (size_t l = 0; l < r.indexer.size(); ++l) {
      const auto& st = r.indexer[l];
      kl += st.kl_sum;
      recall += st.recall_sum;
      kl_rows += st.rows;
      recall_rows += st.recall_rows;
      if (layer_kl.size() <= l) {
        layer_kl.resize(l + 1, 0.0);
        layer_recall.resize(l + 1, 0.0);
        layer_rows.resize(l + 1, 0);
        layer_recall_rows.resize(l + 1, 0);
      }
      layer_kl[l] += st.kl_sum;
      layer_recall[l] += st.recall_sum;
      layer_rows[l] += st.rows;
      layer_recall_rows[l] += st.recall_rows;
    }
    if (!lo.no_update) RETURN_IF_ERROR(policy_->Backward(lo.lm_loss ? dlogp.data() : nullptr));
  }
  for (size_t l = 0; l < layer_kl.size(); ++l) {
    report.layer_kl.push_back(layer_rows[l] ? layer_kl[l] / layer_rows[l] : 0.0);
    report.layer_recall.push_back(layer_recall_rows[l] ? layer_recall[l] / layer_recall_rows[l]
                                                       : 1.0);
  }
  report.lm_loss = loss;
  const int layers = std::max(1, policy_->dims().n_layers);
  report.indexer_kl = kl_rows > 0 ? kl / kl_rows : 0.0;
  report.indexer_recall = recall_rows > 0 ? recall / recall_rows : 1.0;
  double total = lo.lm_loss ? loss : 0.0;
  if (idx_loss) total += lo.indexer_loss_weight * report.indexer_kl * layers;
  MinibatchReport rep;
  if (lo.no_update) {
    rep.loss = total;
    rep.skipped = true;
  } else {
    ApplyUpdate(lo.indexer_only, total, &rep);
  }
  report.minibatches.push_back(rep);
  return report;
}

}  // namespace dsarl::learner
