// Typed access to a reward's free-form parameters (RewardComponentConfig.params, key=value text).
//
// Why it tracks which keys were read: a misspelt parameter ("max_token") would otherwise be
// ignored silently and the reward would run with its default. Factories read what they know and
// call CheckAllRead, which names every key nobody asked for.
#ifndef DSARL_REWARDS_PARAMS_H_
#define DSARL_REWARDS_PARAMS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dsarl::rewards {

class Params {
 public:
  // `owner` names the reward in messages ("reward 'length_penalty'").
  Params(std::map<std::string, std::string> values, std::string owner);

  bool Has(const std::string& key) const;
  // The value of `key`, or `fallback` when absent.
  std::string String(const std::string& key, const std::string& fallback = "") const;
  // The value parsed as a finite number; `fallback` when absent. InvalidArgument naming the owner,
  // the key and the text otherwise.
  absl::StatusOr<double> Double(const std::string& key, double fallback) const;
  // The value parsed as an integer; `fallback` when absent; InvalidArgument otherwise.
  absl::StatusOr<int64_t> Int(const std::string& key, int64_t fallback) const;
  // "true"/"false"/"1"/"0"; `fallback` when absent; InvalidArgument otherwise.
  absl::StatusOr<bool> Bool(const std::string& key, bool fallback) const;

  // InvalidArgument naming the owner and every key not read by the calls above; OK otherwise.
  absl::Status CheckAllRead() const;

  // InvalidArgument "<owner>: param '<key>': <message>".
  absl::Status Error(const std::string& key, const std::string& message) const;

  const std::map<std::string, std::string>& values() const { return values_; }
  const std::string& owner() const { return owner_; }

 private:
  std::map<std::string, std::string> values_;
  std::string owner_;
  mutable std::set<std::string> read_;
};

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_PARAMS_H_
