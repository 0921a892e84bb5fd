#include "learner/weights.h"

#include <algorithm>

#include "base/crc32c.h"
#include "base/status_macros.h"
#include "learner/learner_state.h"
#include "model/checkpoint.h"

namespace dsarl::learner {
namespace {

constexpr uint32_t kDefaultChunk = 1 << 20;
constexpr uint32_t kMinChunk = 1024;
constexpr uint32_t kMaxChunk = 4 << 20;

}  // namespace

uint32_t WeightsChunkBytes(uint32_t requested) {
  const uint32_t chunk = requested == 0 ? kDefaultChunk : std::min(requested, kMaxChunk);
  return std::max(chunk, kMinChunk);
}

size_t WeightsChunkCount(const PublishedWeights& w, uint32_t chunk_bytes) {
  return std::max<size_t>(1, (w.blob.size() + chunk_bytes - 1) / chunk_bytes);
}

proto::WeightsChunk WeightsChunkAt(const PublishedWeights& w, size_t index, uint32_t chunk_bytes) {
  const size_t offset = std::min(index * chunk_bytes, w.blob.size());
  const size_t n = std::min<size_t>(chunk_bytes, w.blob.size() - offset);
  proto::WeightsChunk chunk;
  chunk.set_version(w.version);
  chunk.set_offset(offset);
  chunk.set_data(w.blob.data() + offset, n);
  chunk.set_total_bytes(w.blob.size());
  chunk.set_crc32c(Crc32c(w.blob.data() + offset, n));
  chunk.set_blob_crc32c(w.crc32c);
  return chunk;
}

absl::Status WeightsPublisher::Publish(int64_t version) {
  auto w = std::make_shared<PublishedWeights>();
  w->version = version;
  ASSIGN_OR_RETURN(w->blob,
                   model::SerializeWeights(*policy_, {{"version", std::to_string(version)}}));
  w->crc32c = Crc32c(w->blob);
  last_ = w;
  state_->Publish(std::move(w));
  return absl::OkStatus();
}

}  // namespace dsarl::learner
