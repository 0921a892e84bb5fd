#include "proto/config_loader.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::proto {
namespace {

using ::testing::HasSubstr;

TEST(ConfigLoader, ParsesValidText) {
  ASSERT_OK_AND_ASSIGN(JobConfig c, ParseJobConfig(R"(
    name: "t"
    rollout { group_size: 4 temperature: 0.7 }
    learner { kl_estimator: K3 eps_high: 0.28 }
  )",
                                                   "t.textproto"));
  EXPECT_EQ(c.rollout().group_size(), 4);
  EXPECT_DOUBLE_EQ(c.rollout().temperature(), 0.7);
  EXPECT_EQ(c.learner().kl_estimator(), LearnerConfig::K3);
  EXPECT_DOUBLE_EQ(c.learner().eps_high(), 0.28);
  // Unset fields read as the documented defaults.
  EXPECT_DOUBLE_EQ(c.learner().eps_low(), 0.2);
  EXPECT_DOUBLE_EQ(c.learner().kl_coef(), 0.001);
  EXPECT_DOUBLE_EQ(c.learner().offpolicy_delta(), 0.5);
  EXPECT_EQ(c.model().index_topk(), 64);
}

TEST(ConfigLoader, MisspelledFieldNamesLineAndColumn) {
  auto c = ParseJobConfig("name: \"x\"\nrollout {\n  grup_size: 4\n}\n", "bad.textproto");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("bad.textproto:3:3"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("grup_size"));
}

TEST(ConfigLoader, OutOfRangeNamesLocationFieldAndRange) {
  auto c = ParseJobConfig("learner {\n  eps_low: 1.5\n}\n", "r.textproto");
  ASSERT_FALSE(c.ok());
  const std::string msg(c.status().message());
  EXPECT_THAT(msg, HasSubstr("r.textproto:2:3"));
  EXPECT_THAT(msg, HasSubstr("learner.eps_low"));
  EXPECT_THAT(msg, HasSubstr("[0, 1]"));
}

TEST(ConfigLoader, ExclusiveBoundsAndRepeatedMessages) {
  auto c = ParseJobConfig("rollout { temperature: 0 }", "x");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("(0, +inf)"));
  auto d = ParseJobConfig("rewards {\n components { weight: 1 }\n}\n", "y");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("rewards.components[0].name"));
}

TEST(ConfigLoader, BadEnumValueIsReported) {
  auto c = ParseJobConfig("learner { kl_estimator: K7 }", "e.textproto");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("e.textproto:1:"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("K7"));
}

TEST(ConfigLoader, OverridesSetScalarsEnumsListsAndElements) {
  JobConfig c;
  c.mutable_rewards()->add_components()->set_name("verifier");
  ASSERT_OK(ApplyOverride("learner.eps_high=0.28", &c));
  ASSERT_OK(ApplyOverride("learner.kl_estimator=K2", &c));
  ASSERT_OK(ApplyOverride("envs.categories=a,b,c", &c));
  ASSERT_OK(ApplyOverride("rewards.components[0].weight=0.5", &c));
  ASSERT_OK(ApplyOverride("name=hello world", &c));
  ASSERT_OK(ApplyOverride("rewards.components={name: \"format\" weight: 0}", &c));
  EXPECT_DOUBLE_EQ(c.learner().eps_high(), 0.28);
  EXPECT_EQ(c.learner().kl_estimator(), LearnerConfig::K2);
  EXPECT_THAT(c.envs().categories(), ::testing::ElementsAre("a", "b", "c"));
  EXPECT_DOUBLE_EQ(c.rewards().components(0).weight(), 0.5);
  EXPECT_EQ(c.name(), "hello world");
  ASSERT_EQ(c.rewards().components_size(), 2);
  EXPECT_EQ(c.rewards().components(1).name(), "format");
}

