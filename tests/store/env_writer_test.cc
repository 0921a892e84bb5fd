// WriteEnvironments: the store gets exactly the environments and prompts given, in order, across
// batch boundaries; a store that already has environments is refused, naming its directory, and
// keeps what it had.
#include "store/env_writer.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/store/test_util.h"

namespace dsarl::store {
namespace {

using ::dsarl::store::testing::TempDir;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

std::vector<proto::EnvSpec> Envs(int n) {
  std::vector<proto::EnvSpec> envs(n);
  for (int i = 0; i < n; ++i) {
    envs[i].set_id(i + 1);
    envs[i].set_category(i % 2 ? "logic_grid" : "arithmetic");
    envs[i].set_seed(100 + i);
    envs[i].set_difficulty(4);
    (*envs[i].mutable_params())["size"] = std::to_string(i);
  }
  return envs;
}

// More prompts than one batch (4096), spread over the environments.
std::vector<proto::Prompt> Prompts(int n, int envs) {
  std::vector<proto::Prompt> prompts(n);
  for (int i = 0; i < n; ++i) {
    prompts[i].set_id(i + 1);
    prompts[i].set_env_id(i % envs + 1);
    prompts[i].set_category(i % envs % 2 ? "logic_grid" : "arithmetic");
    prompts[i].set_task_seed(7 * i);
    prompts[i].set_user("task " + std::to_string(i));
  }
  return prompts;
}

std::unique_ptr<Store> OpenNew(const std::string& dir) {
  OpenOptions options;
  options.create_if_missing = true;
  auto store = Store::Open(dir, options);
  EXPECT_OK(store.status());
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(EnvWriterTest, StoreGetsExactlyWhatWasGiven) {
  TempDir dir;
  const std::vector<proto::EnvSpec> envs = Envs(5);
  const std::vector<proto::Prompt> prompts = Prompts(4096 + 10, 5);
  std::unique_ptr<Store> st = OpenNew(dir.path());
  ASSERT_NE(st, nullptr);
  ASSERT_OK(WriteEnvironments(envs, prompts, st.get()));
  EXPECT_EQ(st->Counts().envs(), envs.size());
  EXPECT_EQ(st->Counts().prompts(), prompts.size());
  size_t i = 0;
  ASSERT_OK(st->ScanPrompts([&](const proto::Prompt& p) {
    EXPECT_TRUE(i < prompts.size() && MessageDifferencer::Equals(p, prompts[i])) << "prompt " << i;
    ++i;
    return true;
  }));
  EXPECT_EQ(i, prompts.size());
  i = 0;
  ASSERT_OK(st->ScanEnvs([&](const proto::EnvSpec& e) {
    EXPECT_TRUE(i < envs.size() && MessageDifferencer::Equals(e, envs[i])) << "env " << i;
    ++i;
    return true;
  }));
  EXPECT_EQ(i, envs.size());
  ASSERT_OK(st->Close());
}

TEST(EnvWriterTest, RefusesAStoreThatHasEnvironments) {
  TempDir dir;
  std::unique_ptr<Store> st = OpenNew(dir.path());
  ASSERT_NE(st, nullptr);
  ASSERT_OK(WriteEnvironments(Envs(2), Prompts(3, 2), st.get()));
  const std::vector<proto::EnvSpec> more = Envs(4);
  const absl::Status again = WriteEnvironments(more, Prompts(8, 4), st.get());
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.message()), HasSubstr(dir.path()));
  EXPECT_THAT(std::string(again.message()), HasSubstr("already holds 2 environments"));
  EXPECT_EQ(st->Counts().envs(), 2u);
  EXPECT_EQ(st->Counts().prompts(), 3u);
  ASSERT_OK(st->Close());
}

TEST(EnvWriterTest, EmptySetWritesNothing) {
  TempDir dir;
  std::unique_ptr<Store> st = OpenNew(dir.path());
  ASSERT_NE(st, nullptr);
  ASSERT_OK(WriteEnvironments({}, {}, st.get()));
  EXPECT_EQ(st->Counts().envs(), 0u);
  EXPECT_EQ(st->Counts().prompts(), 0u);
  ASSERT_OK(st->Close());
}

}  // namespace
}  // namespace dsarl::store
