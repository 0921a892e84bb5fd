// Checking a model's tool call against a tool's declaration, and writing tool output as JSON.
//
// Why one place: every multi-turn environment must turn a malformed call (unknown tool, missing,
// unknown or non-integer argument) into an error observation the model can read, never a crash or
// a Status error. The messages are the same everywhere, so a model learns them once.
#ifndef DSARL_ENVS_TOOLBOX_H_
#define DSARL_ENVS_TOOLBOX_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "envs/environment.h"
#include "proto/data.pb.h"

namespace dsarl::envs {

// The arguments of a call that passed CheckCall: every declared parameter that was given, by name.
class ToolArgs {
 public:
  // The value of `name`; "" when it was not given (only possible for optional parameters).
  const std::string& Str(absl::string_view name) const;
  // The integer value of `name` (CheckCall verified it parses when the type is "integer"); 0 when
  // absent.
  int64_t Int(absl::string_view name) const;
  bool Has(absl::string_view name) const;

 private:
  friend ToolResult* CheckCall(const proto::ToolSpec&, const ToolCall&, ToolArgs*, ToolResult*);
  std::map<std::string, std::string, std::less<>> values_;
};

// Checks `call` against `spec`: every required parameter present, no undeclared one, integers
// parse ("integer": optional sign and digits, fits int64; "number": a finite decimal). On success
// fills `args` and returns nullptr; otherwise writes an is_error result into `error` and returns
// it.
ToolResult* CheckCall(const proto::ToolSpec& spec, const ToolCall& call, ToolArgs* args,
                      ToolResult* error);

// The is_error result for a call to a tool that does not exist, listing the tools that do.
ToolResult UnknownToolResult(absl::string_view name, absl::Span<const proto::ToolSpec> tools);

// An is_error result with "error: " + message.
ToolResult ErrorResult(absl::string_view message);

// Builds a ToolSpec; parameters are (name, type, description), all required.
struct ParamSpec {
  std::string name;
  std::string type = "string";
  std::string description;
  bool required = true;
};
proto::ToolSpec MakeToolSpec(absl::string_view name, absl::string_view description,
                             absl::Span<const ParamSpec> params);

}  // namespace dsarl::envs

#endif  // DSARL_ENVS_TOOLBOX_H_
