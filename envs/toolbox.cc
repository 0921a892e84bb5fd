// Tool-call checking and JSON output (toolbox.h).
#include "envs/toolbox.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dsarl::envs {
namespace {

const std::string kEmpty;

bool IsInteger(absl::string_view s) {
  int64_t v = 0;
  return absl::SimpleAtoi(s, &v);
}

bool IsNumber(absl::string_view s) {
  const std::string copy(s);
  if (copy.empty()) return false;
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size() && std::isfinite(v);
}

}  // namespace

const std::string& ToolArgs::Str(absl::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? kEmpty : it->second;
}

int64_t ToolArgs::Int(absl::string_view name) const {
  int64_t v = 0;
  (void)absl::SimpleAtoi(Str(name), &v);
  return v;
}

bool ToolArgs::Has(absl::string_view name) const { return values_.count(name) > 0; }

ToolResult ErrorResult(absl::string_view message) {
  return ToolResult{absl::StrCat("error: ", message), true};
}

ToolResult* CheckCall(const proto::ToolSpec& spec, const ToolCall& call, ToolArgs* args,
                      ToolResult* error) {
  args->values_.clear();
  for (const auto& [key, value] : call.arguments) {
    const proto::ToolParameter* param = nullptr;
    for (const proto::ToolParameter& p : spec.parameters()) {
      if (p.name() == key) param = &p;
    }
    if (param == nullptr) {
      std::vector<std::string> names;
      for (const proto::ToolParameter& p : spec.parameters()) names.push_back(p.name());
      *error = ErrorResult(absl::StrCat(
          spec.name(), " has no parameter '", key, "'",
          names.empty() ? "; it takes none"
                        : absl::StrCat("; its parameters: ", absl::StrJoin(names, ", "))));
      return error;
    }
    if (args->values_.count(key) > 0) {
      *error = ErrorResult(absl::StrCat("parameter '", key, "' of ", spec.name(), " is repeated"));
      return error;
    }
    if (param->type() == "integer" && !IsInteger(value)) {
      *error = ErrorResult(absl::StrCat("parameter '", key, "' of ", spec.name(),
                                        " must be an integer, got '", value, "'"));
      return error;
    }
    if (param->type() == "number" && !IsNumber(value)) {
      *error = ErrorResult(absl::StrCat("parameter '", key, "' of ", spec.name(),
                                        " must be a number, got '", value, "'"));
      return error;
    }
    args->values_[key] = value;
  }
  for (const proto::ToolParameter& p : spec.parameters()) {
    if (p.required() && args->values_.count(p.name()) == 0) {
      *error = ErrorResult(
          absl::StrCat(spec.name(), " is missing its required parameter '", p.name(), "'"));
      return error;
    }
  }
  return nullptr;
}

ToolResult UnknownToolResult(absl::string_view name, absl::Span<const proto::ToolSpec> tools) {
  if (tools.empty()) {
    return ErrorResult(absl::StrCat("there is no tool '", name,
                                    "': this task has no tools; write the answer as plain text"));
  }
  std::vector<std::string> names;
  for (const proto::ToolSpec& t : tools) names.push_back(t.name());
  return ErrorResult(
      absl::StrCat("there is no tool '", name, "'; the tools are: ", absl::StrJoin(names, ", ")));
}

proto::ToolSpec MakeToolSpec(absl::string_view name, absl::string_view description,
                             absl::Span<const ParamSpec> params) {
  proto::ToolSpec spec;
  spec.set_name(std::string(name));
  spec.set_description(std::string(description));
  for (const ParamSpec& p : params) {
    proto::ToolParameter* out = spec.add_parameters();
    out->set_name(p.name);
    out->set_type(p.type);
    out->set_description(p.description);
    out->set_required(p.required);
  }
  return spec;
}

}  // namespace dsarl::envs
