#include "model/tokenizer_config.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "model/chat_render.h"

namespace dsarl::model {

absl::StatusOr<Tokenizer> TokenizerForModel(const proto::ModelConfig& model) {
  if (!model.checkpoint().empty()) {
    if (!model.tokenizer().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model.tokenizer (", model.tokenizer(), ") and model.checkpoint (", model.checkpoint(),
          ") are both set: a checkpoint brings its own tokenizer.json; set only one"));
    }
    return Tokenizer::ForCheckpoint(model.checkpoint());
  }
  if (model.tokenizer().empty()) return Tokenizer();
  absl::StatusOr<Tokenizer> tok = Tokenizer::FromFile(model.tokenizer());
  if (!tok.ok()) return Annotate(tok.status(), "model.tokenizer");
  return tok;
}

absl::StatusOr<ModelDims> DimsForModel(const proto::ModelConfig& model, const Tokenizer& tok) {
  ASSIGN_OR_RETURN(ModelDims d, DimsFromConfig(model));
  if (!tok.is_bytes()) {
    d.vocab = tok.size();
    RETURN_IF_ERROR(ValidateDims(d, "model (vocab_size from model.tokenizer)"));
  }
  return d;
}

absl::Status RequireByteTokenizer(const Tokenizer& tok, absl::string_view what) {
  if (tok.is_bytes()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      what,
      " uses the byte tokenizer for now (its rollout engine, environments and rewards work "
      "on the byte tokenizer's ids), but the model's tokenizer is ",
      tok.name(),
      "; a tokenizer.json model works with model init, model score, generate, sft and the LM "
      "stages"));
}

absl::Status RequireSpecChatFormat(const proto::ModelConfig& model, absl::string_view what) {
  ASSIGN_OR_RETURN(const ChatFormat format,
                   ParseChatFormat(model.chat_format(), "model.chat_format"));
  if (format == ChatFormat::kSpec) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      what, " renders conversations in SPEC §4's format only for now; model.chat_format \"",
      model.chat_format(), "\" works with sft and generate --chat"));
}

}  // namespace dsarl::model
