// The registry of named reward functions (see registry.h).
#include "rewards/registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace dsarl::rewards {

absl::Status Registry::Register(const std::string& name, const std::string& summary,
                                RewardFactory factory) {
  if (name.empty() || name.find('.') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward name '", name, "' must be non-empty and contain no '.'"));
  }
  if (name == "plugin" || name == "remote") {
    return absl::InvalidArgumentError(absl::StrCat("reward name '", name, "' is reserved"));
  }
  if (!entries_.emplace(name, Entry{summary, std::move(factory)}).second) {
    return absl::AlreadyExistsError(absl::StrCat("reward '", name, "' is already registered"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RewardFunction>> Registry::Create(const std::string& name,
                                                                 const Params& params) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    std::vector<std::string> names;
    for (const auto& [n, e] : entries_) names.push_back(n);
    return absl::NotFoundError(absl::StrCat("no reward function named '", name,
                                            "'; registered: ", absl::StrJoin(names, ", "),
                                            " (and the types plugin, remote)"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RewardFunction> fn, it->second.factory(params));
  RETURN_IF_ERROR(params.CheckAllRead());
  return fn;
}

std::vector<std::pair<std::string, std::string>> Registry::List() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, e] : entries_) out.emplace_back(name, e.summary);
  return out;
}

}  // namespace dsarl::rewards
