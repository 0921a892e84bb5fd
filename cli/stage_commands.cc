// `dsarl dsa-warmup` and `dsarl dsa-sparse`: DSA's continued-training stages (SPEC §2) on a text
// corpus, with per-layer metrics, ending in a checkpoint.
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/signals.h"
#include "learner/lm_stages.h"
#include "learner/metrics.h"
#include "model/checkpoint.h"
#include "model/tokenizer_config.h"
#include "proto/config_loader.h"

namespace dsarl::cli {
namespace {

std::string Layers(const std::vector<double>& v) {
  std::vector<std::string> parts;
  for (double x : v) parts.push_back(absl::StrFormat("%.3f", x));
  return absl::StrJoin(parts, " ");
}

absl::StatusOr<int> RunStage(const Args& args, learner::LmStage stage) {
  for (const char* f : {"checkpoint", "data", "out"}) {
    if (args.Get(f).empty())
      return absl::InvalidArgumentError(absl::StrCat("--", f, " is required"));
  }
  ASSIGN_OR_RETURN(auto policy, model::LoadCheckpoint(args.Get("checkpoint")));
  ASSIGN_OR_RETURN(const model::Tokenizer tok,
                   model::Tokenizer::ForCheckpoint(args.Get("checkpoint")));
  ASSIGN_OR_RETURN(int64_t steps, args.GetInt("steps"));
  ASSIGN_OR_RETURN(double lr, args.GetDouble("lr"));
  ASSIGN_OR_RETURN(int64_t batch, args.GetInt("batch-tokens"));
  ASSIGN_OR_RETURN(int64_t seq, args.GetInt("max-len"));
  ASSIGN_OR_RETURN(auto data,
                   learner::LoadTextCorpus(args.Get("data"),
                                           std::min<int64_t>(seq, policy->dims().max_pos), tok));
  learner::TrainerOptions to;
  to.lr.peak = lr;
  to.lr.total_steps = steps;
  to.lr.warmup_steps = std::min<int64_t>(steps / 10, 100);
  to.micro_batch_tokens = std::max<int64_t>(batch, seq);
  learner::Trainer trainer(policy.get(), nullptr, to);
  ASSIGN_OR_RETURN(auto metrics, learner::MetricsWriter::Open(args.Get("out")));
  std::atomic<bool>& stop = StopFlagOnSignals();
  ASSIGN_OR_RETURN(learner::StageEval before, learner::EvaluateStage(&trainer, data, batch));
  std::cout << absl::StrFormat(
      "before: recall %.3f (per layer %s), indexer KL %.4f, LM loss dense "
      "%.4f sparse %.4f\n",
      before.recall, Layers(before.layer_recall), before.indexer_kl, before.lm_loss_dense,
      before.lm_loss_sparse);
  learner::StageOptions so;
  so.stage = stage;
  so.batch_tokens = batch;
  so.steps = 1;
  for (int64_t s = 0; s < steps && !stop.load(); ++s) {
    so.seed = s;
    ASSIGN_OR_RETURN(auto m, learner::RunLmStage(&trainer, data, so, nullptr));
    const auto& r = m.back();
    std::map<std::string, double> row = {
        {"lm_loss", r.lm_loss}, {"indexer/kl", r.indexer_kl}, {"indexer/recall", r.recall}};
    for (size_t l = 0; l < r.layer_kl.size(); ++l) {
      row[absl::StrCat("indexer/kl/layer", l)] = r.layer_kl[l];
      row[absl::StrCat("indexer/recall/layer", l)] = r.layer_recall[l];
    }
    RETURN_IF_ERROR(metrics->Write(s + 1, row));
    if ((s + 1) % 10 == 0 || s + 1 == steps) {
      std::cerr << absl::StrFormat("step %d/%d  lm %.4f  indexer KL %.4f  recall %.3f  [%s]\n",
                                   s + 1, steps, r.lm_loss, r.indexer_kl, r.recall,
                                   Layers(r.layer_recall));
    }
  }
  ASSIGN_OR_RETURN(learner::StageEval after, learner::EvaluateStage(&trainer, data, batch));
  std::cout << absl::StrFormat(
      "after:  recall %.3f (per layer %s), indexer KL %.4f, LM loss dense "
      "%.4f sparse %.4f\n",
      after.recall, Layers(after.layer_recall), after.indexer_kl, after.lm_loss_dense,
      after.lm_loss_sparse);
  RETURN_IF_ERROR(model::SaveCheckpoint(args.Get("out") + "/checkpoint", *policy, {}, tok));
  std::cout << "wrote " << args.Get("out") << "/checkpoint\n";
  return 0;
}

std::vector<FlagSpec> StageFlags(const char* lr) {
  return {FlagSpec{"checkpoint", "starting checkpoint directory", ""},
          FlagSpec{"data", "text corpus, one document per line", ""},
          FlagSpec{"out", "output directory (metrics and the final checkpoint)", ""},
          FlagSpec{"steps", "optimizer steps", "200"},
          FlagSpec{"lr", "peak learning rate", lr},
          FlagSpec{"batch-tokens", "tokens per step", "4096"},
          FlagSpec{"max-len", "longest training sequence [tokens]", "1024"}};
}

}  // namespace

void RegisterStageCommands(CommandTable* table) {
  table->Add(Command{
      .name = "dsa-warmup",
      .summary = "DSA dense warm-up: train only the indexers to match dense attention (SPEC 2.1)",
      .description =
          "Dense attention; every parameter frozen except the lightning indexers, which\n"
          "learn KL(p || softmax(I)) against the heads' summed attention. Prints recall\n"
          "(dense attention mass inside the top-k) per layer before and after.",
      .flags = StageFlags("1e-3"),
      .run = [](const Args& a) { return RunStage(a, learner::LmStage::kDsaWarmup); }});
  table->Add(Command{
      .name = "dsa-sparse",
      .summary = "DSA sparse training: top-k attention, LM loss, indexer KL on the selected set",
      .description = "All parameters train: the model by the LM loss under sparse attention, the\n"
                     "indexers (inputs detached) by the KL over their selected keys (SPEC 2.2).",
      .flags = StageFlags("1e-4"),
      .run = [](const Args& a) { return RunStage(a, learner::LmStage::kDsaSparse); }});
}

}  // namespace dsarl::cli