TEST(ConfigLoader, BadOverridesNameTheProblem) {
  JobConfig c;
  auto s = ApplyOverride("learner.epsilon=1", &c);
  EXPECT_THAT(std::string(s.message()), HasSubstr("has no field 'epsilon'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("--set learner.epsilon=1"));
  s = ApplyOverride("learner.kl_estimator=K9", &c);
  EXPECT_THAT(std::string(s.message()), HasSubstr("UNBIASED_K3"));
  s = ApplyOverride("learner.lr", &c);
  EXPECT_THAT(std::string(s.message()), HasSubstr("path.to.field=value"));
  s = ApplyOverride("rewards.components[3].weight=1", &c);
  EXPECT_THAT(std::string(s.message()), HasSubstr("repeated with 0 elements"));
  s = ApplyOverride("seed.x=1", &c);
  EXPECT_THAT(std::string(s.message()), HasSubstr("not a message"));
}

TEST(ConfigLoader, PresetFillsOnlyUnsetFields) {
  ModelConfig m;
  m.set_preset("small");
  m.set_index_topk(128);
  ASSERT_OK(ApplyModelPreset(&m));
  EXPECT_EQ(m.d_model(), 1024);
  EXPECT_EQ(m.n_routed_experts(), 16);
  EXPECT_EQ(m.index_topk(), 128);
  ModelConfig bad;
  bad.set_preset("huge");
  EXPECT_EQ(ApplyModelPreset(&bad).code(), absl::StatusCode::kNotFound);
}

TEST(ConfigLoader, CrossFieldRules) {
  JobConfig c;
  c.mutable_model()->set_qk_rope_head_dim(15);
  c.mutable_model()->set_n_routed_experts(4);
  c.mutable_model()->set_num_experts_per_tok(6);
  auto s = ValidateJobConfig(c, "origin");
  EXPECT_THAT(std::string(s.message()), HasSubstr("qk_rope_head_dim must be even"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("num_experts_per_tok"));
  EXPECT_OK(ValidateJobConfig(JobConfig(), "defaults"));
}

TEST(ConfigLoader, MaterializedDefaultsShowEveryField) {
  JobConfig c = WithDefaultsMaterialized(JobConfig());
  EXPECT_TRUE(c.learner().has_eps_low());
  EXPECT_TRUE(c.model().has_index_topk());
  EXPECT_EQ(c.rollout().group_size(), 8);
}

TEST(ConfigLoader, LoadsShippedConfigsAndAppliesOverridesInOrder) {
  const std::string path = std::string(DSARL_SOURCE_DIR) + "/configs/quickstart.textproto";
  ASSERT_OK_AND_ASSIGN(JobConfig c,
                       LoadJobConfig(path, {"rollout.group_size=4", "rollout.group_size=6"}));
  EXPECT_EQ(c.rollout().group_size(), 6);
  auto bad = LoadJobConfig(path, {"rollout.group_size=1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("rollout.group_size"));
  EXPECT_EQ(LoadJobConfig("/nonexistent/x.textproto", {}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ConfigLoader, RefusesNonFiniteNumbersFromFileAndOverrides) {
  auto parsed = ParseJobConfig("learner {\n  lr: inf\n}\n", "x.textproto");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()),
              HasSubstr("x.textproto:2:3: learner.lr: inf is not a finite number"));
  const std::string path = std::string(DSARL_SOURCE_DIR) + "/configs/quickstart.textproto";
  for (const char* o : {"learner.lr=1e999", "learner.eps_high=inf", "learner.kl_coef=-inf",
                        "rollout.temperature=nan"}) {
    auto c = LoadJobConfig(path, {o});
    ASSERT_FALSE(c.ok()) << o;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(absl::StrCat("--set ", o))) << o;
  }
}

TEST(ConfigLoader, BoundsIntegersExactlyAndCapsSizes) {
  const std::string path = std::string(DSARL_SOURCE_DIR) + "/configs/quickstart.textproto";
  auto c = LoadJobConfig(path, {"rollout.group_size=2000000000"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("rollout.group_size: 2000000000 is out of range [2, 65536]"));
  EXPECT_FALSE(LoadJobConfig(path, {"envs.heldout_fraction=1"}).ok());
  EXPECT_FALSE(LoadJobConfig(path, {"output_dir="}).ok());
}

TEST(ConfigLoader, LocationsNameFileFieldsAndOverrides) {
  const std::string path = ::testing::TempDir() + "/loc.textproto";
  std::ofstream(path) << "name: \"x\"\nrewards {\n  components { name: \"verifier\" }\n}\n"
                         "envs { categories: \"a\" }\n";
  ASSERT_OK_AND_ASSIGN(LoadedJobConfig job,
                       LoadJobConfigWithLocations(path, {"rollout.max_batch=8"}));
  EXPECT_EQ(job.locations.Of("rewards.components[0].name"), path + ":3:16");
  EXPECT_EQ(job.locations.Of("rewards.components[0].weight"), path + ":3:3");  // the element
  EXPECT_EQ(job.locations.Of("rollout.max_batch"), "--set rollout.max_batch=8");
  EXPECT_EQ(job.locations.Of("learner.lr"), path + " (after --set overrides)");
  // An override that replaces a list drops the file's locations inside it.
  ASSERT_OK_AND_ASSIGN(job, LoadJobConfigWithLocations(path, {"envs.categories=b,c"}));
  EXPECT_EQ(job.locations.Of("envs.categories[0]"), "--set envs.categories=b,c");
}

TEST(ConfigLoader, RefusesFilesBeyondTheSizeLimitAndDevices) {
  auto zero = LoadJobConfig("/dev/zero", {});
  ASSERT_FALSE(zero.ok());
  EXPECT_THAT(std::string(zero.status().message()), HasSubstr("larger than the limit"));
  const std::string big = ::testing::TempDir() + "/big.textproto";
  {
    std::ofstream out(big);
    const std::string line(1 << 20, ' ');
    for (int i = 0; i < 17; ++i) out << line;
  }
  EXPECT_THAT(std::string(LoadJobConfig(big, {}).status().message()),
              HasSubstr("larger than the limit of 16 MiB"));
  EXPECT_EQ(LoadJobConfig(::testing::TempDir(), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dsarl::proto
