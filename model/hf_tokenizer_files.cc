#include "model/hf_tokenizer_files.h"

#include "model/bpe_pretokenizer.h"
#include "model/tokenizer.h"

namespace dsarl::model {

std::string ByteTokenizerJson() {
  Json added = Json::Array();
  for (int32_t id = kFirstSpecialId; id < kNumTokens; ++id) {
    Json t = Json::Object();
    t.Set("id", Json::Int(id));
    t.Set("content", Json::String(std::string(SpecialTokenText(id))));
    t.Set("single_word", Json::Bool(false));
    t.Set("lstrip", Json::Bool(false));
    t.Set("rstrip", Json::Bool(false));
    t.Set("normalized", Json::Bool(false));
    // The turn structure is special (skipped by decode(skip_special_tokens=True)); reasoning and
    // tool-call markup is text the model writes.
    t.Set("special", Json::Bool(id <= kAssistantId));
    added.Push(t);
  }
  auto byte_level = [](bool use_regex) {
    Json p = Json::Object();
    p.Set("type", Json::String("ByteLevel"));
    p.Set("add_prefix_space", Json::Bool(false));
    p.Set("trim_offsets", Json::Bool(true));
    p.Set("use_regex", Json::Bool(use_regex));
    return p;
  };
  Json vocab = Json::Object();
  for (int b = 0; b < 256; ++b)
    vocab.Set(bpe::ByteLevelEncode(std::string(1, static_cast<char>(b))), Json::Int(b));
  Json model = Json::Object();
  model.Set("type", Json::String("BPE"));
  model.Set("dropout", Json());
  model.Set("unk_token", Json());
  model.Set("continuing_subword_prefix", Json());
  model.Set("end_of_word_suffix", Json());
  model.Set("fuse_unk", Json::Bool(false));
  model.Set("byte_fallback", Json::Bool(false));
  model.Set("ignore_merges", Json::Bool(false));
  model.Set("vocab", vocab);
  model.Set("merges", Json::Array());
  Json t = Json::Object();
  t.Set("version", Json::String("1.0"));
  t.Set("truncation", Json());
  t.Set("padding", Json());
  t.Set("added_tokens", added);
  t.Set("normalizer", Json());
  t.Set("pre_tokenizer", byte_level(false));
  t.Set("post_processor", Json());
  t.Set("decoder", byte_level(false));
  t.Set("model", model);
  return t.Dump(2) + "\n";
}

Json TokenizerConfigJson(const std::string& bos, const std::string& eos, const std::string& pad,
                         int max_length) {
  Json c = Json::Object();
  c.Set("tokenizer_class", Json::String("PreTrainedTokenizerFast"));
  c.Set("bos_token", Json::String(bos));
  c.Set("eos_token", Json::String(eos));
  c.Set("pad_token", Json::String(pad));
  c.Set("add_bos_token", Json::Bool(false));
  c.Set("add_eos_token", Json::Bool(false));
  c.Set("clean_up_tokenization_spaces", Json::Bool(false));
  c.Set("model_max_length", Json::Int(max_length));
  return c;
}

}  // namespace dsarl::model
