// Weight publishing: each Publish makes a new versioned image of the policy the one served, and
// the chunks the service streams tile the image with the checksums a worker checks.
#include "learner/weights.h"

#include <algorithm>

#include "base/crc32c.h"
#include "gtest/gtest.h"
#include "learner/learner_state.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "tests/base/temp_dir.h"
#include "tests/model/model_test_util.h"
#include "tests/status_matchers.h"

namespace dsarl::learner {
namespace {

TEST(WeightsPublisher, PublishesEachVersionAsANewImage) {
  const dsarl::testing::ScratchDir dir("weights");
  store::OpenOptions o;
  o.create_if_missing = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::Store> store, store::Store::Open(dir.path(), o));
  LearnerState state(store.get(), 1,
                     std::make_unique<PromptScheduler>(std::vector<uint64_t>{1}, 1, 5000), 1,
                     [] { return int64_t(0); });
  const model::ModelDims dims = model::testing::TinyTestDims(false, model::AttentionMode::kSparse);
  model::Transformer policy(dims);
  policy.InitRandom(1);
  WeightsPublisher publisher(&policy, &state);
  EXPECT_EQ(publisher.last(), nullptr);

  ASSERT_OK(publisher.Publish(3));
  const std::shared_ptr<const PublishedWeights> v3 = state.Weights();
  EXPECT_EQ(v3, publisher.last());
  EXPECT_EQ(state.version(), 3);
  EXPECT_EQ(v3->version, 3);
  EXPECT_EQ(v3->crc32c, Crc32c(v3->blob));
  // The image is the policy's weights, with its version in the metadata.
  model::Transformer copy(dims);
  ASSERT_OK(model::DeserializeWeightsInto(v3->blob, "v3", &copy));
  EXPECT_TRUE(
      std::equal(policy.params(), policy.params() + policy.table().total_floats(), copy.params()));
  ASSERT_OK_AND_ASSIGN(model::SafetensorsFile file,
                       model::SafetensorsFile::FromBytes(v3->blob, "v3"));
  EXPECT_EQ(file.metadata().at("version"), "3");

  // A new version is a new image; the old one is untouched for streams still sending it.
  const std::string v3_blob = v3->blob;
  policy.params()[0] += 1.0f;
  ASSERT_OK(publisher.Publish(4));
  EXPECT_EQ(state.version(), 4);
  EXPECT_EQ(state.Weights()->version, 4);
  EXPECT_NE(state.Weights()->blob, v3_blob);
  EXPECT_EQ(state.Weights()->crc32c, Crc32c(state.Weights()->blob));
  EXPECT_EQ(v3->blob, v3_blob);
  EXPECT_EQ(v3->version, 3);
}

TEST(WeightsChunks, SizeFollowsTheRequestWithinBounds) {
  EXPECT_EQ(WeightsChunkBytes(0), 1u << 20);
  EXPECT_EQ(WeightsChunkBytes(100), 1024u);
  EXPECT_EQ(WeightsChunkBytes(5000), 5000u);
  EXPECT_EQ(WeightsChunkBytes(64u << 20), 4u << 20);
}

TEST(WeightsChunks, TileTheImageWithChecksums) {
  for (size_t size : {size_t(2500), size_t(2048), size_t(1)}) {
    PublishedWeights w;
    w.version = 9;
    for (size_t i = 0; i < size; ++i) w.blob.push_back(char(i * 7 + 3));
    w.crc32c = Crc32c(w.blob);
    const size_t count = WeightsChunkCount(w, 1024);
    EXPECT_EQ(count, (size + 1023) / 1024);
    std::string joined;
    for (size_t i = 0; i < count; ++i) {
      const proto::WeightsChunk c = WeightsChunkAt(w, i, 1024);
      EXPECT_EQ(c.version(), 9);
      EXPECT_EQ(c.offset(), joined.size());
      EXPECT_EQ(c.total_bytes(), size);
      EXPECT_EQ(c.data().size(), std::min<size_t>(1024, size - joined.size()));
      EXPECT_EQ(c.crc32c(), Crc32c(c.data()));
      EXPECT_EQ(c.blob_crc32c(), w.crc32c);
      joined += c.data();
    }
    EXPECT_EQ(joined, w.blob) << size << " bytes";
  }
  // An empty image still streams one chunk, so a client learns its version.
  PublishedWeights empty;
  empty.version = 2;
  empty.crc32c = Crc32c(empty.blob);
  ASSERT_EQ(WeightsChunkCount(empty, 1024), 1u);
  const proto::WeightsChunk c = WeightsChunkAt(empty, 0, 1024);
  EXPECT_EQ(c.version(), 2);
  EXPECT_EQ(c.offset(), 0u);
  EXPECT_EQ(c.total_bytes(), 0u);
  EXPECT_TRUE(c.data().empty());
  EXPECT_EQ(c.crc32c(), Crc32c(""));
}

}  // namespace
}  // namespace dsarl::learner
