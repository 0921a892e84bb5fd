// Reference solutions are stored structured (Prompt.solution, Prompt.solution_answer) and rendered
// as text by the model's chat format alone. For every category and level: the stored form keeps the
// environment's calls and answer, and the rendered text, read back by the model's own parser, gives
// exactly those calls and that answer again.
#include <algorithm>

#include "envs/environment.h"
#include "envs/registry.h"
#include "gtest/gtest.h"
#include "model/chat_format.h"
#include "model/tool_call_parser.h"
#include "proto/chat_proto.h"
#include "tests/status_matchers.h"

namespace dsarl::envs {
namespace {

// The wire form keeps arguments by name; compare calls with their arguments sorted.
ToolCall Sorted(ToolCall call) {
  std::sort(call.arguments.begin(), call.arguments.end());
  return call;
}

void ExpectSameCalls(const std::vector<ToolCall>& got, const std::vector<ToolCall>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(Sorted(got[k]), Sorted(want[k])) << k;
}

TEST(SolutionFormatTest, StoredSolutionRendersAndParsesBackForEveryCategory) {
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
      const Solution& solution = ep.task.solution;
      const proto::Prompt prompt = TaskToPrompt(ep.task, spec, 1, level);
      const std::vector<Message> turns = SolutionMessages(prompt);
      ASSERT_EQ(turns.size(), solution.rounds.size() + 1);
      for (size_t i = 0; i < turns.size(); ++i) {
        const std::string text = model::AssistantOutputText(turns[i]);
        SCOPED_TRACE(c->name + " level " + std::to_string(level) + ": " + text);
        EXPECT_EQ(turns[i].role, Role::kAssistant);
        const model::ParsedAssistantOutput parsed = model::ParseAssistantOutput(text);
        ASSERT_FALSE(parsed.error.has_value()) << parsed.error->message;
        EXPECT_TRUE(parsed.reasoning_closed);
        EXPECT_EQ(parsed.reasoning, "");
        if (i + 1 < turns.size()) {
          ExpectSameCalls(turns[i].tool_calls, solution.rounds[i]);
          ExpectSameCalls(parsed.tool_calls, solution.rounds[i]);
          EXPECT_EQ(parsed.content, "");
        } else {
          EXPECT_TRUE(parsed.tool_calls.empty());
          EXPECT_EQ(parsed.content, solution.final_answer);
        }
      }
    }
  }
}

}  // namespace
}  // namespace dsarl::envs
