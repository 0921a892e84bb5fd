// Parameter parsing for reward factories (see params.h).
#include "rewards/params.h"

#include <cmath>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dsarl::rewards {

Params::Params(std::map<std::string, std::string> values, std::string owner)
    : values_(std::move(values)), owner_(std::move(owner)) {}

bool Params::Has(const std::string& key) const {
  read_.insert(key);
  return values_.count(key) > 0;
}

std::string Params::String(const std::string& key, const std::string& fallback) const {
  read_.insert(key);
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<double> Params::Double(const std::string& key, double fallback) const {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  double v = 0;
  if (!absl::SimpleAtod(it->second, &v) || !std::isfinite(v)) {
    return Error(key, absl::StrCat("'", it->second, "' is not a finite number"));
  }
  return v;
}

absl::StatusOr<int64_t> Params::Int(const std::string& key, int64_t fallback) const {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  int64_t v = 0;
  if (!absl::SimpleAtoi(it->second, &v)) {
    return Error(key, absl::StrCat("'", it->second, "' is not an integer"));
  }
  return v;
}

absl::StatusOr<bool> Params::Bool(const std::string& key, bool fallback) const {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(it->second));
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return Error(key, absl::StrCat("'", it->second, "' is not true/false"));
}

absl::Status Params::CheckAllRead() const {
  std::vector<std::string> unknown;
  for (const auto& [key, value] : values_) {
    if (read_.count(key) == 0) unknown.push_back(key);
  }
  if (unknown.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(owner_, ": unknown param(s) ", absl::StrJoin(unknown, ", ")));
}

absl::Status Params::Error(const std::string& key, const std::string& message) const {
  return absl::InvalidArgumentError(absl::StrCat(owner_, ": param '", key, "': ", message));
}

}  // namespace dsarl::rewards
