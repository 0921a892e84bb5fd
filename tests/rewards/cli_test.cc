// `dsarl rewards test` end to end: the examples, a trajectory exported from a store whose tokens
// are rendered by the real chat format (decoded back by the CLI), infrastructure errors (a plugin
// that exits inside a call among them) and file errors.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "model/chat_format.h"
#include "proto/json_proto.h"
#include "tests/prerequisite.h"
#include "tests/run_shell.h"
#include "tests/status_matchers.h"

namespace dsarl::rewards {
namespace {

// Runs `args` with the dsarl binary; returns the exit status and the output (stdout + stderr).
int Dsarl(const std::string& args, std::string* out) {
  return dsarl::testing::Shell(absl::StrCat(std::getenv("DSARL_BIN"), " ", args), out);
}

class RewardsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("DSARL_BIN");
    DSARL_REQUIRE(bin != nullptr && std::filesystem::exists(bin),
                  "the dsarl binary (DSARL_BIN, set by ctest; build the dsarl target)");
    char tmpl[] = "/tmp/dsarl-rewards-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

const std::string kExamples = std::string(DSARL_SOURCE_DIR) + "/examples/rewards/";

TEST_F(RewardsCliTest, ScoresTheExamples) {
  std::string out;
  ASSERT_EQ(Dsarl(absl::StrCat("rewards test --config ", kExamples, "rewards.textproto",
                               " --trajectories ", kExamples, "trajectories.jsonl"),
                  &out),
            0)
      << out;
  EXPECT_NE(out.find("6 trajectories in 2 groups"), std::string::npos) << out;
  EXPECT_NE(out.find("gated: format = 0 < 1"), std::string::npos) << out;
  EXPECT_NE(out.find("(6 scored, 2 gated, 0 infra errors)"), std::string::npos) << out;
  EXPECT_NE(out.find("numeric_match          0.5           4/6"), std::string::npos) << out;
}

// A tool-using episode as the rollout would store it: rendered to tokens by the chat format.
proto::Trajectory RenderedEpisode(const std::string& answer) {
  model::Conversation conv;
  conv.system = "You are careful.";
  conv.messages.push_back(Message::User("What is 6 * 7?"));
  model::RenderedTokens seq = *model::RenderForGeneration(conv);
  ToolCall call{.name = "calc", .arguments = {{"expr", "6*7"}}};
  seq.Append(model::RenderAssistantOutput(Message::Assistant("use calc", "", {call})).ids, 1);
  EXPECT_OK(model::AppendToolResults({"42"}, &seq));
  seq.Append(model::RenderAssistantOutput(Message::Assistant("so", answer)).ids, 1);
  proto::Trajectory t;
  t.set_prompt_id(3);
  for (size_t i = 0; i < seq.size(); ++i) {
    t.add_token_ids(seq.ids[i]);
    t.add_loss_mask(seq.loss_mask[i]);
  }
  auto* c = t.add_reward_components();
  c->set_name("verifier");
  c->set_value(answer == "42" ? 1 : 0);
  c->set_applicable(true);
  t.set_reward(c->value());
  t.set_finish_reason(proto::FINISH_EOS);
  return t;
}

// One row as `dsarl store export --cf trajectories` writes it.
std::string ExportRow(const proto::Trajectory& t) {
  Json row = Json::Object();
  row.Set("run_id", Json::Int(1));
  row.Set("step", Json::Int(0));
  row.Set("attempt", Json::Int(0));
  row.Set("worker_id", Json::String("w"));
  const Json members = ProtoToJson(t);
  for (const auto& [name, value] : members.object()) row.Set(name, value);
  return row.Dump() + "\n";
}

TEST_F(RewardsCliTest, DecodesStoreRowsWithTheChatFormat) {
  proto::Prompt prompt;
  prompt.set_id(3);
  prompt.set_user("What is 6 * 7?");
  prompt.add_tools()->set_name("calc");
  (*prompt.mutable_reference())["answer"] = "42";
  const std::string prompts = Write("prompts.jsonl", ProtoToJson(prompt).Dump() + "\n");
  proto::Trajectory bad = RenderedEpisode("41");
  bad.set_sample_index(1);
  const std::string traj = Write("t.jsonl", ExportRow(RenderedEpisode("42")) + ExportRow(bad));
  const std::string config = Write("c.textproto", R"pb(
    rewards {
      components { name: "verifier" }
      components { name: "exact_match" weight: 0.5 }
      components { name: "format" weight: 0 gate: true }
      components { name: "tool_calls" weight: 0 }
    })pb");
  std::string out;
  ASSERT_EQ(Dsarl(absl::StrCat("rewards test --config ", config, " --trajectories ", traj,
                               " --prompts ", prompts, " --details"),
                  &out),
            0)
      << out;
  EXPECT_NE(out.find("2 trajectories in 1 groups"), std::string::npos) << out;
  EXPECT_NE(out.find("exact_match: matched \"42\""), std::string::npos) << out;
  EXPECT_NE(out.find("tool_calls: 1 call(s), 0 error(s)"), std::string::npos) << out;
  EXPECT_NE(out.find("format: well formed"), std::string::npos) << out;
  EXPECT_NE(out.find("(2 scored, 0 gated, 0 infra errors)"), std::string::npos) << out;
}

TEST_F(RewardsCliTest, InfraErrorsExitThree) {
  const std::string traj = Write("t.jsonl", R"({"final_answer": "42"})"
                                            "\n");
  const std::string config =
      Write("c.textproto", R"pb(rewards { components { name: "verifier" } })pb");
  std::string out;
  EXPECT_EQ(Dsarl(absl::StrCat("rewards test --config ", config, " --trajectories ", traj), &out),
            3)
      << out;
  EXPECT_NE(out.find("INFRA ERROR"), std::string::npos) << out;
  EXPECT_NE(out.find("no verdict from the environment"), std::string::npos) << out;
}

// A reward plugin that calls exit(0) inside score: the run is an infrastructure failure (3) with
// the step it died in, not a clean exit 0.
TEST_F(RewardsCliTest, APluginThatExitsInsideACallExitsThree) {
  const std::string traj = Write("t.jsonl", R"({"final_answer": "42"})"
                                            "\n");
  const std::string config = Write(
      "c.textproto", absl::StrReplaceAll(R"pb(rewards {
                                                components {
                                                  name: "p"
                                                  params { key: "type" value: "plugin" }
                                                  params { key: "plugin_path" value: "PLUGIN" }
                                                  params { key: "exit" value: "1" }
                                                }
                                              })pb",
                                         {{"PLUGIN", EXIT_PLUGIN}}));
  std::string out;
  EXPECT_EQ(Dsarl(absl::StrCat("rewards test --config ", config, " --trajectories ", traj), &out),
            3)
      << out;
  EXPECT_NE(out.find("ended with exit status 0 during the scoring of group 1"), std::string::npos)
      << out;
}

TEST_F(RewardsCliTest, FileAndConfigErrorsNameTheirSource) {
  const std::string config =
      Write("c.textproto", R"pb(rewards { components { name: "format" } })pb");
  const std::string traj = Write("t.jsonl", "{}\n{\"final_answr\": \"x\"}\n");
  std::string out;
  EXPECT_NE(Dsarl(absl::StrCat("rewards test --config ", config, " --trajectories ", traj), &out),
            0);
  EXPECT_NE(out.find("t.jsonl:2: "), std::string::npos) << out;
  const std::string typo =
      Write("typo.textproto", R"pb(rewards { components { name: "formt" } })pb");
  EXPECT_NE(Dsarl(absl::StrCat("rewards test --config ", typo, " --trajectories ", traj), &out), 0);
  EXPECT_NE(out.find("no reward function named 'formt'"), std::string::npos) << out;
}

}  // namespace
}  // namespace dsarl::rewards
