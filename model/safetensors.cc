// Safetensors writer and validating reader. The header is parsed with our strict JSON reader; the
// data is validated against it before anything is handed out.
#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/status_macros.h"

namespace dsarl::model {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // as the reference implementation

struct DtypeEntry {
  Dtype dtype;
  absl::string_view name;
  size_t size;
};

constexpr std::array<DtypeEntry, 15> kDtypes = {{
    {Dtype::kBool, "BOOL", 1},
    {Dtype::kU8, "U8", 1},
    {Dtype::kI8, "I8", 1},
    {Dtype::kF8E5M2, "F8_E5M2", 1},
    {Dtype::kF8E4M3, "F8_E4M3", 1},
    {Dtype::kI16, "I16", 2},
    {Dtype::kU16, "U16", 2},
    {Dtype::kF16, "F16", 2},
    {Dtype::kBF16, "BF16", 2},
    {Dtype::kI32, "I32", 4},
    {Dtype::kU32, "U32", 4},
    {Dtype::kF32, "F32", 4},
    {Dtype::kF64, "F64", 8},
    {Dtype::kI64, "I64", 8},
    {Dtype::kU64, "U64", 8},
}};

// product(shape) * element_size, or nullopt on a negative dim or overflow.
std::optional<uint64_t> ByteSize(absl::Span<const int64_t> shape, size_t element_size) {
  uint64_t bytes = element_size;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d != 0 && bytes > UINT64_MAX / static_cast<uint64_t>(d)) return std::nullopt;
    bytes *= static_cast<uint64_t>(d);
  }
  return bytes;
}

std::string ShapeString(absl::Span<const int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) absl::StrAppend(&out, i ? ", " : "", shape[i]);
  return out + "]";
}

// Reads a non-negative JSON integer.
std::optional<uint64_t> NonNegativeInt(const Json& j) {
  if (!j.is_integer() || j.int_value() < 0) return std::nullopt;
  return static_cast<uint64_t>(j.int_value());
}

absl::Status WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::ErrnoToStatus(errno, "write");
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view DtypeName(Dtype dtype) { return kDtypes[static_cast<int>(dtype)].name; }

size_t DtypeSize(Dtype dtype) { return kDtypes[static_cast<int>(dtype)].size; }

std::optional<Dtype> DtypeFromName(absl::string_view name) {
  for (const DtypeEntry& e : kDtypes) {
    if (e.name == name) return e.dtype;
  }
  return std::nullopt;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    const float magnitude = static_cast<float>(mant) * 5.9604644775390625e-08f;
    return sign ? -magnitude : magnitude;
  }
  const uint32_t bits =
      exp == 0x1F ? sign | 0x7F800000u | (mant << 13) : sign | ((exp + 112) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

float Bfloat16ToFloat(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

int64_t SafetensorsTensorInfo::num_elements() const {
  // A zero dim makes the product 0, but the dims before it may multiply past int64 (a validated
  // shape only has byte sizes that fit in uint64 as they are multiplied, and [2^62, 2, 0] of U8
  // does); without one, the product is at most the tensor's byte size.
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<std::string> SerializeSafetensors(absl::Span<const TensorToWrite> tensors,
                                                 const SafetensorsMetadata& metadata) {
  std::vector<const TensorToWrite*> order;
  std::map<absl::string_view, int> seen;
  for (const TensorToWrite& t : tensors) {
    const std::string what = absl::StrCat("safetensors: tensor '", t.name, "'");
    if (t.name.empty() || t.name == "__metadata__") {
      return absl::InvalidArgumentError(absl::StrCat(what, ": invalid name"));
    }
    if (!seen.emplace(t.name, 0).second) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": duplicate name"));
    }
    const std::optional<uint64_t> bytes = ByteSize(t.shape, DtypeSize(t.dtype));
    if (!bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": invalid shape ", ShapeString(t.shape)));
    }
    if (*bytes > 0 && t.data == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": no data for ", *bytes, " bytes"));
    }
    order.push_back(&t);
  }
  std::stable_sort(order.begin(), order.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    return DtypeSize(a->dtype) > DtypeSize(b->dtype);
  });

  // Written by hand (names are known unique), so the header costs O(tensors).
  std::string json = "{";
  if (!metadata.empty()) {
    Json meta = Json::Object();
    for (const auto& [k, v] : metadata) meta.Set(k, Json::String(v));
    absl::StrAppend(&json, "\"__metadata__\":", meta.Dump());
  }
  uint64_t offset = 0;
  for (const TensorToWrite* t : order) {
    const uint64_t bytes = *ByteSize(t->shape, DtypeSize(t->dtype));
    Json shape = Json::Array();
    for (int64_t d : t->shape) shape.Push(Json::Int(d));
    absl::StrAppend(&json, json.size() > 1 ? "," : "", Json::String(t->name).Dump(),
                    ":{\"dtype\":\"", DtypeName(t->dtype), "\",\"shape\":", shape.Dump(),
                    ",\"data_offsets\":[", offset, ",", offset + bytes, "]}");
    offset += bytes;
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + json.size() + offset);
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  out += json;
  for (const TensorToWrite* t : order) {
    const uint64_t bytes = *ByteSize(t->shape, DtypeSize(t->dtype));
    if (bytes > 0) out.append(static_cast<const char*>(t->data), bytes);
  }
  return out;
}

