// Fuzzes the safetensors reader (model/safetensors.h) on file images in memory
// (SafetensorsFile::FromBytes, which Open and the learner's weight broadcast both use). A file
// that validates must hand out only bytes inside it, convert its float tensors without reading
// past them, and write back (SerializeSafetensors) to an image that reads back to the same
// tensors and metadata.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/safetensors.h"
#include "tests/fuzz/fuzz_check.h"

namespace dsarl::fuzz {
namespace {

using model::Dtype;
using model::SafetensorsFile;
using model::SafetensorsTensorInfo;

bool IsFloat(Dtype dtype) {
  return dtype == Dtype::kF32 || dtype == Dtype::kF16 || dtype == Dtype::kBF16 ||
         dtype == Dtype::kF64;
}

// Reads every tensor of a validated file the ways the model loader does.
void CheckTensors(const SafetensorsFile& file, size_t file_size) {
  size_t total = 0;
  for (const SafetensorsTensorInfo& t : file.tensors()) {
    Require(file.Find(t.name) == &t, "Find does not return the tensor", t.name);
    Require(t.begin <= t.end && t.end <= file_size, "tensor offsets outside the file", t.name);
    total += t.end - t.begin;
    const absl::StatusOr<absl::Span<const uint8_t>> raw = file.RawData(t.name);
    Require(raw.ok() && raw->size() == t.end - t.begin, "RawData size disagrees", t.name);
    const int64_t n = t.num_elements();
    Require(n >= 0 && static_cast<uint64_t>(n) * model::DtypeSize(t.dtype) == raw->size(),
            "num_elements x dtype size disagrees with the data", t.name);
    const absl::StatusOr<std::vector<float>> values = file.ReadFloat32(t.name);
    Require(values.ok() == IsFloat(t.dtype), "ReadFloat32 accepts exactly the float dtypes",
            t.name);
    if (values.ok()) Require(values->size() == static_cast<size_t>(n), "ReadFloat32 size", t.name);
  }
  Require(total <= file_size, "tensors hold more bytes than the file");
  Require(absl::IsNotFound(file.RawData("\x01no such tensor").status()),
          "RawData of a missing tensor is not NotFound");
}

// Writes the file back and reads it again.
void CheckRewrite(const SafetensorsFile& file) {
  std::vector<model::TensorToWrite> tensors;
  for (const SafetensorsTensorInfo& t : file.tensors()) {
    tensors.push_back({t.name, t.dtype, t.shape, file.RawData(t.name)->data()});
  }
  const absl::StatusOr<std::string> image = model::SerializeSafetensors(tensors, file.metadata());
  Require(image.ok(), "a file that reads does not write back",
          image.ok() ? "" : std::string(image.status().message()));
  const absl::StatusOr<SafetensorsFile> back = SafetensorsFile::FromBytes(*image, "rewritten");
  Require(back.ok(), "a rewritten file does not read back",
          back.ok() ? "" : std::string(back.status().message()));
  Require(back->metadata() == file.metadata(), "metadata changed in the rewrite");
  Require(back->tensors().size() == file.tensors().size(), "tensor count changed in the rewrite");
  for (const SafetensorsTensorInfo& t : file.tensors()) {
    const SafetensorsTensorInfo* b = back->Find(t.name);
    Require(b != nullptr && b->dtype == t.dtype && b->shape == t.shape,
            "a tensor changed in the rewrite", t.name);
    const absl::Span<const uint8_t> old_bytes = *file.RawData(t.name);
    const absl::Span<const uint8_t> new_bytes = *back->RawData(t.name);
    Require(old_bytes == new_bytes, "tensor bytes changed in the rewrite", t.name);
  }
}

}  // namespace
}  // namespace dsarl::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using dsarl::fuzz::Require;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<dsarl::model::SafetensorsFile> file =
      dsarl::model::SafetensorsFile::FromBytes(std::move(bytes), "fuzz.safetensors");
  if (!file.ok()) {
    Require(absl::IsInvalidArgument(file.status()), "a bad file is not InvalidArgument");
    Require(absl::StartsWith(file.status().message(), "fuzz.safetensors: "),
            "an error does not name the file", std::string(file.status().message()));
    return 0;
  }
  dsarl::fuzz::CheckTensors(*file, size);
  dsarl::fuzz::CheckRewrite(*file);
  return 0;
}
