// The agent loop without a model: a scripted policy that writes each category's reference
// solution (rendered by the chat format exactly as the model would write it) solves the task
// through the loop; a wrong answer scores below 1; a malformed tool call gets an error observation
// and the episode goes on; reasoning stays in the token sequence across tool calls.
#include "rollout/agent_loop.h"

#include "envs/synthesis.h"
#include "gtest/gtest.h"
#include "model/chat_format.h"
#include "model/tokenizer.h"
#include "proto/chat_proto.h"
#include "rewards/builtins.h"
#include "tests/status_matchers.h"

namespace dsarl::rollout {
namespace {

// Plays `turns` (assistant texts after "<think>") through an AgentEpisode the way the engine does.
struct Scripted {
  std::unique_ptr<AgentEpisode> episode;
  EpisodeRecord record;
  std::vector<std::vector<int>> contexts;
};

Scripted Play(const envs::Environment* env, const proto::Prompt& prompt,
              const std::vector<std::string>& turns, int max_turns = 8) {
  Scripted s;
  auto ep = env->Reset(prompt.task_seed(), prompt.difficulty());
  EXPECT_OK(ep.status());
  s.episode = std::make_unique<AgentEpisode>(env, std::move(*ep), prompt, max_turns);
  auto prompt_tokens = PromptTokens(prompt);
  EXPECT_OK(prompt_tokens.status());
  for (int t : *prompt_tokens) {
    s.record.tokens.push_back(t);
    s.record.loss_mask.push_back(0);
  }
  model::Tokenizer tok;
  for (const std::string& turn : turns) {
    TurnEnd end;
    end.first_token = s.record.tokens.size();
    for (int t : tok.EncodeWithSpecials(turn)) {
      s.record.tokens.push_back(t);
      s.record.loss_mask.push_back(1);
      ++s.record.generated;
    }
    auto more = s.episode->OnTurnEnd(s.record, end);
    if (!more.has_value()) break;
    s.contexts.push_back(*more);
    for (int t : *more) {
      s.record.tokens.push_back(t);
      s.record.loss_mask.push_back(0);
    }
  }
  s.episode->OnFinished(s.record, proto::FINISH_EOS);
  return s;
}

// The prompt's stored reference solution as the assistant texts that play it.
std::vector<std::string> SolutionTexts(const proto::Prompt& prompt) {
  std::vector<std::string> texts;
  for (const Message& turn : SolutionMessages(prompt)) {
    texts.push_back(model::AssistantOutputText(turn));
  }
  return texts;
}

class AgentLoopTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AgentLoopTest, ScriptedSolutionSolvesAndWrongAnswerFails) {
  envs::Registry registry;
  envs::RegisterBuiltinCategories(&registry);
  envs::SynthesisOptions so;
  so.categories = {GetParam()};
  so.envs_per_category = 1;
  so.tasks_per_env = 2;
  so.threads = 1;
  ASSERT_OK_AND_ASSIGN(envs::SynthesisResult syn, envs::Synthesize(registry, so));
  ASSERT_FALSE(syn.prompts.empty());
  const proto::Prompt& prompt = syn.prompts.back();
  const proto::EnvSpec* spec = nullptr;
  for (const auto& e : syn.envs) {
    if (e.id() == prompt.env_id()) spec = &e;
  }
  ASSERT_NE(spec, nullptr);
  ASSERT_OK_AND_ASSIGN(auto env, registry.Find(spec->category())->build(*spec));
  std::vector<std::string> turns = SolutionTexts(prompt);
  Scripted good = Play(env.get(), prompt, turns);
  ASSERT_TRUE(good.episode->sample().verdict.has_value()) << good.episode->infra_error();
  EXPECT_EQ(good.episode->sample().verdict->score, 1.0) << good.episode->sample().verdict->details;
  EXPECT_EQ(good.contexts.size(), turns.size() - 1);  // tool results after every round
  // The same rounds with a wrong final answer.
  turns.back() = "</think>certainly not the answer<eos>";
  Scripted bad = Play(env.get(), prompt, turns);
  ASSERT_TRUE(bad.episode->sample().verdict.has_value());
  EXPECT_LT(bad.episode->sample().verdict->score, 1.0);
  // Scored by the composer: the verifier component carries the verdict.
  rewards::Registry rr = rewards::BuiltinRegistry();
  proto::RewardsConfig rc;
  rc.add_components()->set_name("verifier");
  ASSERT_OK_AND_ASSIGN(auto composer, rewards::Composer::Create(rc, rr));
  auto scored = composer->ScoreGroup(prompt, {good.episode->sample(), bad.episode->sample()});
  EXPECT_EQ(scored[0].reward, 1.0);
  EXPECT_LT(scored[1].reward, 1.0);
  proto::Trajectory t = ToTrajectory(*good.episode, scored[0], prompt.id(), 0, 0, 0);
  EXPECT_EQ(t.token_ids_size(), int(good.record.tokens.size()));
  EXPECT_EQ(t.reward(), 1.0);
}

INSTANTIATE_TEST_SUITE_P(Categories, AgentLoopTest,
                         ::testing::Values("arithmetic", "trip_planning", "shop_inventory",
                                           "calendar_scheduling", "library_lookup",
                                           "company_directory", "document_search"));

TEST(AgentLoop, MalformedToolCallGetsAnErrorObservation) {
  envs::Registry registry;
  envs::RegisterBuiltinCategories(&registry);
  envs::SynthesisOptions so;
  so.categories = {"library_lookup"};
  so.envs_per_category = 1;
  so.tasks_per_env = 1;
  so.threads = 1;
  ASSERT_OK_AND_ASSIGN(envs::SynthesisResult syn, envs::Synthesize(registry, so));
  ASSERT_OK_AND_ASSIGN(auto env, registry.Find(syn.envs[0].category())->build(syn.envs[0]));
  const proto::Prompt& prompt = syn.prompts[0];
  std::vector<std::string> turns = {
      "let me look</think><function_calls><invoke name=\"x\"><parameter name=\"a\">1"
      "</invoke></function_calls><eos>"};
  for (std::string& turn : SolutionTexts(prompt)) turns.push_back(std::move(turn));
  Scripted s = Play(env.get(), prompt, turns);
  ASSERT_FALSE(s.contexts.empty());
  model::Tokenizer tok;
  const std::string obs = tok.Decode(s.contexts[0]);
  EXPECT_NE(obs.find("malformed tool call"), std::string::npos) << obs;
  // The episode went on and the solution still solved it; the first turn's reasoning is still in
  // the token sequence (nothing is dropped across tool calls).
  ASSERT_TRUE(s.episode->sample().verdict.has_value());
  EXPECT_EQ(s.episode->sample().verdict->score, 1.0);
  EXPECT_NE(tok.Decode(s.record.tokens).find("let me look"), std::string::npos);
  EXPECT_EQ(s.episode->tool_errors(), 1);
}

}  // namespace
}  // namespace dsarl::rollout
