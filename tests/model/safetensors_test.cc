#include "model/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/prerequisite.h"
#include "tests/status_matchers.h"

namespace dsarl::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/dsarl_st_", ::getpid(), "_", name);
}

uint32_t Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

float FromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof(f));
  return f;
}

// A file image from a header text and `data_bytes` zero bytes of data (header not padded).
std::string Image(const std::string& header, size_t data_bytes) {
  std::string out;
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  return out + header + std::string(data_bytes, '\0');
}

std::string ErrorOf(const std::string& image) {
  const absl::StatusOr<SafetensorsFile> f = SafetensorsFile::FromBytes(image, "bad.safetensors");
  EXPECT_FALSE(f.ok());
  if (f.ok()) return "";
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(f.status().message());
}

TEST(Safetensors, RoundTripIsBitExact) {
  const std::vector<float> weights = {
      1.5f, -0.0f, FromBits(0x7FC00001u), 1e-45f, std::numeric_limits<float>::infinity(), -3.25f};
  const std::vector<uint16_t> bf16 = {0x3F80, 0xC000, 0x7F80, 0x0001};
  const std::vector<uint16_t> f16 = {0x3C00, 0xC000, 0x0001};
  const std::vector<int64_t> ids = {-7, 1LL << 40};
  const float scalar = 0.25f;
  const std::vector<TensorToWrite> tensors = {
      {"small.bf16", Dtype::kBF16, {2, 2}, bf16.data()},
      {"layers.0.w", Dtype::kF32, {2, 3}, weights.data()},
      {"h", Dtype::kF16, {3}, f16.data()},
      {"ids", Dtype::kI64, {2}, ids.data()},
      {"scale", Dtype::kF32, {}, &scalar},
      {"empty", Dtype::kF32, {0, 5}, nullptr},
  };
  const std::string path = TempPath("roundtrip.safetensors");
  ASSERT_OK(WriteSafetensors(path, tensors, {{"format", "pt"}, {"step", "12"}}));
  ASSERT_OK_AND_ASSIGN(SafetensorsFile file, SafetensorsFile::Open(path));
  EXPECT_EQ(file.source(), path);
  EXPECT_EQ(file.metadata(), (SafetensorsMetadata{{"format", "pt"}, {"step", "12"}}));
  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (const TensorToWrite& t : tensors) {
    const SafetensorsTensorInfo* info = file.Find(t.name);
    ASSERT_NE(info, nullptr) << t.name;
    EXPECT_EQ(info->dtype, t.dtype);
    EXPECT_EQ(info->shape, t.shape);
    ASSERT_OK_AND_ASSIGN(absl::Span<const uint8_t> raw, file.RawData(t.name));
    ASSERT_EQ(raw.size(), info->num_elements() * DtypeSize(t.dtype)) << t.name;
    if (!raw.empty()) {
      EXPECT_EQ(std::memcmp(raw.data(), t.data, raw.size()), 0) << t.name;
    }
    EXPECT_EQ(info->begin % DtypeSize(t.dtype), 0u) << t.name << " is not aligned";
  }
  // Header padded to 8 bytes, so aligned offsets are aligned in the file too.
  std::ifstream in(path, std::ios::binary);
  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  EXPECT_EQ(header_len % 8, 0u);

  ASSERT_OK_AND_ASSIGN(std::vector<float> w, file.ReadFloat32("layers.0.w"));
  ASSERT_EQ(w.size(), weights.size());
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(Bits(w[i]), Bits(weights[i])) << i;
  ASSERT_OK_AND_ASSIGN(std::vector<float> b, file.ReadFloat32("small.bf16"));
  EXPECT_THAT(
      b, ElementsAre(1.0f, -2.0f, std::numeric_limits<float>::infinity(), FromBits(0x00010000u)));
  ASSERT_OK_AND_ASSIGN(std::vector<float> h, file.ReadFloat32("h"));
  EXPECT_THAT(h, ElementsAre(1.0f, -2.0f, std::ldexp(1.0f, -24)));
  ASSERT_OK_AND_ASSIGN(std::vector<float> s, file.ReadFloat32("scale"));
  EXPECT_THAT(s, ElementsAre(0.25f));
  ASSERT_OK_AND_ASSIGN(std::vector<float> e, file.ReadFloat32("empty"));
  EXPECT_TRUE(e.empty());
  std::remove(path.c_str());
}

