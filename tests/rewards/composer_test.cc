// Composition arithmetic: weights, logged-only components, gates, not-applicable components,
// aliases, and failures turned into infrastructure errors.
#include "rewards/composer.h"

#include <atomic>
#include <cmath>
#include <thread>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/rewards/test_util.h"

namespace dsarl::rewards {
namespace {

using testing::Answer;
using testing::Task;

// Emits the components its params describe: value=V (own value), na=1 (not applicable),
// sub=V (a sub-component "sub"), fail=1 (a Status error), nan=1, count=N (N results per group).
class Fake : public RewardFunction {
 public:
  explicit Fake(const Params& p) : p_(p.values()) {}
  absl::StatusOr<std::vector<Components>> ScoreGroup(
      const proto::Prompt&, absl::Span<const Sample> samples) const override {
    if (p_.count("fail")) return absl::UnavailableError("judge down");
    size_t n = samples.size();
    if (p_.count("count")) n = std::stoul(p_.at("count"));
    std::vector<Components> out(n);
    for (size_t i = 0; i < n; ++i) {
      if (p_.count("na")) {
        out[i].push_back(Component::NotApplicable("n/a"));
      } else if (p_.count("nan") && i == 0) {
        out[i].push_back(Component::Value(std::nan("")));
      } else {
        out[i].push_back(Component::Value(std::stod(p_.count("value") ? p_.at("value") : "0")));
      }
      if (p_.count("sub")) out[i].push_back(Component::Value(std::stod(p_.at("sub")), "", "sub"));
    }
    return out;
  }

