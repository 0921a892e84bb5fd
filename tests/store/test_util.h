// Helpers shared by the store tests and the crash-test child: temporary directories and
// deterministic groups whose content can be regenerated and compared after a crash.
#ifndef DSARL_TESTS_STORE_TEST_UTIL_H_
#define DSARL_TESTS_STORE_TEST_UTIL_H_

#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "proto/data.pb.h"
#include "tests/run_shell.h"

namespace dsarl::store::testing {

// A fresh directory under /tmp, removed (with its contents) on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dsarl-store-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // A path inside the directory (not created).
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Group (prompt_id, attempt) of `run_id` at `step`, with `n` trajectories of `tokens` tokens each.
// The content is a function of the arguments only, so a reader can regenerate it and compare.
inline proto::Group MakeGroup(uint64_t prompt_id, uint32_t attempt, uint64_t run_id, int64_t step,
                              int n = 8, int tokens = 64) {
  proto::Group g;
  g.set_prompt_id(prompt_id);
  g.set_attempt(attempt);
  g.set_run_id(run_id);
  g.set_step(step);
  g.set_worker_id("worker-" + std::to_string(prompt_id % 3));
  g.set_created_unix_ms(1700000000000 + static_cast<int64_t>(prompt_id));
  for (int i = 0; i < n; ++i) {
    std::mt19937 rng(static_cast<uint32_t>(prompt_id * 1000003 + attempt * 101 + i));
    proto::Trajectory* t = g.add_trajectories();
    t->set_prompt_id(prompt_id);
    t->set_sample_index(i);
    const int prompt_len = tokens / 4;
    for (int k = 0; k < tokens; ++k) {
      t->add_token_ids(static_cast<int32_t>(rng() % 128000));
      const bool generated = k >= prompt_len;
      t->add_loss_mask(generated ? 1 : 0);
      t->add_behaviour_logprobs(generated ? -static_cast<float>(rng() % 1000) / 250.0f : 0.0f);
      t->add_policy_versions(generated ? 7 : 0);
    }
    t->set_reward(static_cast<double>(i % 2));
    t->set_finish_reason(proto::FINISH_EOS);
    t->set_num_turns(1);
    auto* rc = t->add_reward_components();
    rc->set_name("correct");
    rc->set_value(i % 2);
    rc->set_weight(1.0);
    rc->set_applicable(true);
  }
  return g;
}

using ::dsarl::testing::Shell;  // tests/run_shell.h

}  // namespace dsarl::store::testing

#endif  // DSARL_TESTS_STORE_TEST_UTIL_H_
