// Which tokenizer a job's model uses (model.tokenizer, or the checkpoint's tokenizer.json), and
// the vocabulary size that follows from it. One place, so init, sft, the LM stages, scoring and
// generation agree on the ids a model was trained with.
#ifndef DSARL_MODEL_TOKENIZER_CONFIG_H_
#define DSARL_MODEL_TOKENIZER_CONFIG_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/dims.h"
#include "model/tokenizer.h"
#include "proto/config.pb.h"

namespace dsarl::model {

// model.checkpoint's tokenizer.json (the byte tokenizer when it has none), else the file
// model.tokenizer names, else the byte tokenizer. InvalidArgument when both are set (a checkpoint
// brings its own tokenizer), errors of Tokenizer::FromFile naming the file otherwise.
absl::StatusOr<Tokenizer> TokenizerForModel(const proto::ModelConfig& model);

// DimsFromConfig, with vocab_size = the tokenizer's size for a tokenizer.json (a model must have
// an embedding row for every id its tokenizer can produce).
absl::StatusOr<ModelDims> DimsForModel(const proto::ModelConfig& model, const Tokenizer& tok);

// FailedPrecondition for a tokenizer.json tokenizer, naming `what` (the RL path, whose rollout
// engine, environments and rewards use the byte tokenizer's chat ids, does not take one yet).
absl::Status RequireByteTokenizer(const Tokenizer& tok, absl::string_view what);

// FailedPrecondition, naming `what`, unless model.chat_format is SPEC §4's (the RL path's
// environments and parser speak only that one), InvalidArgument for an unknown format.
absl::Status RequireSpecChatFormat(const proto::ModelConfig& model, absl::string_view what);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_TOKENIZER_CONFIG_H_