TEST(Safetensors, HalfConversionsAreExact) {
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.0f, -14));         // smallest normal
  EXPECT_EQ(HalfToFloat(0x03FF), 1023 * std::ldexp(1.0f, -24));  // largest subnormal
  EXPECT_EQ(Bits(HalfToFloat(0x8000)), Bits(-0.0f));
  EXPECT_EQ(HalfToFloat(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(Bfloat16ToFloat(0x4049), 3.140625f);
  EXPECT_EQ(Bits(Bfloat16ToFloat(0xFFC1)), 0xFFC10000u);  // NaN payload kept
}

TEST(Safetensors, WriterRejectsBadTensors) {
  const float x = 1.0f;
  const auto error = [](std::vector<TensorToWrite> t) {
    return std::string(SerializeSafetensors(t).status().message());
  };
  EXPECT_THAT(error({{"a", Dtype::kF32, {1}, &x}, {"a", Dtype::kF32, {1}, &x}}),
              HasSubstr("tensor 'a': duplicate name"));
  EXPECT_THAT(error({{"", Dtype::kF32, {1}, &x}}), HasSubstr("invalid name"));
  EXPECT_THAT(error({{"__metadata__", Dtype::kF32, {1}, &x}}), HasSubstr("invalid name"));
  EXPECT_THAT(error({{"neg", Dtype::kF32, {2, -1}, &x}}),
              HasSubstr("tensor 'neg': invalid shape [2, -1]"));
  EXPECT_THAT(error({{"huge", Dtype::kF32, {1LL << 40, 1LL << 40}, &x}}),
              HasSubstr("invalid shape"));
  EXPECT_THAT(error({{"null", Dtype::kF32, {2}, nullptr}}), HasSubstr("tensor 'null': no data"));
}

TEST(Safetensors, TruncatedFileNamesTheTensor) {
  const std::vector<float> a(4, 1.0f), b(4, 2.0f);
  ASSERT_OK_AND_ASSIGN(std::string image,
                       SerializeSafetensors({{"first", Dtype::kF32, {4}, a.data()},
                                             {"last", Dtype::kF32, {4}, b.data()}}));
  const std::string cut = image.substr(0, image.size() - 3);
  EXPECT_THAT(ErrorOf(cut), HasSubstr("bad.safetensors: tensor 'last': data_offsets [16, 32] out "
                                      "of range: the data buffer holds 29 bytes"));
  EXPECT_THAT(ErrorOf(image.substr(0, 20)), HasSubstr("bad.safetensors: header length"));
  EXPECT_THAT(ErrorOf(image.substr(0, 5)), HasSubstr("too short"));
  EXPECT_OK(SafetensorsFile::FromBytes(image, "good"));
}

TEST(Safetensors, BadHeadersAreRefusedWithTheTensorName) {
  const std::string w = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":)";
  const struct {
    std::string header;
    size_t data;
    std::string error;
  } cases[] = {
      {w + "[0,12]}}", 12, "tensor 'w': F32 [2] needs 8 bytes but data_offsets [0, 12] hold 12"},
      {w + "[0,8]}}", 4, "tensor 'w': data_offsets [0, 8] out of range"},
      {w + "[8,0]}}", 8, "tensor 'w': invalid data_offsets [8,0]"},
      {w + "[0]}}", 8, "tensor 'w': invalid data_offsets [0]"},
      {w + "[0,8]}}", 12, "4 trailing bytes after the last tensor 'w'"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       12, "tensor 'b': data_offsets [4, 12] overlap tensor 'a'"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
       12, "tensor 'b': 4 unused bytes before its data_offsets [8, 12]"},
      {R"({"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", 8,
       "tensor 'w': unsupported dtype \"F31\""},
      {R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8,
       "tensor 'w': invalid dimension -2"},
      {R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8,
       "tensor 'w': invalid dimension 2"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", 8,
       "tensor 'w': unknown field 'extra'"},
      {R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", 8,
       "tensor 'w': needs dtype, shape and data_offsets"},
      {R"({"w":[]})", 0, "tensor 'w': entry is not an object"},
      {R"({"__metadata__":{"k":1}})", 0, "__metadata__ value of 'k' is not a string"},
      {R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"w":{}})", 0,
       "header: JSON line 1, column 55 (byte 54): duplicate key \"w\""},
      {R"({"w":)", 0, "header: JSON"},
      {"[]", 0, "header does not start with '{'"},
      {"", 0, "header does not start with '{'"},
  };
  for (const auto& c : cases) {
    const std::string error = ErrorOf(Image(c.header, c.data));
    EXPECT_THAT(error, HasSubstr(c.error)) << c.header;
    EXPECT_THAT(error, HasSubstr("bad.safetensors: ")) << c.header;
  }
  // A header length larger than the 100 MB limit, with a file long enough to hold it in theory.
  std::string huge = Image("{}", 0);
  huge[4] = 1;  // 2^32 + 2
  EXPECT_THAT(ErrorOf(huge), HasSubstr("header length 4294967298 is invalid"));
}

