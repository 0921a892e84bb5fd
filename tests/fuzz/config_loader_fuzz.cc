// Fuzzes the job config loader (proto/config_loader.h) the way `dsarl` runs it on a config file
// and its `--set` flags: ParseJobConfig, ApplyOverride for each flag, ApplyModelPreset,
// ValidateJobConfig. The input is the file's text, optionally followed by a line "%%" and one
// override "path=value" per line. Every refusal must be InvalidArgument (NotFound for an unknown
// preset) and name its origin; a config that parses prints (`dsarl config print`) to text that
// parses back to the same config; and filling in defaults does not change what validates.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "proto/config_loader.h"
#include "tests/fuzz/fuzz_check.h"

namespace dsarl::fuzz {
namespace {

constexpr char kFile[] = "fuzz.textproto";

std::string Print(const proto::JobConfig& config) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  return text;
}

// Parses the file part; a config that does not parse leaves the defaults, so the overrides are
// fuzzed either way.
proto::JobConfig Parse(absl::string_view text) {
  absl::StatusOr<proto::JobConfig> config = proto::ParseJobConfig(text, kFile);
  if (!config.ok()) {
    Require(absl::IsInvalidArgument(config.status()), "a bad config is not InvalidArgument");
    Require(absl::StartsWith(config.status().message(), kFile),
            "a config error does not name the file", std::string(config.status().message()));
    return proto::JobConfig();
  }
  const std::string printed = Print(*config);
  const absl::StatusOr<proto::JobConfig> again = proto::ParseJobConfig(printed, "printed");
  Require(again.ok(), "a printed config does not parse",
          again.ok() ? "" : std::string(again.status().message()));
  Require(Print(*again) == printed, "a printed config parses to another config", printed);
  return *std::move(config);
}

void Override(absl::string_view assignment, proto::JobConfig* config) {
  const absl::Status status = proto::ApplyOverride(assignment, config);
  if (status.ok()) return;
  Require(absl::IsInvalidArgument(status), "a bad override is not InvalidArgument");
  Require(absl::StartsWith(status.message(), "--set "), "an override error does not name it",
          std::string(status.message()));
}

}  // namespace
}  // namespace dsarl::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using dsarl::fuzz::Require;
  // Overrides that do not parse make protobuf log each error to stderr; the Status says it too.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<absl::string_view> parts = absl::StrSplit(input, absl::MaxSplits("\n%%\n", 1));
  dsarl::proto::JobConfig config = dsarl::fuzz::Parse(parts[0]);
  if (parts.size() > 1) {
    for (absl::string_view line : absl::StrSplit(parts[1], '\n')) {
      dsarl::fuzz::Override(line, &config);
    }
  }
  const absl::Status preset = dsarl::proto::ApplyModelPreset(config.mutable_model());
  Require(preset.ok() || absl::IsNotFound(preset), "ApplyModelPreset failed without NotFound");
  const absl::Status valid = dsarl::proto::ValidateJobConfig(config, "fuzz");
  if (!valid.ok()) {
    Require(absl::IsInvalidArgument(valid), "an invalid config is not InvalidArgument");
  }
  const dsarl::proto::JobConfig filled = dsarl::proto::WithDefaultsMaterialized(config);
  Require(dsarl::proto::ValidateJobConfig(filled, "fuzz").ok() == valid.ok(),
          "filling in defaults changed whether the config validates");
  return 0;
}
