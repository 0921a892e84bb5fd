// The learner's checkpoints: what is saved comes back (parameters, optimizer moments and steps,
// learner state), the latest recorded checkpoint is the one resumed, and a missing or corrupt file
// is an error that names it.
#include "learner/checkpointer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/base/temp_dir.h"
#include "tests/model/model_test_util.h"
#include "tests/status_matchers.h"

namespace dsarl::learner {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kRun = 7;

struct Fixture {
  dsarl::testing::ScratchDir dir;  // first: outlives the store in it
  std::unique_ptr<store::Store> store;
  model::ModelDims dims = model::testing::TinyTestDims(false, model::AttentionMode::kSparse);

  explicit Fixture(const std::string& name) : dir("checkpointer-" + name) {
    store::OpenOptions o;
    o.create_if_missing = true;
    store = std::move(store::Store::Open(dir.Sub("store"), o).value());
  }
  Checkpointer checkpointer() const { return Checkpointer(dir.path(), store.get(), kRun); }
};

// `steps` AdamW updates with seeded random gradients, so that the moments are not zero.
void Train(model::Transformer* m, AdamW* adam, int steps, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<float> grads(m->table().total_floats());
  for (int s = 0; s < steps; ++s) {
    for (float& g : grads) g = noise(rng);
    adam->Step(m->params(), grads.data(), 1e-2);
  }
}

bool SameParams(const model::Transformer& a, const model::Transformer& b) {
  return a.table().total_floats() == b.table().total_floats() &&
         std::equal(a.params(), a.params() + a.table().total_floats(), b.params());
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

TEST(Checkpointer, SaveThenLoadRestoresParametersOptimizerAndState) {
  Fixture f("roundtrip");
  model::Transformer policy(f.dims);
  policy.InitRandom(1);
  AdamW adam(policy.table(), AdamWConfig{}, AllTrainable);
  Train(&policy, &adam, 3, 1);
  const Checkpointer ck = f.checkpointer();
  const CheckpointState saved{.step = 4, .version = 5, .optimizer_step = 6, .cursor = 11};
  ASSERT_OK_AND_ASSIGN(std::string dir, ck.Save(policy, adam, saved));
  EXPECT_EQ(dir, f.dir.Sub("checkpoints/step_000004"));
  EXPECT_EQ(ck.DirFor(4), dir);

  model::Transformer restored(f.dims);
  restored.InitRandom(2);
  AdamW restored_adam(restored.table(), AdamWConfig{}, AllTrainable);
  ASSERT_OK_AND_ASSIGN(std::optional<ResumePoint> from, ck.LoadLatest(&restored, &restored_adam));
  ASSERT_TRUE(from.has_value());
  EXPECT_EQ(from->record.run_id(), kRun);
  EXPECT_EQ(from->record.step(), 4);
  EXPECT_EQ(from->record.policy_version(), 5);
  EXPECT_EQ(from->record.path(), dir);
  EXPECT_EQ(from->state.step, 4);
  EXPECT_EQ(from->state.version, 5);
  EXPECT_EQ(from->state.optimizer_step, 6);
  EXPECT_EQ(from->state.cursor, 11u);
  EXPECT_TRUE(SameParams(policy, restored));
  EXPECT_EQ(restored_adam.steps(), 3);
  // The moments came back too: the same next update moves both copies alike.
  Train(&policy, &adam, 1, 9);
  Train(&restored, &restored_adam, 1, 9);
  EXPECT_TRUE(SameParams(policy, restored));
}

TEST(Checkpointer, ResumesFromTheLatestRecordedCheckpoint) {
  Fixture f("latest");
  const Checkpointer ck = f.checkpointer();
  model::Transformer policy(f.dims);
  AdamW adam(policy.table(), AdamWConfig{}, AllTrainable);
  // No checkpoint yet: nothing to resume, and nothing touched.
  ASSERT_OK_AND_ASSIGN(std::optional<ResumePoint> none, ck.LoadLatest(&policy, &adam));
  EXPECT_FALSE(none.has_value());
  EXPECT_EQ(ck.Latest().status().code(), absl::StatusCode::kNotFound);

  policy.InitRandom(1);
  ASSERT_OK(ck.Save(policy, adam, CheckpointState{.step = 2, .version = 2}).status());
  model::Transformer later(f.dims);
  later.InitRandom(3);
  ASSERT_OK(ck.Save(later, adam, CheckpointState{.step = 4, .version = 4}).status());
  ASSERT_OK_AND_ASSIGN(proto::CheckpointRecord latest, ck.Latest());
  EXPECT_EQ(latest.step(), 4);
  model::Transformer restored(f.dims);
  ASSERT_OK_AND_ASSIGN(std::optional<ResumePoint> from, ck.LoadLatest(&restored, &adam));
  ASSERT_TRUE(from.has_value());
  EXPECT_TRUE(SameParams(later, restored));

  // A state file of an older layout, without the fields: the record's step, version = step.
  WriteFile(latest.path() + "/learner_state.json", "{}\n");
  ASSERT_OK_AND_ASSIGN(CheckpointState st, ck.Load(latest, &restored, &adam));
  EXPECT_EQ(st.step, 4);
  EXPECT_EQ(st.version, 4);
  EXPECT_EQ(st.optimizer_step, 0);
  EXPECT_EQ(st.cursor, 0u);
}

TEST(Checkpointer, MissingOrCorruptFilesAreErrorsNamingTheFile) {
  Fixture f("broken");
  const Checkpointer ck = f.checkpointer();
  model::Transformer policy(f.dims);
  policy.InitRandom(1);
  AdamW adam(policy.table(), AdamWConfig{}, AllTrainable);
  int64_t step = 0;
  for (const char* file :
       {"model.safetensors", "config.json", "optimizer.safetensors", "learner_state.json"}) {
    ++step;
    ASSERT_OK_AND_ASSIGN(std::string dir, ck.Save(policy, adam, CheckpointState{.step = step}));
    ASSERT_OK_AND_ASSIGN(proto::CheckpointRecord rec, ck.Latest());
    const std::string path = dir + "/" + file;
    const std::string good = [&] {
      std::ifstream in(path, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();

    std::filesystem::remove(path);
    absl::StatusOr<CheckpointState> missing = ck.Load(rec, &policy, &adam);
    EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
    EXPECT_THAT(missing.status().message(), HasSubstr(path));

    WriteFile(path, good.substr(0, good.size() / 2));  // truncated
    absl::StatusOr<CheckpointState> corrupt = ck.Load(rec, &policy, &adam);
    EXPECT_FALSE(corrupt.ok()) << file;
    EXPECT_THAT(corrupt.status().message(), HasSubstr(path));
    // LoadLatest reports the same error instead of starting afresh.
    EXPECT_EQ(ck.LoadLatest(&policy, &adam).status().code(), corrupt.status().code());

    WriteFile(path, good);
    EXPECT_OK(ck.Load(rec, &policy, &adam).status());
  }
}

TEST(Checkpointer, ModelOfAnotherSizeIsAFailedPrecondition) {
  Fixture f("shape");
  const Checkpointer ck = f.checkpointer();
  model::Transformer policy(f.dims);
  AdamW adam(policy.table(), AdamWConfig{}, AllTrainable);
  ASSERT_OK_AND_ASSIGN(std::string dir, ck.Save(policy, adam, CheckpointState{.step = 1}));
  model::ModelDims other = f.dims;
  other.n_layers = 1;
  model::Transformer small(other);
  AdamW small_adam(small.table(), AdamWConfig{}, AllTrainable);
  absl::StatusOr<std::optional<ResumePoint>> r = ck.LoadLatest(&small, &small_adam);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr(dir));
}

TEST(Checkpointer, ACheckpointThatCannotBeWrittenIsNotRecorded) {
  Fixture f("unwritable");
  WriteFile(f.dir.Sub("not-a-dir"), "a file where the output directory should be");
  const Checkpointer ck(f.dir.Sub("not-a-dir"), f.store.get(), kRun);
  model::Transformer policy(f.dims);
  AdamW adam(policy.table(), AdamWConfig{}, AllTrainable);
  absl::StatusOr<std::string> saved = ck.Save(policy, adam, CheckpointState{.step = 1});
  EXPECT_FALSE(saved.ok());
  EXPECT_THAT(saved.status().message(), HasSubstr(f.dir.Sub("not-a-dir")));
  EXPECT_EQ(ck.Latest().status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace dsarl::learner
