// CheckJob: each role checks what its processes need, failures carry the location of the field to
// blame, and the memory estimate is held against cluster.memory_limit_mb.
#include "cli/job_check.h"

#include "absl/strings/str_cat.h"
#include "envs/sandbox.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

proto::LoadedJobConfig Load(std::vector<std::string> sets) {
  sets.insert(sets.begin(), "output_dir=" + ::testing::TempDir() + "/job_check");
  auto job = proto::LoadJobConfigWithLocations(
      std::string(DSARL_SOURCE_DIR) + "/configs/quickstart.textproto", sets);
  EXPECT_TRUE(job.ok()) << job.status();
  return *job;
}

TEST(JobCheck, TheQuickstartPassesWithItsEstimate) {
  JobCheckReport report;
  ASSERT_OK(CheckJob(Load({}), JobRole::kRun, &report));
  EXPECT_GT(report.longest_prompt_tokens, 0);
  EXPECT_GT(report.memory_bytes, 100.0 * (1 << 20));
  EXPECT_THAT(report.memory, HasSubstr("learner: parameters"));
  EXPECT_THAT(report.memory, HasSubstr("rollout worker(s), each"));
}

TEST(JobCheck, MemoryAboveTheLimitIsRefusedAndNearItWarned) {
  JobCheckReport report;
  absl::Status s = CheckJob(Load({"cluster.memory_limit_mb=100"}), JobRole::kRun, &report);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("cluster.memory_limit_mb allows 100.0 MiB"));
  // A limit a little above the estimate passes with a warning.
  const int64_t mb = static_cast<int64_t>(report.memory_bytes / (1 << 20) * 1.1) + 1;
  JobCheckReport near;
  ASSERT_OK(CheckJob(Load({absl::StrCat("cluster.memory_limit_mb=", mb)}), JobRole::kRun, &near));
  ASSERT_EQ(near.warnings.size(), 1u);
  EXPECT_THAT(near.warnings[0], HasSubstr("near the"));
  // One worker needs less than the whole job.
  JobCheckReport worker;
  ASSERT_OK(CheckJob(Load({}), JobRole::kRollout, &worker));
  EXPECT_LT(worker.memory_bytes, report.memory_bytes);
}

TEST(JobCheck, FailuresNameTheOverrideOrTheFileLocation) {
  JobCheckReport report;
  absl::Status s =
      CheckJob(Load({"rewards.components={name: \"verifer\"}"}), JobRole::kRun, &report);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("--set rewards.components={name: \"verifer\"}: rewards.components: no "
                        "reward function named 'verifer'"));
  s = CheckJob(Load({"cluster.learner_listen=127.0.0.1:99999", "envs.categories=arithmetic,,x"}),
               JobRole::kRun, &report);
  EXPECT_THAT(std::string(s.message()), HasSubstr("cluster.learner_listen"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("envs.categories[1]: is empty"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("envs.categories[2]: no category 'x'"));
}

TEST(JobCheck, EachRoleChecksWhatItUses) {
  JobCheckReport report;
  // A worker writes nothing to output_dir and does not listen.
  EXPECT_OK(CheckJob(Load({"output_dir=/proc/none", "cluster.learner_listen=bad"}),
                     JobRole::kRollout, &report));
  EXPECT_THAT(report.warnings, IsEmpty());
  absl::Status s = CheckJob(Load({"output_dir=/proc/none"}), JobRole::kLearner, &report);
  EXPECT_THAT(std::string(s.message()), HasSubstr("output_dir: '/proc/none' cannot be created"));
}

}  // namespace
}  // namespace dsarl::cli

namespace dsarl::cli {
namespace {

// A job with a code category needs the sandbox level it asks for on this machine; one without
// does not care; an unknown level is named.
TEST(JobCheck, TheSandboxLevelIsCheckedWhenCodeMayRun) {
  JobCheckReport report;
  absl::Status bad = CheckJob(Load({"envs.sandbox_min_level=sealed"}), JobRole::kRun, &report);
  EXPECT_THAT(std::string(bad.message()),
              HasSubstr("envs.sandbox_min_level: unknown sandbox level"));
  const envs::SandboxLevel here = envs::LevelOfLayers(envs::GetSandboxSupport().layers);
  for (envs::SandboxLevel level : {envs::SandboxLevel::kMinimal, envs::SandboxLevel::kFiltered,
                                   envs::SandboxLevel::kIsolated, envs::SandboxLevel::kStrict}) {
    const std::string set = absl::StrCat("envs.sandbox_min_level=", envs::SandboxLevelName(level));
    absl::Status code =
        CheckJob(Load({set, "envs.categories=code_interpreter"}), JobRole::kRun, &report);
    if (level <= here) {
      EXPECT_TRUE(code.ok()) << set << ": " << code;
    } else {
      EXPECT_THAT(std::string(code.message()),
                  HasSubstr("envs.sandbox_min_level: sandbox: this machine reaches level"))
          << set;
    }
    // The quickstart's categories run no code.
    absl::Status no_code = CheckJob(Load({set}), JobRole::kRun, &report);
    EXPECT_TRUE(no_code.ok()) << set << ": " << no_code;
  }
  envs::SetSandboxPolicy({});
}

}  // namespace
}  // namespace dsarl::cli
