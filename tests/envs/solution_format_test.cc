// Reference solutions are stored as the text the model writes (Prompt.solution_turns); the model's
// own parser must read back exactly the calls and answer the environment made. envs/ writes the
// markup without depending on model/, so this test is what keeps the two in step.
#include "envs/environment.h"
#include "envs/registry.h"
#include "gtest/gtest.h"
#include "model/tool_call_parser.h"
#include "tests/status_matchers.h"

namespace dsarl::envs {
namespace {

TEST(SolutionFormatTest, ModelParserReadsBackEveryCategorysSolution) {
  Registry r;
  RegisterBuiltinCategories(&r);
  for (const Category* c : r.All()) {
    proto::EnvSpec spec;
    spec.set_category(c->name);
    spec.set_seed(3);
    spec.set_difficulty(c->top_level);
    if (c->sample_params) {
      Rng rng(3);
      for (const auto& [k, v] : c->sample_params(rng)) (*spec.mutable_params())[k] = v;
    }
    ASSERT_OK_AND_ASSIGN(auto env, c->build(spec));
    for (int level = 0; level <= c->top_level; ++level) {
      ASSERT_OK_AND_ASSIGN(Episode ep, env->Reset(1, level));
      const std::vector<std::string> turns = FormatSolutionTurns(ep.task.solution);
      ASSERT_EQ(turns.size(), ep.task.solution.rounds.size() + 1);
      for (size_t i = 0; i < turns.size(); ++i) {
        SCOPED_TRACE(c->name + " level " + std::to_string(level) + ": " + turns[i]);
        const model::ParsedAssistantOutput parsed = model::ParseAssistantOutput(turns[i]);
        ASSERT_FALSE(parsed.error.has_value()) << parsed.error->message;
        EXPECT_TRUE(parsed.reasoning_closed);
        EXPECT_EQ(parsed.reasoning, "");
        if (i + 1 < turns.size()) {
          const auto& round = ep.task.solution.rounds[i];
          ASSERT_EQ(parsed.tool_calls.size(), round.size());
          for (size_t k = 0; k < round.size(); ++k) {
            EXPECT_EQ(parsed.tool_calls[k].name, round[k].name);
            EXPECT_EQ(parsed.tool_calls[k].arguments, round[k].arguments);
          }
          EXPECT_EQ(parsed.content, "");
        } else {
          EXPECT_TRUE(parsed.tool_calls.empty());
          EXPECT_EQ(parsed.content, ep.task.solution.final_answer);
        }
      }
    }
  }
}

}  // namespace
}  // namespace dsarl::envs
