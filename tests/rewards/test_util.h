// Builders for reward tests: samples and tasks in a line each.
#ifndef DSARL_TESTS_REWARDS_TEST_UTIL_H_
#define DSARL_TESTS_REWARDS_TEST_UTIL_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/data.pb.h"
#include "rewards/builtins.h"
#include "rewards/params.h"
#include "rewards/reward.h"
#include "tests/status_matchers.h"

namespace dsarl::rewards::testing {

inline proto::Prompt Task(std::map<std::string, std::string> reference = {},
                          std::string user = "What is 6 * 7?") {
  proto::Prompt p;
  p.set_id(7);
  p.set_user(std::move(user));
  for (auto& [k, v] : reference) (*p.mutable_reference())[k] = v;
  return p;
}

inline Message Assistant(std::string reasoning, std::string content,
                         std::vector<ToolCall> calls = {}) {
  Message m;
  m.role = Role::kAssistant;
  m.reasoning = std::move(reasoning);
  m.content = std::move(content);
  m.tool_calls = std::move(calls);
  m.raw_text = m.reasoning + "</think>" + m.content + "<eos>";
  m.num_tokens = static_cast<int32_t>(m.raw_text.size());
  return m;
}

inline Message ToolResult(std::string output, bool is_error = false) {
  Message m;
  m.role = Role::kTool;
  m.content = std::move(output);
  m.is_error = is_error;
  return m;
}

// A one-turn sample answering `answer`, with an optional verdict.
inline Sample Answer(std::string answer, std::optional<double> verdict = std::nullopt) {
  Sample s;
  s.messages.push_back(Message{.role = Role::kUser, .content = "What is 6 * 7?"});
  s.messages.push_back(Assistant("six times seven", answer));
  s.final_answer = std::move(answer);
  s.num_generated_tokens = s.messages.back().num_tokens;
  s.finish_reason = proto::FINISH_EOS;
  if (verdict.has_value()) s.verdict = Verdict{.score = *verdict, .details = "checked"};
  return s;
}

// Creates the built-in `name` with `params`; fails the test on error.
inline std::unique_ptr<RewardFunction> Builtin(const std::string& name,
                                               std::map<std::string, std::string> params = {}) {
  const Registry registry = BuiltinRegistry();
  absl::StatusOr<std::unique_ptr<RewardFunction>> fn =
      registry.Create(name, Params(std::move(params), name));
  EXPECT_TRUE(fn.ok()) << fn.status();
  return fn.ok() ? *std::move(fn) : nullptr;
}

// The error of creating `name` with `params` (OK when creation succeeded).
inline absl::Status CreateError(const std::string& name,
                                std::map<std::string, std::string> params) {
  const Registry registry = BuiltinRegistry();
  return registry.Create(name, Params(std::move(params), name)).status();
}

// Scores one sample with `fn` and returns its components; fails the test on error.
inline Components ScoreOne(const RewardFunction& fn, const proto::Prompt& task,
                           const Sample& sample) {
  absl::StatusOr<std::vector<Components>> r = fn.ScoreGroup(task, {sample});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok() || r->size() != 1) return {};
  return (*r)[0];
}

// The component of `components` named `name` ("" = the function's own value).
inline Component Get(const Components& components, const std::string& name = "") {
  for (const Component& c : components) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no component '" << name << "'";
  return Component::NotApplicable("missing");
}

}  // namespace dsarl::rewards::testing

#endif  // DSARL_TESTS_REWARDS_TEST_UTIL_H_
