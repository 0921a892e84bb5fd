// config.json and generation_config.json in the layout of Hugging Face's DeepSeek-V3.2
// (transformers' DeepseekV32Config), so a checkpoint moves both ways between dsarl and
// transformers. Why strict reading: a field dsarl does not know might change the model (a
// quantization config, a different rope type), and a silently ignored one gives wrong log-probs
// with no error, so every field is either understood, checked against the others, or known to be
// metadata; anything else is refused by name.
#ifndef DSARL_MODEL_CONFIG_JSON_H_
#define DSARL_MODEL_CONFIG_JSON_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "model/dims.h"

namespace dsarl::model {

// The token ids both files name (bos_token_id, eos_token_id, pad_token_id). The defaults are the
// byte tokenizer's (model/tokenizer.h); -1 (a tokenizer without such a token) is written as null.
struct ConfigTokenIds {
  int32_t bos = 257;
  int32_t eos = 258;
  int32_t pad = 256;
};

// config.json for `dims`: every field transformers' strict DeepseekV32Config checks, with its type
// (integers as integers, floats with a point), rope_parameters (transformers 5) beside the older
// rope_theta / rope_scaling (DeepSeek's own files, older tools), mlp_layer_types, and
// dsarl_attention_mode.
Json ConfigJson(const ModelDims& dims, const ConfigTokenIds& ids = {});

// generation_config.json: the token ids, greedy by default (dsarl's sampling comes from its
// config).
Json GenerationConfigJson(const ConfigTokenIds& ids = {});

// Dims from a parsed config.json written by dsarl, by transformers (4 or 5) or by DeepSeek.
// InvalidArgument naming `source` and the field for a missing or mistyped value, for a field dsarl
// does not know, and for fields that contradict each other (rope_theta vs rope_parameters,
// mlp_layer_types vs first_k_dense_replace, ...).
absl::StatusOr<ModelDims> DimsFromConfigJson(const Json& config, const std::string& source);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_CONFIG_JSON_H_
