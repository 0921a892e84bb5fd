// SFT data: the reference solutions of synthesized tasks rendered in the chat format (SPEC §4),
// tool calls and their real tool results included (the solution is played through the
// environment's tools), training on assistant tokens only; or a user's own conversations as JSONL.
#ifndef DSARL_LEARNER_SFT_DATA_H_
#define DSARL_LEARNER_SFT_DATA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "envs/factory.h"
#include "learner/trainer.h"
#include "model/chat_render.h"
#include "model/tokenizer.h"
#include "proto/data.pb.h"

namespace dsarl::learner {

// One task's solution as a training sequence: prompt (mask 0), each round's assistant turn with
// its tool calls (mask 1), the tools' results (mask 0), and the final answer (mask 1).
// Errors: the environment's (building, Reset, Step), naming the prompt.
absl::StatusOr<TrainSample> RenderSolution(const proto::Prompt& prompt, const proto::EnvSpec& env,
                                           envs::EnvFactory* factory,
                                           const model::Tokenizer& tok = model::Tokenizer(),
                                           model::ChatFormat format = model::ChatFormat::kSpec);

// Conversations from JSON Lines, one per line:
//   {"system": "...", "messages": [{"role": "user", "content": "..."},
//    {"role": "assistant", "reasoning": "...", "content": "...",
//     "tool_calls": [{"name": "f", "arguments": {"k": "v"}}]},
//    {"role": "tool", "results": ["..."]}, ...]}
// Errors name FILE:LINE and what is wrong. Rendered in `format` with `tok`'s ids.
absl::StatusOr<std::vector<TrainSample>> LoadConversations(
    const std::string& path, int max_len, const model::Tokenizer& tok = model::Tokenizer(),
    model::ChatFormat format = model::ChatFormat::kSpec);

}  // namespace dsarl::learner

#endif  // DSARL_LEARNER_SFT_DATA_H_
