// The tokenizer files of a Hugging Face model directory (tokenizer.json, tokenizer_config.json),
// written beside a checkpoint's weights so that transformers' AutoTokenizer loads the directory as
// it is and encodes text to the ids dsarl uses. For the byte tokenizer, tokenizer.json is a
// byte-level BPE model without merges: each byte is one token of the same id, and the special
// tokens of model/tokenizer.h are added tokens of their ids.
#ifndef DSARL_MODEL_HF_TOKENIZER_FILES_H_
#define DSARL_MODEL_HF_TOKENIZER_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "base/json.h"

namespace dsarl::model {

// tokenizer.json of the byte tokenizer (model/tokenizer.h), in the `tokenizers` library's format.
std::string ByteTokenizerJson();

// tokenizer_config.json naming the bos, eos and pad tokens (their texts) and the model's context.
Json TokenizerConfigJson(const std::string& bos, const std::string& eos, const std::string& pad,
                         int max_length);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_HF_TOKENIZER_FILES_H_
