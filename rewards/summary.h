// Per-component statistics over many scored trajectories: the table `dsarl rewards test` prints,
// and the per-step metrics a trainer logs so that every component is visible at every step.
#ifndef DSARL_REWARDS_SUMMARY_H_
#define DSARL_REWARDS_SUMMARY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rewards/composer.h"

namespace dsarl::rewards {

class Summary {
 public:
  struct Row {
    std::string name;
    double weight = 0;       // as last seen
    int64_t seen = 0;        // trajectories that reported the component
    int64_t applicable = 0;  // of those, how many were applicable
    double sum = 0;          // of applicable values
    double min = 0;
    double max = 0;
    double weighted_sum = 0;  // of weight * value over applicable values
    double mean() const { return applicable > 0 ? sum / applicable : 0; }
  };

  // Adds one trajectory. Trajectories with an infra error count in infra_errors() only.
  void Add(const ScoredSample& scored);

  // One row per component name, in the order first seen.
  std::vector<Row> Rows() const;
  int64_t trajectories() const { return trajectories_; }
  int64_t infra_errors() const { return infra_errors_; }
  int64_t gated() const { return gated_; }
  // Mean composed reward over the trajectories without infra errors (0 when none).
  double reward_mean() const;

  // Metrics by name: "reward/mean", "reward/gated_fraction", "reward/infra_error_fraction", and
  // per component "reward/<name>/mean" (over applicable values) and
  // "reward/<name>/applicable_fraction". Empty when nothing was added.
  std::map<std::string, double> Metrics() const;

  // A fixed-width text table: one line per component (weight, applicable/seen, mean, min, max,
  // and its mean contribution weight * value per scored trajectory, before gates), then the mean
  // composed reward with the counts of scored, gated and failed trajectories.
  std::string FormatTable() const;

 private:
  std::vector<Row> rows_;
  std::map<std::string, size_t> index_;
  int64_t trajectories_ = 0;
  int64_t infra_errors_ = 0;
  int64_t gated_ = 0;
  double reward_sum_ = 0;
};

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_SUMMARY_H_
