// Reads a JobConfig from protobuf text format, applies `--set path=value` overrides, fills presets,
// and validates every field against the ranges declared in proto/config.proto.
//
// Every error names where it came from: "configs/x.textproto:12:5: learner.eps_low: 1.5 is out of
// range [0, 1]" for file content, "--set learner.eps_low=1.5: ..." for overrides.
#ifndef DSARL_PROTO_CONFIG_LOADER_H_
#define DSARL_PROTO_CONFIG_LOADER_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/config.pb.h"

namespace dsarl::proto {

// Where each field of a loaded config was written, so checks made after loading (names resolved
// against registries, relations, the memory estimate) name "file:line:column" like the parser.
class ConfigLocations {
 public:
  explicit ConfigLocations(std::string origin = "") : origin_(std::move(origin)) {}

  // "file:line:col" of `field_path` (e.g. "rewards.components[1].name") when the file wrote it,
  // "--set a.b=v" when an override did; else that of the nearest enclosing field; else the origin
  // (the file name).
  std::string Of(absl::string_view field_path) const;
  // Records (or, for an override, replaces) where `field_path` was written.
  void Record(std::string field_path, std::string where);
  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  std::map<std::string, std::string, std::less<>> at_;
};

// A config and where its fields came from.
struct LoadedJobConfig {
  JobConfig config;
  ConfigLocations locations;
};

// Parses `text` (the content of `filename`, used only in messages). Returns InvalidArgument with
// file:line:column on a syntax error, an unknown field or enum value, or a value out of range;
// otherwise the config exactly as written (no presets applied).
absl::StatusOr<JobConfig> ParseJobConfig(absl::string_view text, absl::string_view filename);

// ParseJobConfig that also records where each field was written into `locations` (may be null).
absl::StatusOr<JobConfig> ParseJobConfigWithLocations(absl::string_view text,
                                                      absl::string_view filename,
                                                      ConfigLocations* locations);

// Applies one override "a.b.c=value" to `config`. Scalars take their text-format value; enums take
// the value's name; repeated scalars take a comma-separated list that replaces the field; message
// fields take a text-format message in braces, merged in. `a.b[2].c` addresses an element of a
// repeated message. Returns InvalidArgument naming the override and the unknown part otherwise.
absl::Status ApplyOverride(absl::string_view assignment, JobConfig* config);

// Fills fields left unset from the named model preset ("tiny", "small"). NotFound for an unknown
// preset name.
absl::Status ApplyModelPreset(ModelConfig* model);

// Checks ranges ([(bounds)], [(nonempty)]) and cross-field rules on a resolved config. `origin`
// prefixes messages when no source location is known.
absl::Status ValidateJobConfig(const JobConfig& config, absl::string_view origin);

// Reads `path` (at most kMaxTextFileBytes), parses it, applies `overrides` in order, the model
// preset, and validates. NotFound if the file is missing; InvalidArgument for any content error,
// a non-finite number included.
absl::StatusOr<JobConfig> LoadJobConfig(const std::string& path,
                                        const std::vector<std::string>& overrides);

// LoadJobConfig, keeping the location of every field for later messages.
absl::StatusOr<LoadedJobConfig> LoadJobConfigWithLocations(
    const std::string& path, const std::vector<std::string>& overrides);

// Returns a copy with every unset optional scalar field of every present-or-default message set to
// its default, so printing it shows the effective value of every field.
JobConfig WithDefaultsMaterialized(const JobConfig& config);

}  // namespace dsarl::proto

#endif  // DSARL_PROTO_CONFIG_LOADER_H_