absl::Status WriteSafetensors(const std::string& path, absl::Span<const TensorToWrite> tensors,
                              const SafetensorsMetadata& metadata) {
  absl::StatusOr<std::string> bytes = SerializeSafetensors(tensors, metadata);
  if (!bytes.ok()) return Annotate(bytes.status(), path);
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Annotate(absl::ErrnoToStatus(errno, "open"), tmp);
  absl::Status status = WriteAll(fd, *bytes);
  if (status.ok() && ::fsync(fd) != 0) status = absl::ErrnoToStatus(errno, "fsync");
  if (::close(fd) != 0 && status.ok()) status = absl::ErrnoToStatus(errno, "close");
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = absl::ErrnoToStatus(errno, "rename");
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return Annotate(status, path);
  }
  return absl::OkStatus();
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Annotate(absl::ErrnoToStatus(errno, "open"), path);
  struct stat st;
  std::string bytes;
  absl::Status status;
  if (::fstat(fd, &st) != 0) {
    status = absl::ErrnoToStatus(errno, "fstat");
  } else {
    bytes.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = absl::ErrnoToStatus(errno, "read");
        break;
      }
      if (n == 0) {
        status = absl::DataLossError("file shrank while being read");
        break;
      }
      done += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  if (!status.ok()) return Annotate(status, path);
  return FromBytes(std::move(bytes), path);
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::FromBytes(std::string bytes, std::string source) {
  SafetensorsFile file;
  file.bytes_ = std::move(bytes);
  file.source_ = std::move(source);
  RETURN_IF_ERROR(file.Parse());
  return file;
}

namespace {

// The header's "__metadata__" entry: an object of strings. InvalidArgument, without the file's
// name, otherwise.
absl::Status ParseMetadata(const Json& entry, SafetensorsMetadata* metadata) {
  if (!entry.is_object()) return absl::InvalidArgumentError("__metadata__ is not an object");
  for (const auto& [k, v] : entry.object()) {
    if (!v.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("__metadata__ value of '", k, "' is not a string"));
    }
    (*metadata)[k] = v.string_value();
  }
  return absl::OkStatus();
}

// One tensor's header entry, checked against itself and the data buffer's size (data_size
// bytes); not yet against the other tensors. InvalidArgument naming the tensor, without the
// file's name, otherwise.
absl::StatusOr<SafetensorsTensorInfo> ParseTensorEntry(const std::string& name, const Json& entry,
                                                       size_t data_size) {
  const auto tensor_error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': ", what));
  };
  if (!entry.is_object()) return tensor_error("entry is not an object");
  for (const auto& [key, value] : entry.object()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      return tensor_error(absl::StrCat("unknown field '", key, "'"));
    }
  }
  const Json* dtype = entry.Find("dtype");
  const Json* shape = entry.Find("shape");
  const Json* offsets = entry.Find("data_offsets");
  if (!dtype || !shape || !offsets) return tensor_error("needs dtype, shape and data_offsets");
  SafetensorsTensorInfo info;
  info.name = name;
  const std::optional<Dtype> dt = DtypeFromName(dtype->string_value());
  if (!dtype->is_string() || !dt) {
    return tensor_error(absl::StrCat("unsupported dtype ", dtype->Dump()));
  }
  info.dtype = *dt;
  if (!shape->is_array()) return tensor_error("shape is not an array");
  for (const Json& d : shape->array()) {
    const std::optional<uint64_t> dim = NonNegativeInt(d);
    if (!dim || *dim > static_cast<uint64_t>(INT64_MAX)) {
      return tensor_error(absl::StrCat("invalid dimension ", d.Dump(), " in shape"));
    }
    info.shape.push_back(static_cast<int64_t>(*dim));
  }
  std::optional<uint64_t> begin, end;
  if (offsets->is_array() && offsets->array().size() == 2) {
    begin = NonNegativeInt(offsets->array()[0]);
    end = NonNegativeInt(offsets->array()[1]);
  }
  if (!begin || !end || *begin > *end) {
    return tensor_error(absl::StrCat("invalid data_offsets ", offsets->Dump()));
  }
  if (*end > data_size) {
    return tensor_error(absl::StrCat("data_offsets [", *begin, ", ", *end,
                                     "] out of range: the data buffer holds ", data_size,
                                     " bytes (file truncated?)"));
  }
  const std::optional<uint64_t> bytes = ByteSize(info.shape, DtypeSize(info.dtype));
  if (!bytes || *bytes != *end - *begin) {
    return tensor_error(absl::StrCat(DtypeName(info.dtype), " ", ShapeString(info.shape), " needs ",
                                     bytes ? absl::StrCat(*bytes) : "too many",
                                     " bytes but data_offsets [", *begin, ", ", *end, "] hold ",
                                     *end - *begin));
  }
  info.begin = *begin;
  info.end = *end;
  return info;
}

