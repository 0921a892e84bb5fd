// Safetensors files (https://github.com/huggingface/safetensors): checkpoints we write and Hugging
// Face weights we read. Layout: an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {"k": "v", ...}, "NAME": {"dtype": "F32", "shape": [2, 3],
//    "data_offsets": [BEGIN, END]}, ...}
// (padded with spaces), then the data buffer; offsets are relative to the buffer's start.
//
// Why our own: the format is small, and a reader for files from outside must validate everything
// before touching the data. We refuse what the reference (Rust) implementation refuses: header
// length over 100 MB or past the end of the file, a header that is not a JSON object starting with
// '{', unknown dtypes, negative dims, byte sizes that disagree with dtype x shape, offsets out of
// the buffer, overlaps, gaps, and trailing bytes after the last tensor. We are stricter in two
// ways: tensor entries may have no fields but dtype/shape/data_offsets, and duplicate JSON keys
// are refused. Every error names the file and, where there is one, the tensor.
#ifndef DSARL_MODEL_SAFETENSORS_H_
#define DSARL_MODEL_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace dsarl::model {

enum class Dtype {
  kBool,
  kU8,
  kI8,
  kF8E5M2,
  kF8E4M3,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kF64,
  kI64,
  kU64
};

// The safetensors name ("F32", "BF16", "F8_E4M3", ...).
absl::string_view DtypeName(Dtype dtype);
// Bytes per element.
size_t DtypeSize(Dtype dtype);
// The dtype with that safetensors name, or nullopt.
std::optional<Dtype> DtypeFromName(absl::string_view name);

using SafetensorsMetadata = std::map<std::string, std::string>;

struct TensorToWrite {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;  // [] is a scalar (one element)
  const void* data = nullptr;  // product(shape) * DtypeSize(dtype) bytes, in native (little-endian)
                               // order; may be null only when that is 0
};

// The file image. Tensors are laid out by element size, largest first (stable otherwise), and
// the header is padded to a multiple of 8, so every tensor is aligned to its element size.
// Returns InvalidArgument, naming the tensor, for an empty or duplicate name, "__metadata__" as a
// name, a negative dim, a byte size that overflows, or null data with a non-zero size.
absl::StatusOr<std::string> SerializeSafetensors(absl::Span<const TensorToWrite> tensors,
                                                 const SafetensorsMetadata& metadata = {});

// Serializes and writes `path` atomically (a temporary file in the same folder, fsync, rename), so
// a crash leaves the old file or the new one, never half of one. Errors as SerializeSafetensors,
// or the I/O error naming the path.
absl::Status WriteSafetensors(const std::string& path, absl::Span<const TensorToWrite> tensors,
                              const SafetensorsMetadata& metadata = {});

struct SafetensorsTensorInfo {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;
  size_t begin = 0;  // byte offsets in the data buffer
  size_t end = 0;
  int64_t num_elements() const;
};

// A validated file held in memory (read with a single read).
class SafetensorsFile {
 public:
  // Reads and validates `path`. Returns NotFound / the I/O error for an unreadable file and
  // InvalidArgument for a malformed one, naming the path and the tensor.
  static absl::StatusOr<SafetensorsFile> Open(const std::string& path);
  // Validates an image already in memory; `source` names it in errors.
  static absl::StatusOr<SafetensorsFile> FromBytes(std::string bytes, std::string source);

  const std::string& source() const { return source_; }
  // Ordered by offset in the data buffer.
  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }
  const SafetensorsMetadata& metadata() const { return metadata_; }
  // The tensor called `name`, or nullptr.
  const SafetensorsTensorInfo* Find(absl::string_view name) const;

  // The bytes of `name` (possibly unaligned). NotFound, naming the file, when absent.
  absl::StatusOr<absl::Span<const uint8_t>> RawData(absl::string_view name) const;
  // The values of `name` converted to float: F32 as is (bit-exact), F16 and BF16 exactly, F64
  // rounded. NotFound when absent; InvalidArgument, naming file and tensor, for other dtypes.
  absl::StatusOr<std::vector<float>> ReadFloat32(absl::string_view name) const;
  // ReadFloat32 into `out`, which must hold exactly num_elements() values (InvalidArgument else).
  absl::Status ReadFloat32Into(absl::string_view name, absl::Span<float> out) const;

 private:
  SafetensorsFile() = default;
  absl::Status Parse();

  std::string source_;
  std::string bytes_;      // the whole file
  size_t data_start_ = 0;  // 8 + header length
  std::vector<SafetensorsTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in tensors_
  SafetensorsMetadata metadata_;
};

// Half-precision conversions used by ReadFloat32 (exact; NaN and infinities preserved).
float HalfToFloat(uint16_t bits);
float Bfloat16ToFloat(uint16_t bits);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_SAFETENSORS_H_