TEST(Safetensors, ReadErrorsNameFileAndTensor) {
  EXPECT_EQ(SafetensorsFile::Open(TempPath("missing.safetensors")).status().code(),
            absl::StatusCode::kNotFound);
  const std::vector<int32_t> ints = {1, 2};
  ASSERT_OK_AND_ASSIGN(std::string image,
                       SerializeSafetensors({{"i", Dtype::kI32, {2}, ints.data()}}));
  ASSERT_OK_AND_ASSIGN(SafetensorsFile file, SafetensorsFile::FromBytes(image, "x.safetensors"));
  EXPECT_THAT(std::string(file.ReadFloat32("i").status().message()),
              HasSubstr("x.safetensors: tensor 'i' is I32, not convertible to F32"));
  EXPECT_EQ(file.ReadFloat32("nope").status().code(), absl::StatusCode::kNotFound);
  std::vector<float> three(3);
  EXPECT_THAT(std::string(file.ReadFloat32Into("i", absl::MakeSpan(three)).message()),
              HasSubstr("tensor 'i' has 2 elements, the destination 3"));
  EXPECT_THAT(file.metadata(), ::testing::IsEmpty());
}

// Random corruptions of a valid image (bytes flipped anywhere, header included) are refused or
// accepted, never a crash; an accepted file still serves every tensor it lists within its bytes.
TEST(Safetensors, CorruptedImagesNeverCrash) {
  const std::vector<float> a(6, 1.0f);
  const std::vector<uint16_t> b(3, 0x3C00);
  ASSERT_OK_AND_ASSIGN(
      const std::string image,
      SerializeSafetensors(
          {{"a", Dtype::kF32, {2, 3}, a.data()}, {"b", Dtype::kF16, {3}, b.data()}}, {{"k", "v"}}));
  std::mt19937_64 rng(7);
  int refused = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bad = image;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      // Mostly the length field and the header, where the validation lives.
      const size_t at = rng() % (rng() % 4 == 0 ? bad.size() : std::min<size_t>(bad.size(), 120));
      bad[at] = static_cast<char>(rng() & 0xFF);
    }
    if (rng() % 5 == 0) bad.resize(rng() % bad.size());
    const absl::StatusOr<SafetensorsFile> f = SafetensorsFile::FromBytes(bad, "fuzz.safetensors");
    if (!f.ok()) {
      ++refused;
      ASSERT_THAT(std::string(f.status().message()), HasSubstr("fuzz.safetensors"));
      continue;
    }
    for (const SafetensorsTensorInfo& t : f->tensors()) {
      ASSERT_OK_AND_ASSIGN(absl::Span<const uint8_t> raw, f->RawData(t.name));
      ASSERT_EQ(raw.size(), t.num_elements() * DtypeSize(t.dtype));
    }
  }
  EXPECT_GT(refused, 1000);
}

// Interop with Hugging Face's reference implementation (required in CI).
bool PythonHasSafetensors() {
  return std::system("python3 -c 'import numpy, safetensors.numpy' >/dev/null 2>&1") == 0;
}

