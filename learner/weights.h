// Versioned weight images for rollout workers. The policy's weights are serialized as one
// safetensors image (model/checkpoint.h: the bytes of a checkpoint's model.safetensors, with the
// version in its metadata) and published to the LearnerState; the service streams the current
// image in chunks, each with its own CRC-32C and the whole image's, which a worker checks
// (rollout/learner_client.h). An image never changes once published: a new version is a new one.
#ifndef DSARL_LEARNER_WEIGHTS_H_
#define DSARL_LEARNER_WEIGHTS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "model/transformer.h"
#include "proto/model.pb.h"

namespace dsarl::learner {

class LearnerState;

struct PublishedWeights {
  int64_t version = 0;
  std::string blob;     // safetensors image
  uint32_t crc32c = 0;  // of blob
};

// The chunk size the service streams with for a request's chunk_bytes: 1 MiB for 0 (the default),
// otherwise chunk_bytes clamped to [1 KiB, 4 MiB].
uint32_t WeightsChunkBytes(uint32_t requested);

// The number of chunks of `chunk_bytes` (> 0) the image streams as: ceil(size / chunk_bytes), and
// 1 for an empty image, so that a client always learns the version.
size_t WeightsChunkCount(const PublishedWeights& weights, uint32_t chunk_bytes);

// Chunk `index` (< WeightsChunkCount) of the image: the bytes from index * chunk_bytes, at most
// chunk_bytes of them, with the version, that offset, the image's size, the CRC-32C of the chunk's
// bytes and the image's CRC-32C.
proto::WeightsChunk WeightsChunkAt(const PublishedWeights& weights, size_t index,
                                   uint32_t chunk_bytes);

// Publishes the policy's weights as versioned images through the LearnerState, whose current
// image the service serves.
class WeightsPublisher {
 public:
  // `policy` and `state` must outlive the publisher.
  WeightsPublisher(const model::Transformer* policy, LearnerState* state)
      : policy_(policy), state_(state) {}

  // Serializes the policy as `version` and makes it the image served from now on (streams already
  // under way finish with the image they started). OK; or SerializeWeights' error, and nothing is
  // published (the previous image stays current).
  absl::Status Publish(int64_t version);

  // The image last published by this publisher; null before the first Publish.
  std::shared_ptr<const PublishedWeights> last() const { return last_; }

 private:
  const model::Transformer* policy_;
  LearnerState* state_;
  std::shared_ptr<const PublishedWeights> last_;
};

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_WEIGHTS_H_
