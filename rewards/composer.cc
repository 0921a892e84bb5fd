// Building entries from the config and composing their components (see composer.h).
#include "rewards/composer.h"

#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "rewards/params.h"
#include "rewards/plugin.h"

namespace dsarl::rewards {
namespace {

std::string Owner(const std::string& name) { return absl::StrCat("reward '", name, "'"); }

// The function of a non-alias entry, from params.type.
absl::StatusOr<std::unique_ptr<RewardFunction>> MakeFunction(
    const std::string& name, std::map<std::string, std::string> params,
    const proto::RewardsConfig& config, const Registry& registry,
    const std::shared_ptr<ConcurrencyLimit>& limit) {
  std::string type = name;
  if (auto it = params.find("type"); it != params.end()) {
    type = it->second;
    params.erase(it);
  }
  params.erase("primary");  // read by the composer for external entries
  if (type == "plugin") {
    auto it = params.find("plugin_path");
    if (it == params.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Owner(name), ": type plugin needs params.plugin_path"));
    }
    const std::string path = it->second;
    params.erase(it);
    absl::StatusOr<std::unique_ptr<RewardFunction>> fn =
        LoadPluginReward(path, params, absl::Seconds(config.call_timeout_s()));
    if (!fn.ok()) return Annotate(fn.status(), Owner(name));
    return fn;
  }
  if (type == "remote") {
    RemoteOptions options;
    if (auto it = params.find("address"); it != params.end()) {
      options.addresses.push_back(it->second);
      params.erase(it);
    } else {
      options.addresses.assign(config.remote_addresses().begin(), config.remote_addresses().end());
    }
    if (!params.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Owner(name),
                       ": a remote reward takes only address and primary; the server cannot "
                       "receive ",
                       params.begin()->first));
    }
    options.timeout = absl::Seconds(config.call_timeout_s());
    options.limit = limit;
    options.security.tls_ca_file = config.remote_tls_ca();
    if (!config.remote_token_file().empty()) {
      absl::StatusOr<std::string> token = rpc::ReadTokenFile(config.remote_token_file());
      if (!token.ok()) return Annotate(token.status(), Owner(name));
      options.security.token = std::move(*token);
    }
    absl::StatusOr<std::unique_ptr<RewardFunction>> fn = NewRemoteReward(std::move(options));
    if (!fn.ok()) return Annotate(fn.status(), Owner(name));
    return fn;
  }
  return registry.Create(type, Params(std::move(params), Owner(name)));
}

proto::RewardComponent ToProto(const Component& c, const std::string& name, double weight) {
  proto::RewardComponent p;
  p.set_name(name);
  p.set_value(c.applicable ? c.value : 0);
  p.set_weight(weight);
  p.set_applicable(c.applicable);
  p.set_details(c.details);
  return p;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Composer>> Composer::Create(const proto::RewardsConfig& config,
                                                           const Registry& registry) {
  std::unique_ptr<Composer> composer(new Composer());
  composer->remote_limit_ = std::make_shared<ConcurrencyLimit>(config.max_concurrency());
  std::set<std::string> names;
  for (const proto::RewardComponentConfig& c : config.components()) {
    if (c.name().empty()) return absl::InvalidArgumentError("a reward entry has no name");
    if (!names.insert(c.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat(Owner(c.name()), " appears twice"));
    }
  }
  for (const proto::RewardComponentConfig& c : config.components()) {
    Entry e;
    e.name = c.name();
    e.weight = c.weight();
    e.gate = c.gate();
    e.gate_threshold = c.gate_threshold();
    if (!std::isfinite(e.weight) || !std::isfinite(e.gate_threshold)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Owner(e.name), ": weight and gate_threshold must be finite"));
    }
    std::map<std::string, std::string> params(c.params().begin(), c.params().end());
    const size_t dot = e.name.find('.');
    if (dot != std::string::npos) {
      const std::string owner = e.name.substr(0, dot);
      if (owner.find('.') != std::string::npos || names.count(owner) == 0 ||
          dot + 1 == e.name.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Owner(e.name),
                         ": a name with '.' is an alias '<entry>.<component>' and needs an "
                         "entry named '",
                         owner, "'"));
      }
      if (!params.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Owner(e.name), ": an alias takes no params"));
      }
      composer->entries_.push_back(std::move(e));
      continue;
    }
    const std::string type = params.count("type") ? params.at("type") : e.name;
    e.external = type == "plugin" || type == "remote";
    if (auto it = params.find("primary"); it != params.end()) {
      if (!e.external) {
        return absl::InvalidArgumentError(
            absl::StrCat(Owner(e.name), ": params.primary is only for plugin and remote"));
      }
      e.primary = it->second;
    }
    ASSIGN_OR_RETURN(
        e.fn, MakeFunction(e.name, std::move(params), config, registry, composer->remote_limit_));
    composer->entries_.push_back(std::move(e));
  }
  return composer;
}