TEST(Safetensors, PythonReadsOurFiles) {
  DSARL_REQUIRE(PythonHasSafetensors(),
                "python3 with numpy and safetensors (scripts/setup.sh installs them)");
  std::vector<float> w(12);
  for (int i = 0; i < 12; ++i) w[i] = static_cast<float>(i) / 3.0f;
  const std::vector<uint16_t> h = {0x3C00, 0xC000, 0x7BFF};
  const std::vector<int64_t> ids = {5, -9};
  const std::string path = TempPath("ours.safetensors");
  ASSERT_OK(WriteSafetensors(path,
                             {{"h", Dtype::kF16, {3}, h.data()},
                              {"w", Dtype::kF32, {3, 4}, w.data()},
                              {"ids", Dtype::kI64, {2}, ids.data()}},
                             {{"format", "np"}}));
  const std::string script = absl::StrCat(
      "import numpy as np\n"
      "from safetensors import safe_open\n"
      "from safetensors.numpy import load_file\n"
      "t = load_file('",
      path, "')\n",
      "assert set(t) == {'h', 'w', 'ids'}, set(t)\n"
      "assert t['w'].dtype == np.float32 and t['w'].shape == (3, 4)\n"
      "assert (t['w'] == np.arange(12, dtype=np.float32).reshape(3, 4) / np.float32(3)).all()\n"
      "assert (t['h'] == np.array([1, -2, 65504], dtype=np.float16)).all()\n"
      "assert (t['ids'] == np.array([5, -9], dtype=np.int64)).all()\n"
      "with safe_open('",
      path, "', 'np') as f: assert f.metadata() == {'format': 'np'}\n");
  const std::string script_path = TempPath("read.py");
  std::ofstream(script_path) << script;
  EXPECT_EQ(std::system(absl::StrCat("python3 ", script_path).c_str()), 0) << script;
  std::remove(path.c_str());
  std::remove(script_path.c_str());
}

TEST(Safetensors, WeReadPythonFiles) {
  DSARL_REQUIRE(PythonHasSafetensors(),
                "python3 with numpy and safetensors (scripts/setup.sh installs them)");
  const std::string path = TempPath("theirs.safetensors");
  const std::string script_path = TempPath("write.py");
  std::ofstream(script_path) << absl::StrCat(
      "import numpy as np\n"
      "from safetensors.numpy import save_file\n"
      "save_file({'w': np.arange(12, dtype=np.float32).reshape(3, 4) / np.float32(3),\n"
      "           'h': np.array([1.5, -2, 65504], dtype=np.float16),\n"
      "           'z': np.zeros((0, 2), dtype=np.float32),\n"
      "           'i': np.array([[1, 2]], dtype=np.int64)}, '",
      path, "', metadata={'format': 'np', 'note': 'caf\\u00e9'})\n");
  ASSERT_EQ(std::system(absl::StrCat("python3 ", script_path).c_str()), 0);
  ASSERT_OK_AND_ASSIGN(SafetensorsFile file, SafetensorsFile::Open(path));
  EXPECT_EQ(file.metadata(), (SafetensorsMetadata{{"format", "np"}, {"note", "caf\xC3\xA9"}}));
  ASSERT_NE(file.Find("w"), nullptr);
  EXPECT_THAT(file.Find("w")->shape, ElementsAre(3, 4));
  ASSERT_OK_AND_ASSIGN(std::vector<float> w, file.ReadFloat32("w"));
  ASSERT_EQ(w.size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(w[i], static_cast<float>(i) / 3.0f) << i;
  ASSERT_OK_AND_ASSIGN(std::vector<float> h, file.ReadFloat32("h"));
  EXPECT_THAT(h, ElementsAre(1.5f, -2.0f, 65504.0f));
  EXPECT_THAT(file.Find("z")->shape, ElementsAre(0, 2));
  EXPECT_EQ(file.Find("i")->dtype, Dtype::kI64);
  ASSERT_OK_AND_ASSIGN(absl::Span<const uint8_t> raw, file.RawData("i"));
  int64_t second;
  std::memcpy(&second, raw.data() + 8, 8);
  EXPECT_EQ(second, 2);
  std::remove(path.c_str());
  std::remove(script_path.c_str());
}

}  // namespace
}  // namespace dsarl::model
