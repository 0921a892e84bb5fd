// Reading saved trajectories for `dsarl rewards test`: plain rows, rows exported from a real store
// by `dsarl store export`, grouping, errors with file:line; and the per-component summary.
#include "rewards/offline.h"

#include <filesystem>
#include <sstream>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "rewards/composer.h"
#include "rewards/summary.h"
#include "store/export.h"
#include "store/store.h"
#include "tests/rewards/test_util.h"

namespace dsarl::rewards {
namespace {

std::vector<OfflineGroup> Read(const std::string& text, const ReadOptions& options = {}) {
  std::istringstream in(text);
  std::vector<OfflineGroup> groups;
  const absl::Status s = ReadTrajectoriesJsonl(in, "t.jsonl", options, [&](OfflineGroup g) {
    groups.push_back(std::move(g));
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return groups;
}

absl::Status ReadError(const std::string& text, const ReadOptions& options = {}) {
  std::istringstream in(text);
  return ReadTrajectoriesJsonl(in, "t.jsonl", options,
                               [](OfflineGroup) { return absl::OkStatus(); });
}

TEST(OfflineTest, PlainRows) {
  const std::string text =
      R"({"prompt": {"id": 7, "user": "6*7?", "reference": {"answer": "42"}}, "messages": [{"role": "user", "content": "6*7?"}, {"role": "assistant", "reasoning": "mult", "content": "", "tool_calls": [{"name": "calc", "arguments": {"y": "7", "x": "6"}}], "num_tokens": 9}, {"role": "tool", "content": "42", "is_error": false}, {"role": "assistant", "text": "so</think>42<eos>", "reasoning": "so", "content": "42", "num_tokens": 5}], "finish_reason": "FINISH_EOS", "verdict": {"score": 1, "details": "ok"}, "reward": 0.5}

{"prompt": {"id": 7}, "final_answer": "41", "num_generated_tokens": 3}
{"group": "g", "final_answer": "x"}
{"final_answer": "y"}
{"final_answer": "z"}
)";
  const std::vector<OfflineGroup> groups = Read(text);
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[0].key, "prompt 7");
  EXPECT_EQ(groups[0].task.reference().at("answer"), "42");
  ASSERT_EQ(groups[0].trajectories.size(), 2u);
  const OfflineTrajectory& t = groups[0].trajectories[0];
  EXPECT_EQ(t.line, 1);
  EXPECT_EQ(t.stored_reward, 0.5);
  const Sample& s = t.sample;
  ASSERT_EQ(s.messages.size(), 4u);
  EXPECT_EQ(s.messages[1].tool_calls[0].name, "calc");
  EXPECT_EQ(*s.messages[1].tool_calls[0].Find("x"), "6");
  EXPECT_EQ(s.messages[2].role, Role::kTool);
  EXPECT_EQ(s.messages[3].raw_text, "so</think>42<eos>");
  EXPECT_EQ(s.final_answer, "42");        // the last assistant content
  EXPECT_EQ(s.num_generated_tokens, 14);  // sum of num_tokens
  EXPECT_EQ(s.verdict->score, 1);
  EXPECT_EQ(s.finish_reason, proto::FINISH_EOS);
  EXPECT_EQ(groups[0].trajectories[1].line, 3);  // the blank line is skipped, still counted
  EXPECT_EQ(groups[0].trajectories[1].sample.num_generated_tokens, 3);
  EXPECT_FALSE(groups[0].trajectories[1].sample.verdict.has_value());
  EXPECT_EQ(groups[1].key, "g");
  EXPECT_EQ(groups[2].key, "line 5");  // no group, no prompt id: alone
  EXPECT_EQ(groups[3].key, "line 6");
}

TEST(OfflineTest, TextOnlyAssistantMessagesGoThroughTheParser) {
  ReadOptions options;
  options.parse_text = [](Message* m) {
    m->reasoning = m->raw_text.substr(0, m->raw_text.find("</think>"));
    m->content = "parsed";
  };
  const auto groups =
      Read(R"({"messages": [{"role": "assistant", "text": "hm</think>x"}]})", options);
  EXPECT_EQ(groups[0].trajectories[0].sample.messages[0].reasoning, "hm");
  EXPECT_EQ(groups[0].trajectories[0].sample.final_answer, "parsed");
}

TEST(OfflineTest, PromptsFileFillsTasksById) {
  std::istringstream prompts_in(
      R"({"id": 9, "user": "q", "reference": {"answer": "a"}, "tools": [], "heldout": false})"
      "\n");
  ASSERT_OK_AND_ASSIGN(auto prompts, ReadPromptsJsonl(prompts_in, "p.jsonl"));
  ReadOptions options;
  options.prompts = prompts;
  const auto groups = Read(R"({"prompt_id": 9, "final_answer": "a"})", options);
  EXPECT_EQ(groups[0].task.reference().at("answer"), "a");
  const auto unknown = Read(R"({"prompt_id": 10, "final_answer": "a"})", options);
  EXPECT_EQ(unknown[0].task.id(), 10u);
}

TEST(OfflineTest, ErrorsNameTheLine) {
  for (const std::string& bad : {std::string("{\"final_answer\": \"a\"}\nnot json"),
                                 std::string("{}\n{\"final_answr\": \"a\"}"),
                                 std::string("{}\n{\"messages\": [{\"role\": \"robot\"}]}"),
                                 std::string("{}\n{\"messages\": [{\"content\": \"no role\"}]}"),
                                 std::string("{}\n{\"final_answer\": 42}"),
                                 std::string("{}\n{\"finish_reason\": \"FINISH_BORED\"}"),
                                 std::string("{}\n{\"verdict\": {\"details\": \"no score\"}}"),
                                 std::string("{}\n{\"num_generated_tokens\": 1.5}"),
                                 std::string("{}\n{\"prompt\": {\"idd\": 1}}"),
                                 std::string("{}\n{\"token_ids\": [1], \"loss_mask\": [1]}")}) {
    const absl::Status s = ReadError(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message().rfind("t.jsonl:2: ", 0), 0u) << s;
  }
}

// A stand-in for the CLI's model-based decoder: ids are bytes; each run of loss-mask-1 tokens is
// one assistant turn written "reasoning|content".
absl::StatusOr<DecodedEpisode> FakeDecode(const proto::Trajectory& t) {
  DecodedEpisode e{.system = "sys", .user = "question"};
  std::string run;
  auto flush = [&] {
    if (run.empty()) return;
    Message m{.role = Role::kAssistant, .raw_text = run};
    m.reasoning = run.substr(0, run.find('|'));
    m.content = run.substr(run.find('|') + 1);
    e.turns.push_back(std::move(m));
    run.clear();
  };
  for (int i = 0; i < t.token_ids_size(); ++i) {
    if (t.loss_mask(i) == 1) {
      run.push_back(static_cast<char>(t.token_ids(i)));
    } else {
      flush();
    }
  }
  flush();
  return e;
}

proto::Trajectory StoredTrajectory(uint64_t prompt_id, int index, const std::string& output,
                                   double verdict) {
  proto::Trajectory t;
  t.set_prompt_id(prompt_id);
  t.set_sample_index(index);
  for (char c : std::string("prompt")) {
    t.add_token_ids(c);
    t.add_loss_mask(0);
    t.add_behaviour_logprobs(0);
    t.add_policy_versions(0);
  }
  for (char c : output) {
    t.add_token_ids(c);
    t.add_loss_mask(1);
    t.add_behaviour_logprobs(-0.5f);
    t.add_policy_versions(3);
  }
  auto* c = t.add_reward_components();
  c->set_name("verifier");
  c->set_value(verdict);
  c->set_weight(1);
  c->set_applicable(true);
  c->set_details("stored verdict");
  t.set_reward(verdict);
  t.set_finish_reason(proto::FINISH_EOS);
  return t;
}

TEST(OfflineTest, ReadsWhatStoreExportWrites) {
  char tmpl[] = "/tmp/dsarl-rewards-test-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::string trajectories, prompts;
  {
    store::OpenOptions open;
    open.create_if_missing = true;
    ASSERT_OK_AND_ASSIGN(auto st, store::Store::Open(dir + "/store", open));
    proto::Prompt p;
    p.set_id(5);
    p.set_user("question");
    (*p.mutable_reference())["answer"] = "42";
    ASSERT_OK(st->PutPrompt(p));
    for (uint64_t prompt : {5, 6}) {
      proto::Group g;
      g.set_prompt_id(prompt);
      g.set_run_id(1);
      g.set_step(3);
      g.set_worker_id("w0");
      *g.add_trajectories() = StoredTrajectory(prompt, 0, "think|42", 1);
      *g.add_trajectories() = StoredTrajectory(prompt, 1, "hmm|41", 0);
      ASSERT_OK(st->AppendGroup(g).status());
    }
    for (const char* table : {"trajectories", "prompts"}) {
      std::string& out = std::string(table) == "prompts" ? prompts : trajectories;
      ASSERT_OK(store::ExportJsonl(*st, {.table = table}, [&](const std::string& line) {
                  absl::StrAppend(&out, line, "\n");
                  return absl::OkStatus();
                }).status());
    }
  }
  std::filesystem::remove_all(dir);

  std::istringstream prompts_in(prompts);
  ReadOptions options;
  options.decode_tokens = FakeDecode;
  ASSERT_OK_AND_ASSIGN(options.prompts, ReadPromptsJsonl(prompts_in, "prompts.jsonl"));
  const std::vector<OfflineGroup> groups = Read(trajectories, options);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].key, "run 1 step 3 prompt_id 5 attempt 0");
  EXPECT_EQ(groups[0].task.reference().at("answer"), "42");  // from the prompts export
  EXPECT_EQ(groups[1].task.user(), "question");              // prompt 6: decoded from tokens
  ASSERT_EQ(groups[0].trajectories.size(), 2u);
  const OfflineTrajectory& t = groups[0].trajectories[1];
  EXPECT_EQ(t.sample_index, 1);
  EXPECT_EQ(t.stored_reward, 0);
  const Sample& s = t.sample;
  ASSERT_EQ(s.messages.size(), 3u);  // system, user, one assistant turn
  EXPECT_EQ(s.messages[0].content, "sys");
  EXPECT_EQ(s.messages[2].reasoning, "hmm");
  EXPECT_EQ(s.final_answer, "41");
  EXPECT_EQ(s.num_generated_tokens, 6);
  ASSERT_TRUE(s.verdict.has_value());
  EXPECT_EQ(s.verdict->score, 0);
  EXPECT_EQ(s.verdict->details, "stored verdict");

