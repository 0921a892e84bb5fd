// Fuzzes the strict JSON reader (base/json.h), which reads every JSON file and message from
// outside: safetensors headers, config.json, SFT data, learner state. Beyond not crashing, what is
// read must write back as valid JSON that reads back to the same value, compact and pretty, and
// writing is a fixed point after one round (so a file rewritten by dsarl does not drift).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "base/json.h"
#include "base/utf8.h"
#include "tests/fuzz/fuzz_check.h"

namespace dsarl::fuzz {
namespace {

// Every string is valid UTF-8, every key is found, and every float writes back exactly.
void CheckValue(const Json& v) {
  switch (v.type()) {
    case Json::Type::kString:
      Require(IsValidUtf8(v.string_value()), "a parsed string is not valid UTF-8");
      return;
    case Json::Type::kNumber: {
      Require(std::isfinite(v.number_value()), "a parsed number is not finite");
      const float f = static_cast<float>(v.number_value());
      if (!std::isfinite(f)) return;
      const absl::StatusOr<Json> back = ParseJson(Json::Float(f).Dump());
      Require(back.ok() && static_cast<float>(back->number_value()) == f,
              "Json::Float does not read back to the same float", Json::Float(f).Dump());
      return;
    }
    case Json::Type::kArray:
      for (const Json& item : v.array()) CheckValue(item);
      return;
    case Json::Type::kObject:
      for (const auto& [key, value] : v.object()) {
        Require(IsValidUtf8(key), "a parsed key is not valid UTF-8");
        Require(v.Find(key) == &value, "Find does not return the member of that key", key);
        CheckValue(value);
      }
      return;
    default:
      return;
  }
}

void CheckRoundTrip(const Json& value, int indent) {
  const std::string text = value.Dump(indent);
  Require(IsValidUtf8(text), "Dump wrote invalid UTF-8");
  const absl::StatusOr<Json> back = ParseJson(text);
  Require(back.ok(), "Dump wrote JSON that ParseJson refuses",
          back.ok() ? "" : std::string(back.status().message()));
  Require(*back == value, "Dump then ParseJson changed the value", text.substr(0, 200));
  Require(back->Dump(indent) == text, "Dump is not a fixed point", text.substr(0, 200));
}

}  // namespace
}  // namespace dsarl::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using dsarl::fuzz::Require;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<dsarl::Json> value = dsarl::ParseJson(text);
  if (!value.ok()) {
    Require(absl::IsInvalidArgument(value.status()), "ParseJson failed without InvalidArgument");
    Require(absl::StartsWith(value.status().message(), "JSON line "),
            "a JSON error does not say where", std::string(value.status().message()));
    return 0;
  }
  dsarl::fuzz::CheckValue(*value);
  dsarl::fuzz::CheckRoundTrip(*value, -1);
  dsarl::fuzz::CheckRoundTrip(*value, 2);
  return 0;
}
