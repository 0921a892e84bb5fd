// The learner tests' common start: a fresh store holding environment 1 and prompts 1..n of it.
#ifndef DSARL_TESTS_LEARNER_PROMPT_STORE_H_
#define DSARL_TESTS_LEARNER_PROMPT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "store/store.h"
#include "tests/status_matchers.h"

namespace dsarl::testing {

// Creates a store in `dir` with environment 1 (category "arithmetic") and prompts 1..n (user text
// "question P"); their ids go to `ids`. Null, with a test failure, when the store cannot be made.
inline std::unique_ptr<store::Store> StoreWithPrompts(const std::string& dir, int n,
                                                      std::vector<uint64_t>* ids) {
  store::OpenOptions o;
  o.create_if_missing = true;
  auto opened = store::Store::Open(dir, o);
  EXPECT_OK(opened.status());
  if (!opened.ok()) return nullptr;
  std::unique_ptr<store::Store> store = std::move(*opened);
  proto::EnvSpec env;
  env.set_id(1);
  env.set_category("arithmetic");
  EXPECT_OK(store->PutEnv(env));
  for (uint64_t p = 1; p <= static_cast<uint64_t>(n); ++p) {
    proto::Prompt pr;
    pr.set_id(p);
    pr.set_env_id(1);
    pr.set_user("question " + std::to_string(p));
    EXPECT_OK(store->PutPrompt(pr));
    ids->push_back(p);
  }
  return store;
}

}  // namespace dsarl::testing

#endif  // DSARL_TESTS_LEARNER_PROMPT_STORE_H_
