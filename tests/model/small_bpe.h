// A small byte-level BPE tokenizer.json for tests: the 256 byte tokens, one merge ("h e" -> "he",
// id 256) and `added` as special added tokens from id 257, in order.
#ifndef DSARL_TESTS_MODEL_SMALL_BPE_H_
#define DSARL_TESTS_MODEL_SMALL_BPE_H_

#include <string>
#include <vector>

#include "base/json.h"
#include "model/bpe_pretokenizer.h"

namespace dsarl::model::testing {

inline std::string SmallBpeJson(const std::vector<std::string>& added_texts) {
  Json vocab = Json::Object();
  for (int b = 0; b < 256; ++b) {
    vocab.Set(bpe::ByteLevelEncode(std::string(1, static_cast<char>(b))), Json::Int(b));
  }
  vocab.Set("he", Json::Int(256));
  Json added = Json::Array();
  for (const std::string& text : added_texts) {
    Json t = Json::Object();
    t.Set("id", Json::Int(257 + static_cast<int64_t>(added.array().size())));
    t.Set("content", Json::String(text));
    t.Set("single_word", Json::Bool(false));
    t.Set("lstrip", Json::Bool(false));
    t.Set("rstrip", Json::Bool(false));
    t.Set("normalized", Json::Bool(false));
    t.Set("special", Json::Bool(true));
    added.Push(t);
  }
  Json level = Json::Object();
  level.Set("type", Json::String("ByteLevel"));
  level.Set("add_prefix_space", Json::Bool(false));
  level.Set("trim_offsets", Json::Bool(true));
  level.Set("use_regex", Json::Bool(true));
  Json model = Json::Object();
  model.Set("type", Json::String("BPE"));
  model.Set("vocab", vocab);
  model.Set("merges", Json::Array({Json::String("h e")}));
  Json t = Json::Object();
  t.Set("version", Json::String("1.0"));
  t.Set("added_tokens", added);
  t.Set("normalizer", Json());
  t.Set("pre_tokenizer", level);
  t.Set("decoder", level);
  t.Set("model", model);
  return t.Dump();
}

}  // namespace dsarl::model::testing

#endif  // DSARL_TESTS_MODEL_SMALL_BPE_H_