std::string Composer::NameComponents(const Entry& e, const Components& emitted,
                                     std::vector<proto::RewardComponent>* out) const {
  // Which emitted component is the entry's own value.
  int primary = -1;
  for (size_t i = 0; i < emitted.size() && primary < 0; ++i) {
    if (emitted[i].name.empty() || emitted[i].name == e.name ||
        (!e.primary.empty() && emitted[i].name == e.primary)) {
      primary = static_cast<int>(i);
    }
  }
  if (primary < 0 && e.external && e.primary.empty() && emitted.size() == 1) primary = 0;
  if (primary < 0) {
    std::vector<std::string> names;
    for (const Component& c : emitted) names.push_back(absl::StrCat("'", c.name, "'"));
    return absl::StrCat(Owner(e.name), ": no value for the entry among the components emitted [",
                        absl::StrJoin(names, ", "), "]",
                        e.external ? "; name one with params.primary" : "");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < emitted.size(); ++i) {
    const Component& c = emitted[i];
    const bool is_primary = static_cast<int>(i) == primary;
    const std::string name = is_primary ? e.name : absl::StrCat(e.name, ".", c.name);
    if (!seen.insert(name).second) {
      return absl::StrCat(Owner(e.name), ": component '", name, "' emitted twice");
    }
    if (c.applicable && !std::isfinite(c.value)) {
      return absl::StrCat(Owner(e.name), ": component '", name, "' is ", c.value);
    }
    out->push_back(ToProto(c, name, is_primary ? e.weight : 0));
  }
  return "";
}

std::vector<ScoredSample> Composer::ScoreGroup(const proto::Prompt& task,
                                               absl::Span<const Sample> samples) const {
  std::vector<ScoredSample> scored(samples.size());
  // Run every function over the group.
  std::vector<absl::StatusOr<std::vector<Components>>> results;
  results.reserve(entries_.size());
  for (const Entry& e : entries_) {
    if (e.fn == nullptr) {
      results.emplace_back(std::vector<Components>());
      continue;
    }
    absl::StatusOr<std::vector<Components>> r = e.fn->ScoreGroup(task, samples);
    if (r.ok() && r->size() != samples.size()) {
      r = absl::InternalError(
          absl::StrCat("returned ", r->size(), " result(s) for ", samples.size(), " sample(s)"));
    }
    if (!r.ok()) r = Annotate(r.status(), Owner(e.name));
    results.push_back(std::move(r));
  }
  for (size_t s = 0; s < samples.size(); ++s) {
    ScoredSample& out = scored[s];
    std::vector<std::string> errors;
    for (size_t i = 0; i < entries_.size(); ++i) {
      const Entry& e = entries_[i];
      if (e.fn == nullptr) continue;
      if (!results[i].ok()) {
        errors.push_back(results[i].status().ToString());
        continue;
      }
      std::string error = NameComponents(e, (*results[i])[s], &out.components);
      if (!error.empty()) errors.push_back(std::move(error));
    }
    // Aliases: give the named sub-component the alias's weight (and gate, below).
    for (const Entry& e : entries_) {
      if (e.fn != nullptr) continue;
      bool found = false;
      for (proto::RewardComponent& c : out.components) {
        if (c.name() == e.name) {
          c.set_weight(e.weight);
          found = true;
        }
      }
      if (!found) {
        proto::RewardComponent* c = &out.components.emplace_back();
        c->set_name(e.name);
        c->set_weight(e.weight);
        c->set_applicable(false);
        c->set_details("not emitted");
      }
    }
    double total = 0;
    for (const proto::RewardComponent& c : out.components) {
      if (c.applicable() && c.weight() != 0) total += c.weight() * c.value();
    }
    for (const Entry& e : entries_) {
      if (!e.gate || out.gated) continue;
      for (const proto::RewardComponent& c : out.components) {
        if (c.name() == e.name && c.applicable() && c.value() < e.gate_threshold) {
          out.gated = true;
          out.gate_details = absl::StrFormat("%s = %g < %g", e.name, c.value(), e.gate_threshold);
        }
      }
    }
    out.reward = out.gated ? 0 : total;
    if (!errors.empty()) {
      out.infra_error = absl::StrJoin(errors, "; ");
      out.reward = 0;
    }
  }
  return scored;
}

std::vector<std::string> Composer::entry_names() const {
  std::vector<std::string> names;
  for (const Entry& e : entries_) names.push_back(e.name);
  return names;
}

void ApplyToTrajectory(const ScoredSample& scored, proto::Trajectory* trajectory) {
  trajectory->set_reward(scored.reward);
  trajectory->clear_reward_components();
  for (const proto::RewardComponent& c : scored.components) {
    *trajectory->add_reward_components() = c;
  }
  if (!scored.infra_error.empty()) {
    trajectory->set_infra_error(scored.infra_error);
    trajectory->set_finish_reason(proto::FINISH_INFRA_ERROR);
  }
}

}  // namespace dsarl::rewards