// That `tensors`, ordered by offset, tile the data buffer (data_size bytes) exactly: no overlap,
// no gap, nothing after the last. InvalidArgument, without the file's name, otherwise.
absl::Status CheckTiling(const std::vector<SafetensorsTensorInfo>& tensors, size_t data_size) {
  size_t expected = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const SafetensorsTensorInfo& t = tensors[i];
    if (t.begin < expected) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "': data_offsets [",
                                                     t.begin, ", ", t.end, "] overlap tensor '",
                                                     tensors[i - 1].name, "'"));
    }
    if (t.begin > expected) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "': ", t.begin - expected,
                                                     " unused bytes before its data_offsets [",
                                                     t.begin, ", ", t.end, "]"));
    }
    expected = t.end;
  }
  if (expected != data_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(data_size - expected, " trailing bytes after the last tensor",
                     tensors.empty() ? "" : absl::StrCat(" '", tensors.back().name, "'")));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SafetensorsFile::Parse() {
  const auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", what));
  };
  if (bytes_.size() < 8) {
    return error(absl::StrCat("file of ", bytes_.size(), " bytes is too short for a header"));
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes_[i]);
  if (n > kMaxHeaderBytes || n > bytes_.size() - 8) {
    return error(absl::StrCat("header length ", n, " is invalid (the file holds ",
                              bytes_.size() - 8, " bytes after it; the limit is ", kMaxHeaderBytes,
                              ")"));
  }
  const absl::string_view header_text(bytes_.data() + 8, n);
  if (header_text.empty() || header_text[0] != '{') return error("header does not start with '{'");
  absl::StatusOr<Json> header = ParseJson(header_text);
  if (!header.ok()) return error(absl::StrCat("header: ", header.status().message()));
  if (!header->is_object()) return error("header is not a JSON object");
  data_start_ = 8 + n;
  const size_t data_size = bytes_.size() - data_start_;
  for (const auto& [name, entry] : header->object()) {
    if (name == "__metadata__") {
      if (absl::Status s = ParseMetadata(entry, &metadata_); !s.ok()) return error(s.message());
      continue;
    }
    absl::StatusOr<SafetensorsTensorInfo> info = ParseTensorEntry(name, entry, data_size);
    if (!info.ok()) return error(info.status().message());
    tensors_.push_back(*std::move(info));
  }
  std::sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  if (absl::Status s = CheckTiling(tensors_, data_size); !s.ok()) return error(s.message());
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
  return absl::OkStatus();
}

const SafetensorsTensorInfo* SafetensorsFile::Find(absl::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

absl::StatusOr<absl::Span<const uint8_t>> SafetensorsFile::RawData(absl::string_view name) const {
  const SafetensorsTensorInfo* t = Find(name);
  if (t == nullptr) {
    return absl::NotFoundError(absl::StrCat(source_, ": no tensor '", name, "'"));
  }
  return absl::Span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(bytes_.data()) + data_start_ + t->begin, t->end - t->begin);
}

absl::StatusOr<std::vector<float>> SafetensorsFile::ReadFloat32(absl::string_view name) const {
  const SafetensorsTensorInfo* t = Find(name);
  std::vector<float> out(t ? static_cast<size_t>(t->num_elements()) : 0);
  RETURN_IF_ERROR(ReadFloat32Into(name, absl::MakeSpan(out)));
  return out;
}

absl::Status SafetensorsFile::ReadFloat32Into(absl::string_view name, absl::Span<float> out) const {
  ASSIGN_OR_RETURN(absl::Span<const uint8_t> raw, RawData(name));
  const SafetensorsTensorInfo& t = *Find(name);
  const size_t n = static_cast<size_t>(t.num_elements());
  if (out.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": tensor '", t.name, "' has ", n,
                                                   " elements, the destination ", out.size()));
  }
  const uint8_t* p = raw.data();
  switch (t.dtype) {
    case Dtype::kF32:
      if (n > 0) std::memcpy(out.data(), p, n * sizeof(float));
      return absl::OkStatus();
    case Dtype::kF16:
    case Dtype::kBF16:
      for (size_t i = 0; i < n; ++i) {
        const uint16_t bits = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
        out[i] = t.dtype == Dtype::kF16 ? HalfToFloat(bits) : Bfloat16ToFloat(bits);
      }
      return absl::OkStatus();
    case Dtype::kF64:
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, p + 8 * i, sizeof(d));
        out[i] = static_cast<float>(d);
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          source_, ": tensor '", t.name, "' is ", DtypeName(t.dtype), ", not convertible to F32"));
  }
}

}  // namespace dsarl::model
