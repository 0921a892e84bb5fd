// Per-component statistics (see summary.h).
#include "rewards/summary.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dsarl::rewards {

void Summary::Add(const ScoredSample& scored) {
  ++trajectories_;
  if (!scored.infra_error.empty()) {
    ++infra_errors_;
    return;
  }
  if (scored.gated) ++gated_;
  reward_sum_ += scored.reward;
  for (const proto::RewardComponent& c : scored.components) {
    auto [it, added] = index_.emplace(c.name(), rows_.size());
    if (added) rows_.push_back(Row{.name = c.name()});
    Row& row = rows_[it->second];
    row.weight = c.weight();
    ++row.seen;
    if (!c.applicable()) continue;
    const double v = c.value();
    row.min = row.applicable == 0 ? v : std::min(row.min, v);
    row.max = row.applicable == 0 ? v : std::max(row.max, v);
    ++row.applicable;
    row.sum += v;
    row.weighted_sum += c.weight() * v;
  }
}

std::vector<Summary::Row> Summary::Rows() const { return rows_; }

double Summary::reward_mean() const {
  const int64_t n = trajectories_ - infra_errors_;
  return n > 0 ? reward_sum_ / n : 0;
}

std::map<std::string, double> Summary::Metrics() const {
  std::map<std::string, double> m;
  if (trajectories_ == 0) return m;
  m["reward/mean"] = reward_mean();
  m["reward/gated_fraction"] = static_cast<double>(gated_) / trajectories_;
  m["reward/infra_error_fraction"] = static_cast<double>(infra_errors_) / trajectories_;
  for (const Row& r : rows_) {
    m[absl::StrCat("reward/", r.name, "/mean")] = r.mean();
    m[absl::StrCat("reward/", r.name, "/applicable_fraction")] =
        r.seen > 0 ? static_cast<double>(r.applicable) / r.seen : 0;
  }
  return m;
}

std::string Summary::FormatTable() const {
  size_t width = 9;  // "component"
  for (const Row& r : rows_) width = std::max(width, r.name.size());
  const int w = static_cast<int>(width);
  std::string out = absl::StrFormat("%-*s %8s %13s %9s %9s %9s %9s\n", w, "component", "weight",
                                    "applicable", "mean", "min", "max", "contrib");
  const int64_t scored = trajectories_ - infra_errors_;
  for (const Row& r : rows_) {
    const std::string applicable = absl::StrCat(r.applicable, "/", r.seen);
    if (r.applicable == 0) {
      absl::StrAppendFormat(&out, "%-*s %8.3g %13s %9s %9s %9s %9s\n", w, r.name, r.weight,
                            applicable, "-", "-", "-", "-");
      continue;
    }
    absl::StrAppendFormat(&out, "%-*s %8.3g %13s %9.4f %9.4f %9.4f %9.4f\n", w, r.name, r.weight,
                          applicable, r.mean(), r.min, r.max,
                          scored > 0 ? r.weighted_sum / scored : 0.0);
  }
  absl::StrAppendFormat(&out, "%-*s %8s %13s %9.4f   (%d scored, %d gated, %d infra errors)\n", w,
                        "total", "", "", reward_mean(), scored, gated_, infra_errors_);
  return out;
}

}  // namespace dsarl::rewards
