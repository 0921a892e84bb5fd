// Fuzzes the reader of a checkpoint's config.json (model/checkpoint.h: ParseJson, then
// DimsFromConfigJson), which LoadCheckpoint runs on files from Hugging Face or anyone else before
// it sizes a model. Dims it accepts must be safe to do arithmetic on (parameter counts, cache
// bytes: what the loader and `dsarl model info` compute next), and writing them back as
// config.json (ConfigJson) must read back to the same file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "base/json.h"
#include "model/checkpoint.h"
#include "model/dims.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using dsarl::fuzz::Require;
  namespace model = dsarl::model;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<dsarl::Json> json = dsarl::ParseJson(text);
  if (!json.ok()) return 0;  // the JSON reader has its own target
  const absl::StatusOr<model::ModelDims> dims = model::DimsFromConfigJson(*json, "config.json");
  if (!dims.ok()) {
    Require(absl::IsInvalidArgument(dims.status()), "a bad config.json is not InvalidArgument");
    Require(absl::StartsWith(dims.status().message(), "config.json"),
            "an error does not name the file", std::string(dims.status().message()));
    return 0;
  }
  Require(model::ParameterCount(*dims) > 0, "accepted dims with no parameters");
  Require(model::CacheBytesPerToken(*dims) >= 0, "accepted dims with a negative cache size");
  const std::string written = model::ConfigJson(*dims).Dump(2);
  const absl::StatusOr<dsarl::Json> reread = dsarl::ParseJson(written);
  Require(reread.ok(), "ConfigJson wrote JSON that does not parse");
  const absl::StatusOr<model::ModelDims> again = model::DimsFromConfigJson(*reread, "config.json");
  Require(again.ok(), "ConfigJson wrote a config.json that DimsFromConfigJson refuses",
          again.ok() ? "" : std::string(again.status().message()));
  Require(model::ConfigJson(*again).Dump(2) == written, "config.json changed when read back",
          written);
  return 0;
}
