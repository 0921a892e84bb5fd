// Checkpoints in the Hugging Face layout of DeepSeek-V3.2: `model.safetensors` (every tensor of
// the ParamTable under its HF name, float32) and `config.json` (DeepseekV32ForCausalLM keys), so a
// checkpoint moves both ways between dsarl and Hugging Face tooling. The same safetensors image,
// in memory, is what the learner sends to rollout workers.
#ifndef DSARL_MODEL_CHECKPOINT_H_
#define DSARL_MODEL_CHECKPOINT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/json.h"
#include "model/config_json.h"
#include "model/dims.h"
#include "model/tokenizer.h"
#include "model/transformer.h"

namespace dsarl::model {

// The dims of the checkpoint in DIR, from DIR/config.json alone (at most kMaxTextFileBytes),
// without reading the weights. Errors as DimsFromConfigJson; NotFound for a missing file.
absl::StatusOr<ModelDims> ReadCheckpointDims(const std::string& dir);

// Writes DIR/model.safetensors, config.json, generation_config.json and the tokenizer files of
// `tokenizer` (tokenizer.json, tokenizer_config.json), creating DIR; each file atomically,
// config.json last. `metadata` goes into the safetensors header (e.g. step, policy version).
// InvalidArgument when the tokenizer has more tokens than the model's vocabulary.
absl::Status SaveCheckpoint(const std::string& dir, const Transformer& model,
                            const std::map<std::string, std::string>& metadata = {},
                            const Tokenizer& tokenizer = Tokenizer());

// Reads DIR/config.json, builds the model and loads every tensor. NotFound when a file is missing;
// InvalidArgument naming the tensor when one is missing, has the wrong shape or dtype, holds a NaN
// or an infinity, or is not part of the model, and for a truncated or corrupt file.
absl::StatusOr<std::unique_ptr<Transformer>> LoadCheckpoint(const std::string& dir);

// The weights of `model` as a safetensors image, and back into an existing model of the same
// shape (errors as LoadCheckpoint, naming `source`).
absl::StatusOr<std::string> SerializeWeights(const Transformer& model,
                                             const std::map<std::string, std::string>& metadata);
absl::Status DeserializeWeightsInto(std::string bytes, const std::string& source,
                                    Transformer* model);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_CHECKPOINT_H_