  // Re-scored offline with a new reward, without training.
  proto::RewardsConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        components { name: "verifier" weight: 1 }
        components { name: "numeric_match" weight: 0.5 }
      )pb",
      &config));
  ASSERT_OK_AND_ASSIGN(auto composer, Composer::Create(config, BuiltinRegistry()));
  std::vector<Sample> samples;
  for (const auto& tr : groups[0].trajectories) samples.push_back(tr.sample);
  const auto r = composer->ScoreGroup(groups[0].task, samples);
  EXPECT_DOUBLE_EQ(r[0].reward, 1.5);
  EXPECT_DOUBLE_EQ(r[1].reward, 0);
}

TEST(SummaryTest, StatisticsAndMetrics) {
  Summary summary;
  auto add = [&](std::vector<std::tuple<std::string, double, double, bool>> cs, double reward,
                 bool gated = false, std::string error = "") {
    ScoredSample s;
    s.reward = reward;
    s.gated = gated;
    s.infra_error = error;
    for (auto& [name, value, weight, applicable] : cs) {
      proto::RewardComponent c;
      c.set_name(name);
      c.set_value(value);
      c.set_weight(weight);
      c.set_applicable(applicable);
      s.components.push_back(c);
    }
    summary.Add(s);
  };
  add({{"verifier", 1, 1, true}, {"format", 1, 0, true}}, 1);
  add({{"verifier", 0, 1, true}, {"format", 0, 0, false}}, 0, /*gated=*/true);
  add({{"verifier", 0.5, 1, true}}, 0.5);
  add({}, 0, false, "judge down");
  EXPECT_EQ(summary.trajectories(), 4);
  EXPECT_EQ(summary.infra_errors(), 1);
  EXPECT_EQ(summary.gated(), 1);
  EXPECT_DOUBLE_EQ(summary.reward_mean(), 0.5);
  const auto rows = summary.Rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].name, "verifier");
  EXPECT_DOUBLE_EQ(rows[0].mean(), 0.5);
  EXPECT_EQ(rows[0].min, 0);
  EXPECT_EQ(rows[0].max, 1);
  EXPECT_EQ(rows[1].applicable, 1);
  EXPECT_EQ(rows[1].seen, 2);
  const auto m = summary.Metrics();
  EXPECT_DOUBLE_EQ(m.at("reward/verifier/mean"), 0.5);
  EXPECT_DOUBLE_EQ(m.at("reward/format/applicable_fraction"), 0.5);
  EXPECT_DOUBLE_EQ(m.at("reward/infra_error_fraction"), 0.25);
  const std::string table = summary.FormatTable();
  EXPECT_NE(table.find("verifier"), std::string::npos) << table;
  EXPECT_NE(table.find("3 scored, 1 gated, 1 infra errors"), std::string::npos) << table;
}

}  // namespace
}  // namespace dsarl::rewards
