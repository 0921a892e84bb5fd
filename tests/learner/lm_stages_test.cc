// DSA's training stages on a small copy task, where attention must point at specific earlier
// tokens: after the dense warm-up, the indexer's recall of dense attention mass (top-k < T) rises
// well above its value at initialization; the sparse stage keeps the LM loss within a few percent
// of dense attention.
#include "learner/lm_stages.h"

#include <random>

#include "gtest/gtest.h"
#include "model/tokenizer.h"
#include "tests/model/model_test_util.h"
#include "tests/status_matchers.h"

namespace dsarl::learner {
namespace {

std::vector<TrainSample> CopyCorpus(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<TrainSample> out;
  for (int i = 0; i < n; ++i) {
    std::vector<int> s;
    for (int k = 0; k < 12; ++k) s.push_back('a' + rng() % 8);
    TrainSample x;
    x.tokens = {model::kBosId};
    x.tokens.insert(x.tokens.end(), s.begin(), s.end());
    x.tokens.push_back('|');
    x.tokens.insert(x.tokens.end(), s.begin(), s.end());
    x.tokens.push_back(model::kEosId);
    x.loss_mask.assign(x.tokens.size(), 1);
    x.loss_mask[0] = 0;
    x.behaviour_logprobs.assign(x.tokens.size(), 0.0f);
    out.push_back(x);
  }
  return out;
}

TEST(DsaStages, WarmupRaisesRecallAndSparseKeepsTheLoss) {
  model::ModelDims d = model::testing::TinyTestDims(false, model::AttentionMode::kDense);
  d.index_topk = 4;
  d.init_std = 0.1f;
  model::Transformer m(d);
  m.InitRandom(5);
  TrainerOptions o;
  o.lr.peak = 1e-2;
  o.grad_clip = 1.0;
  Trainer trainer(&m, nullptr, o);
  const auto train = CopyCorpus(256, 1), test = CopyCorpus(32, 2);
  // Teach the model the task with dense attention so its attention is sharp (the state DSA's
  // continued pre-training starts from).
  for (int i = 0; i < 150; ++i) {
    LmStepOptions dense;
    dense.mode = model::AttentionMode::kDense;
    std::vector<TrainSample> batch(train.begin() + (i * 16) % 256,
                                   train.begin() + (i * 16) % 256 + 16);
    ASSERT_OK(trainer.LmStep(batch, dense).status());
  }
  ASSERT_OK_AND_ASSIGN(StageEval before, EvaluateStage(&trainer, test, 4096));
  StageOptions warm;
  warm.stage = LmStage::kDsaWarmup;
  warm.steps = 80;
  warm.batch_tokens = 27 * 16;
  std::vector<float> frozen(m.params(), m.params() + m.table().total_floats());
  ASSERT_OK_AND_ASSIGN(auto wm, RunLmStage(&trainer, train, warm, nullptr));
  ASSERT_OK_AND_ASSIGN(StageEval after, EvaluateStage(&trainer, test, 4096));
  std::cout << "recall at init " << before.recall << " -> after warm-up " << after.recall
            << "; indexer KL " << before.indexer_kl << " -> " << after.indexer_kl << "\n";
  EXPECT_GT(after.recall, before.recall + 0.1);
  EXPECT_LT(after.indexer_kl, before.indexer_kl);
  // Only the indexers moved.
  for (const model::TensorInfo& t : m.table().tensors()) {
    if (t.is_indexer) continue;
    for (size_t i = 0; i < t.numel; ++i)
      ASSERT_EQ(frozen[t.offset + i], m.params()[t.offset + i]) << t.name;
  }
  StageOptions sparse;
  sparse.stage = LmStage::kDsaSparse;
  sparse.steps = 40;
  sparse.batch_tokens = 27 * 16;
  ASSERT_OK(RunLmStage(&trainer, train, sparse, nullptr).status());
  ASSERT_OK_AND_ASSIGN(StageEval final_eval, EvaluateStage(&trainer, test, 4096));
  std::cout << "LM loss dense " << final_eval.lm_loss_dense << ", sparse "
            << final_eval.lm_loss_sparse << " (before the stages: dense " << before.lm_loss_dense
            << ", sparse " << before.lm_loss_sparse << ")\n";
  EXPECT_LT(final_eval.lm_loss_sparse, final_eval.lm_loss_dense * 1.05);
}

}  // namespace
}  // namespace dsarl::learner