 private:
  std::map<std::string, std::string> p_;
};

Registry TestRegistry() {
  Registry r = BuiltinRegistry();
  EXPECT_OK(r.Register("fake", "test double", [](const Params& p) {
    for (const auto& [k, v] : p.values()) p.String(k);  // accept every key
    return absl::StatusOr<std::unique_ptr<RewardFunction>>(std::make_unique<Fake>(p));
  }));
  return r;
}

proto::RewardsConfig Config(const std::string& text) {
  proto::RewardsConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
  return config;
}

std::unique_ptr<Composer> Make(const std::string& text) {
  absl::StatusOr<std::unique_ptr<Composer>> c = Composer::Create(Config(text), TestRegistry());
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

absl::Status CreateError(const std::string& text) {
  return Composer::Create(Config(text), TestRegistry()).status();
}

const proto::RewardComponent* Find(const ScoredSample& s, const std::string& name) {
  for (const auto& c : s.components) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

TEST(ComposerTest, WeightedSumOfApplicableComponents) {
  auto composer = Make(R"pb(
    components { name: "verifier" weight: 1 }
    components { name: "format" weight: 0.5 }
    components {
      name: "length_penalty"
      weight: 2
      params { key: "max_tokens" value: "100" }
      params { key: "buffer_tokens" value: "20" }
    }
    components { name: "exact_match" weight: 0 }
  )pb");
  ASSERT_NE(composer, nullptr);
  Sample s = Answer("42", 0.75);
  s.num_generated_tokens = 90;  // penalty -0.5
  const std::vector<ScoredSample> r = composer->ScoreGroup(Task({{"answer", "42"}}), {s});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].infra_error, "");
  EXPECT_FALSE(r[0].gated);
  // 1 * 0.75 + 0.5 * 1 + 2 * -0.5; exact_match (1) is logged only.
  EXPECT_DOUBLE_EQ(r[0].reward, 0.25);
  std::vector<std::string> names;
  for (const auto& c : r[0].components) names.push_back(c.name());
  EXPECT_EQ(names,
            (std::vector<std::string>{"verifier", "format", "format.think", "format.tool_calls",
                                      "length_penalty", "exact_match"}));
  EXPECT_EQ(Find(r[0], "exact_match")->weight(), 0);
  EXPECT_EQ(Find(r[0], "exact_match")->value(), 1);
  EXPECT_EQ(Find(r[0], "format.think")->weight(), 0);
  EXPECT_EQ(Find(r[0], "format")->weight(), 0.5);
  EXPECT_EQ(composer->entry_names(),
            (std::vector<std::string>{"verifier", "format", "length_penalty", "exact_match"}));
}

TEST(ComposerTest, NotApplicableAddsNothing) {
  auto composer = Make(R"pb(
    components {
      name: "a"
      weight: 1
      params { key: "type" value: "fake" }
      params { key: "value" value: "0.5" }
    }
    components {
      name: "b"
      weight: 3
      params { key: "type" value: "fake" }
      params { key: "na" value: "1" }
    }
  )pb");
  const auto r = composer->ScoreGroup(Task(), {Answer("x")});
  EXPECT_DOUBLE_EQ(r[0].reward, 0.5);
  EXPECT_FALSE(Find(r[0], "b")->applicable());
  EXPECT_EQ(Find(r[0], "b")->weight(), 3);
}

TEST(ComposerTest, GateClosesBelowThreshold) {
  const std::string config = R"pb(
    components { name: "verifier" weight: 1 }
    components { name: "format" weight: 0 gate: true gate_threshold: 1 }
  )pb";
  auto composer = Make(config);
  Sample good = Answer("42", 1);
  Sample broken = Answer("42", 1);
  broken.messages.back().raw_text = "no closing tag";
  const auto r = composer->ScoreGroup(Task(), {good, broken});
  EXPECT_DOUBLE_EQ(r[0].reward, 1);
  EXPECT_FALSE(r[0].gated);
  EXPECT_DOUBLE_EQ(r[1].reward, 0);
  EXPECT_TRUE(r[1].gated);
  EXPECT_EQ(r[1].gate_details, "format = 0 < 1");
  EXPECT_EQ(Find(r[1], "verifier")->value(), 1);  // still logged
  EXPECT_EQ(r[1].infra_error, "");
}

TEST(ComposerTest, GateAtThresholdIsOpenAndNotApplicableGateDoesNotClose) {
  auto composer = Make(R"pb(
    components {
      name: "v"
      weight: 1
      params { key: "type" value: "fake" }
      params { key: "value" value: "2" }
    }
    components {
      name: "g"
      weight: 0
      gate: true
      gate_threshold: 0.5
      params { key: "type" value: "fake" }
      params { key: "value" value: "0.5" }
    }
    components {
      name: "n"
      weight: 0
      gate: true
      gate_threshold: 1
      params { key: "type" value: "fake" }
      params { key: "na" value: "1" }
    }
  )pb");
  const auto r = composer->ScoreGroup(Task(), {Answer("x")});
  EXPECT_FALSE(r[0].gated);
  EXPECT_DOUBLE_EQ(r[0].reward, 2);
}

TEST(ComposerTest, NegativeWeightsAndSeveralSamples) {
  auto composer = Make(R"pb(
    components { name: "verifier" weight: 2 }
    components {
      name: "v"
      weight: -0.5
      params { key: "type" value: "fake" }
      params { key: "value" value: "1" }
    }
  )pb");
  const auto r = composer->ScoreGroup(Task(), {Answer("a", 1), Answer("b", 0), Answer("c", 0.5)});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_DOUBLE_EQ(r[0].reward, 1.5);
  EXPECT_DOUBLE_EQ(r[1].reward, -0.5);
  EXPECT_DOUBLE_EQ(r[2].reward, 0.5);
}

TEST(ComposerTest, FailureIsAnInfraErrorOnTheWholeGroupNeverAZero) {
  auto composer = Make(R"pb(
    components { name: "verifier" weight: 1 }
    components {
      name: "judge"
      weight: 1
      params { key: "type" value: "fake" }
      params { key: "fail" value: "1" }
    }
  )pb");
  const auto r = composer->ScoreGroup(Task(), {Answer("a", 1), Answer("b", 1)});
  for (const ScoredSample& s : r) {
    EXPECT_NE(s.infra_error.find("reward 'judge': judge down"), std::string::npos) << s.infra_error;
    EXPECT_EQ(s.reward, 0);
    EXPECT_NE(Find(s, "verifier"), nullptr);  // what did compute is still reported
  }
  proto::Trajectory t;
  t.set_finish_reason(proto::FINISH_EOS);
  ApplyToTrajectory(r[0], &t);
  EXPECT_EQ(t.finish_reason(), proto::FINISH_INFRA_ERROR);
  EXPECT_EQ(t.infra_error(), r[0].infra_error);
  EXPECT_EQ(t.reward_components_size(), 1);
}

TEST(ComposerTest, MissingVerdictIsAnInfraError) {
  auto composer = Make(R"pb(components { name: "verifier" })pb");
  const auto r = composer->ScoreGroup(Task(), {Answer("a")});
  EXPECT_NE(r[0].infra_error.find("no verdict"), std::string::npos) << r[0].infra_error;
}

TEST(ComposerTest, NanMarksOnlyItsSample) {
  auto composer = Make(R"pb(
    components {
      name: "x"
      params { key: "type" value: "fake" }
      params { key: "nan" value: "1" }
    }
  )pb");
  const auto r = composer->ScoreGroup(Task(), {Answer("a"), Answer("b")});
  EXPECT_NE(r[0].infra_error.find("is nan"), std::string::npos) << r[0].infra_error;
  EXPECT_EQ(r[1].infra_error, "");
}

TEST(ComposerTest, WrongResultCountIsAnInfraError) {
  auto composer = Make(R"pb(
    components {
      name: "x"
      params { key: "type" value: "fake" }
      params { key: "count" value: "1" }
    }
  )pb");
  const auto r = composer->ScoreGroup(Task(), {Answer("a"), Answer("b")});
  EXPECT_NE(r[1].infra_error.find("returned 1 result(s) for 2 sample(s)"), std::string::npos);
}

TEST(ComposerTest, AliasWeightsAndGatesASubComponent) {
  auto composer = Make(R"pb(
    components {
      name: "judge"
      weight: 1
      params { key: "type" value: "fake" }
      params { key: "value" value: "0.5" }
      params { key: "sub" value: "0.25" }
    }
    components { name: "judge.sub" weight: 4 }
  )pb");
  auto r = composer->ScoreGroup(Task(), {Answer("a")});
  EXPECT_DOUBLE_EQ(r[0].reward, 0.5 + 4 * 0.25);
  EXPECT_EQ(Find(r[0], "judge.sub")->weight(), 4);
  EXPECT_EQ(r[0].components.size(), 2u);  // the alias does not duplicate the component

  auto gated = Make(R"pb(
    components {
      name: "judge"
      weight: 1
      params { key: "type" value: "fake" }
      params { key: "value" value: "0.5" }
      params { key: "sub" value: "0.25" }
    }
    components { name: "judge.sub" weight: 0 gate: true gate_threshold: 0.3 }
  )pb");
  r = gated->ScoreGroup(Task(), {Answer("a")});
  EXPECT_TRUE(r[0].gated);
  EXPECT_EQ(r[0].reward, 0);

  auto missing = Make(R"pb(
    components {
      name: "judge"
      params { key: "type" value: "fake" }
    }
    components { name: "judge.other" weight: 1 }
  )pb");
  r = missing->ScoreGroup(Task(), {Answer("a")});
  EXPECT_FALSE(Find(r[0], "judge.other")->applicable());
}

TEST(ComposerTest, TypeLetsOneFunctionServeTwoEntries) {
  auto composer = Make(R"pb(
    components {
      name: "short"
      weight: 1
      params { key: "type" value: "length_penalty" }
      params { key: "max_tokens" value: "10" }
    }
    components {
      name: "long"
      weight: 1
      params { key: "type" value: "length_penalty" }
      params { key: "max_tokens" value: "1000" }
    }
  )pb");
  Sample s = Answer("a");
  s.num_generated_tokens = 50;
  const auto r = composer->ScoreGroup(Task(), {s});
  EXPECT_EQ(Find(r[0], "short")->value(), -1);
  EXPECT_EQ(Find(r[0], "long")->value(), 0);
}

TEST(ComposerTest, ConfigErrors) {
  EXPECT_EQ(CreateError(R"pb(components { name: "format" }
                             components { name: "format" })pb")
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError(R"pb(components { name: "nonesuch" })pb").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CreateError(R"pb(components { name: "x.y" })pb").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError(R"pb(components { name: "format" }
                             components {
                               name: "format.think"
                               params { key: "k" value: "v" }
                             })pb")
                .code(),
            absl::StatusCode::kInvalidArgument);
  const absl::Status typo = CreateError(R"pb(components {
                                               name: "format"
                                               params { key: "thnk" value: "false" }
                                             })pb");
  EXPECT_EQ(typo.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(typo.message().find("reward 'format': unknown param(s) thnk"), absl::string_view::npos)
      << typo;
  EXPECT_EQ(CreateError(R"pb(components {
                               name: "format"
                               params { key: "primary" value: "x" }
                             })pb")
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError(R"pb(components { name: "remote" })pb").code(),
            absl::StatusCode::kInvalidArgument);  // no address anywhere
  EXPECT_EQ(CreateError(R"pb(components {
                               name: "j"
                               params { key: "type" value: "remote" }
                               params { key: "address" value: "127.0.0.1:1" }
                               params { key: "temperature" value: "0" }
                             })pb")
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError(R"pb(components {
                               name: "p"
                               params { key: "type" value: "plugin" }
                             })pb")
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateError(R"pb(components { name: "format" weight: inf })pb").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ComposerTest, ConcurrentScoringIsSafe) {
  auto composer = Make(R"pb(
    components { name: "verifier" weight: 1 }
    components { name: "format" weight: 1 }
  )pb");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        const auto r = composer->ScoreGroup(Task(), {Answer("a", 1), Answer("b", 0)});
        if (r[0].reward != 2 || r[1].reward != 1) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace dsarl::rewards
