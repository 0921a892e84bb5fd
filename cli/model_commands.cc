// `dsarl model info|init|score` and `dsarl generate`: the model from the command line.
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>

#include "absl/strings/str_format.h"
#include "base/file.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "model/chat_format.h"
#include "model/chat_render.h"
#include "model/checkpoint.h"
#include "model/generator.h"
#include "model/memory_estimate.h"
#include "model/sampler.h"
#include "model/tokenizer.h"
#include "model/tokenizer_config.h"
#include "proto/config_loader.h"

namespace dsarl::cli {
namespace {

using model::AttentionMode;

// Samples of one `generate`: each holds its own decode cache and logits.
constexpr int64_t kMaxSamples = 65536;

const FlagSpec kConfigFlag{"config",
                           "job config (text-format JobConfig); its model section is used",
                           "configs/quickstart.textproto"};
const FlagSpec kSetFlag{"set", "override a config field: path.to.field=value", "", false, true};

// The model's tokenizer (model.tokenizer) and dims, whose vocab_size follows that tokenizer.
absl::StatusOr<model::ModelDims> DimsFromArgs(const Args& args,
                                              model::Tokenizer* tok_out = nullptr) {
  ASSIGN_OR_RETURN(proto::JobConfig config,
                   proto::LoadJobConfig(args.Get("config"), args.GetAll("set")));
  ASSIGN_OR_RETURN(const model::Tokenizer tok, model::TokenizerForModel(config.model()));
  if (tok_out != nullptr) *tok_out = tok;
  return model::DimsForModel(config.model(), tok);
}

// The tokenizer of --checkpoint, with the <bos> and <eos> ids text framing needs.
absl::StatusOr<model::Tokenizer> CheckpointTokenizer(const Args& args) {
  ASSIGN_OR_RETURN(model::Tokenizer tok, model::Tokenizer::ForCheckpoint(args.Get("checkpoint")));
  if (tok.chat().bos < 0 || tok.chat().eos < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(tok.name(), ": the tokenizer has no <bos> or <eos> token"));
  }
  return tok;
}

absl::StatusOr<int> Info(const Args& args) {
  ASSIGN_OR_RETURN(model::ModelDims d, DimsFromArgs(args));
  ASSIGN_OR_RETURN(int64_t context, args.GetInt("context"));
  std::cout << absl::StrFormat(
      "model: d_model %d, %d layers, %d heads, d_c %d, rope %d, "
      "indexer %dx%d, top-k %d, vocab %d%s\n",
      d.d_model, d.n_layers, d.n_heads, d.d_c, d.rope, d.index_heads, d.index_dim, d.index_topk,
      d.vocab,
      d.n_routed > 0 ? absl::StrFormat(", MoE %d experts top-%d", d.n_routed, d.experts_per_tok)
                     : std::string());
  std::cout << "parameters by part:\n";
  for (const auto& [part, n] : model::ParameterCountByPart(d)) {
    std::cout << absl::StrFormat("  %-20s %12d\n", part, n);
  }
  std::cout << absl::StrFormat("  %-20s %12d\n  %-20s %12d\n", "total", model::ParameterCount(d),
                               "active per token", model::ActiveParameterCount(d));
  const double dense = model::ForwardFlopsPerToken(d, context, false);
  const double sparse = model::ForwardFlopsPerToken(d, context, true);
  std::cout << absl::StrFormat(
      "forward FLOPs per token at context %d: dense %.3g, sparse %.3g (%.2fx)\n", context, dense,
      sparse, dense / sparse);
  std::cout << absl::StrFormat(
      "decode cache: %d bytes per token (%d layers x (%d latent + %d "
      "indexer) fp32)\n",
      model::CacheBytesPerToken(d), d.n_layers, d.kv_dim(), d.index_dim);
  return 0;
}

absl::StatusOr<int> Init(const Args& args) {
  model::Tokenizer tok;
  ASSIGN_OR_RETURN(model::ModelDims d, DimsFromArgs(args, &tok));
  ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed"));
  if (args.Get("out").empty()) return absl::InvalidArgumentError("--out DIR is required");
  RETURN_IF_ERROR(model::CheckFitsInMemory(
      model::ParameterBytes(d),
      absl::StrCat("a model of ", model::ParameterCount(d), " parameters")));
  model::Transformer m(d);
  m.InitRandom(seed);
  RETURN_IF_ERROR(model::SaveCheckpoint(args.Get("out"), m, {{"seed", std::to_string(seed)}}, tok));
  std::cout << "wrote " << args.Get("out") << "/model.safetensors and config.json ("
            << model::ParameterCount(d) << " parameters, seed " << seed << ", tokenizer "
            << tok.name() << ", vocab " << d.vocab << ")\n";
  return 0;
}

absl::StatusOr<std::unique_ptr<model::Transformer>> LoadModel(const Args& args) {
  if (args.Get("checkpoint").empty()) {
    return absl::InvalidArgumentError("--checkpoint DIR is required");
  }
  return model::LoadCheckpoint(args.Get("checkpoint"));
}

absl::StatusOr<AttentionMode> ModeOf(const Args& args, AttentionMode fallback) {
  const std::string& m = args.Get("attention");
  if (m == "dense") return AttentionMode::kDense;
  if (m == "sparse") return AttentionMode::kSparse;
  if (!m.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--attention: '", m, "' is not an attention mode; expected dense or sparse"));
  }
  return fallback == AttentionMode::kDenseWarmup ? AttentionMode::kDense : fallback;
}

// Scores each line of the input as <bos> line <eos>; packs lines into batches of ~8K tokens.
absl::StatusOr<int> Score(const Args& args) {
  ASSIGN_OR_RETURN(auto m, LoadModel(args));
  const std::string& path = args.Get("input");
  ASSIGN_OR_RETURN(const model::Tokenizer tok, CheckpointTokenizer(args));
  std::vector<std::vector<int>> lines;
  RETURN_IF_ERROR(ForEachLine(
      path, kMaxLineBytes, "input file", [&](absl::string_view line, int64_t) -> absl::Status {
        std::vector<int> ids = {tok.chat().bos};
        for (int32_t t : tok.Encode(line)) ids.push_back(t);
        ids.push_back(tok.chat().eos);
        if (static_cast<int>(ids.size()) > m->dims().max_pos) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ":", lines.size() + 1, ": line has ", ids.size(),
                           " tokens, more than the model's ", m->dims().max_pos));
        }
        lines.push_back(std::move(ids));
        return absl::OkStatus();
      }));
  model::ForwardOptions opts;
  ASSIGN_OR_RETURN(opts.mode, ModeOf(args, m->dims().mode));
  double total_nll = 0;
  int64_t total_tokens = 0;
  size_t next = 0;
  while (next < lines.size()) {
    model::PackedBatch b;
    b.seq_start.push_back(0);
    const size_t first = next;
    while (next < lines.size() && (next == first || b.tokens.size() + lines[next].size() <= 8192)) {
      const auto& ids = lines[next++];
      for (size_t i = 0; i < ids.size(); ++i) {
        b.tokens.push_back(ids[i]);
        b.targets.push_back(i + 1 < ids.size() ? ids[i + 1] : -1);
      }
      b.seq_start.push_back(b.tokens.size());
    }
    ASSIGN_OR_RETURN(model::ForwardResult r, m->Forward(b, opts));
    for (float lp : r.logp) {
      if (!std::isfinite(lp)) {
        return absl::FailedPreconditionError(
            absl::StrCat(args.Get("checkpoint"),
                         ": the model's log-probabilities are not finite (weights that overflow?); "
                         "nothing scored"));
      }
    }
    for (size_t s = first; s < next; ++s) {
      const int begin = b.seq_start[s - first], end = b.seq_start[s - first + 1];
      Json lp = Json::Array();
      double nll = 0;
      for (int t = begin; t + 1 < end; ++t) {
        lp.Push(Json::Number(r.logp[t]));
        nll -= r.logp[t];
      }
      const int n = end - begin - 1;
      total_nll += nll;
      total_tokens += n;
      Json row = Json::Object();
      row.Set("line", Json::Int(s + 1));
      row.Set("tokens", Json::Int(n));
      row.Set("nll", Json::Number(nll));
      row.Set("perplexity", Json::Number(std::exp(nll / std::max(n, 1))));
      row.Set("logprobs", lp);
      std::cout << row.Dump() << "\n";
    }
  }
  std::cerr << absl::StrFormat("%d lines, %d tokens, perplexity %.4f\n", lines.size(), total_tokens,
                               std::exp(total_nll / std::max<int64_t>(total_tokens, 1)));
  return 0;
}

// --prompt as tokens: a chat user turn with --chat, else <bos> and the text.
absl::StatusOr<std::vector<int>> PromptOf(const Args& args, const model::Tokenizer& tok) {
  std::vector<int> prompt;
  if (args.GetBool("chat")) {
    model::Conversation conv;
    conv.messages.push_back(Message::User(args.Get("prompt")));
    ASSIGN_OR_RETURN(const model::ChatFormat format,
                     model::ParseChatFormat(args.Get("chat-format"), "--chat-format"));
    ASSIGN_OR_RETURN(model::RenderedTokens r, model::RenderChat(conv, format, tok, true));
    prompt.assign(r.ids.begin(), r.ids.end());
  } else {
    prompt.push_back(tok.chat().bos);
    for (int32_t t : tok.Encode(args.Get("prompt"))) prompt.push_back(t);
  }
  return prompt;
}

absl::StatusOr<int> Generate(const Args& args) {
  ASSIGN_OR_RETURN(auto m, LoadModel(args));
  ASSIGN_OR_RETURN(int64_t max_new, args.GetInt("max-new-tokens"));
  ASSIGN_OR_RETURN(int64_t samples, args.GetInt("samples"));
  ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed"));
  ASSIGN_OR_RETURN(double temperature, args.GetDouble("temperature"));
  ASSIGN_OR_RETURN(int64_t top_k, args.GetInt("top-k"));
  ASSIGN_OR_RETURN(double top_p, args.GetDouble("top-p"));
  if (samples < 1 || samples > kMaxSamples || max_new < 1 || max_new > (1 << 24)) {
    return absl::InvalidArgumentError(absl::StrCat("--samples must be in [1, ", kMaxSamples,
                                                   "] and --max-new-tokens in [1, 16777216]"));
  }
  RETURN_IF_ERROR(model::CheckFitsInMemory(
      model::GenerationMemory(m->dims(), samples,
                              max_new + static_cast<int64_t>(args.Get("prompt").size()) + 2)
          .total(),
      absl::StrCat("generating ", samples, " samples of ", max_new, " tokens")));
  ASSIGN_OR_RETURN(const AttentionMode mode, ModeOf(args, m->dims().mode));
  ASSIGN_OR_RETURN(const model::Tokenizer tok, CheckpointTokenizer(args));
  ASSIGN_OR_RETURN(std::vector<int> prompt, PromptOf(args, tok));
  ASSIGN_OR_RETURN(const model::ChatFormat format,
                   model::ParseChatFormat(args.Get("chat-format"), "--chat-format"));
  const int32_t end_of_turn =
      args.GetBool("chat") ? model::ChatEndOfTurnId(format, tok) : tok.chat().eos;
  model::Generator gen(m.get(), mode);
  const auto start = std::chrono::steady_clock::now();
  auto root = gen.NewSequence();
  ASSIGN_OR_RETURN(auto first, gen.Step({root}, {prompt}));
  // G samples share the prompt's prefill.
  std::vector<model::Generator::SeqId> ids = {root};
  for (int i = 1; i < samples; ++i) {
    ASSIGN_OR_RETURN(auto id, gen.Fork(root));
    ids.push_back(id);
  }
  const int V = m->dims().vocab;
  std::vector<float> logits;
  for (int i = 0; i < samples; ++i)
    logits.insert(logits.end(), first.logits.begin(), first.logits.end());
  model::SamplingParams sp{float(temperature), int32_t(top_k), float(top_p)};
  std::vector<model::Rng> rngs;
  for (int i = 0; i < samples; ++i) rngs.push_back(model::Rng::ForStream(seed, i));
  std::vector<std::vector<int32_t>> out(samples);
  std::vector<double> logprob(samples, 0.0);
  std::vector<bool> done(samples, false);
  int64_t generated = 0;
  for (int step = 0; step < max_new; ++step) {
    std::vector<model::Generator::SeqId> live;
    std::vector<std::vector<int>> next;
    std::vector<int> live_index;
    for (int i = 0; i < samples; ++i) {
      if (done[i]) continue;
      ASSIGN_OR_RETURN(model::SampleResult s,
                       model::Sample(absl::MakeConstSpan(&logits[size_t(i) * V], V), sp, &rngs[i]));
      out[i].push_back(s.token);
      logprob[i] += s.logprob;
      ++generated;
      if (s.token == end_of_turn || gen.Length(ids[i]) + 1 >= m->dims().max_pos) {
        done[i] = true;
        continue;
      }
      live.push_back(ids[i]);
      next.push_back({s.token});
      live_index.push_back(i);
    }
    if (live.empty() || step + 1 == max_new) break;
    ASSIGN_OR_RETURN(auto r, gen.Step(live, next));
    for (size_t j = 0; j < live_index.size(); ++j) {
      std::copy_n(&r.logits[j * V], V, &logits[size_t(live_index[j]) * V]);
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int i = 0; i < samples; ++i) {
    if (samples > 1) std::cout << "--- sample " << i << " (logprob " << logprob[i] << ")\n";
    std::cout << tok.DecodeForDisplay(out[i]) << "\n";
  }
  std::cerr << absl::StrFormat("%d prompt tokens, %d generated in %.2f s (%.1f tokens/s)\n",
                               prompt.size(), generated, secs, generated / std::max(secs, 1e-9));
  return 0;
}

}  // namespace

void RegisterModelCommands(CommandTable* table) {
  table->Add(Command{
      .name = "model info",
      .summary = "parameter count by part, FLOPs per token (dense and sparse), cache bytes",
      .flags = {kConfigFlag, kSetFlag,
                FlagSpec{"context", "context length for the FLOPs estimate [tokens]", "4096"}},
      .run = Info});
  table->Add(
      Command{.name = "model init",
              .summary = "write a freshly initialized checkpoint (safetensors + config.json)",
              .flags = {kConfigFlag, kSetFlag, FlagSpec{"seed", "initialization seed", "1234"},
                        FlagSpec{"out", "output directory", ""}},
              .run = Init});
  table->Add(Command{
      .name = "model score",
      .summary = "per-token log-probs of each line of a text file (JSONL) and perplexity",
      .description = "Each line is scored as <bos> line <eos>. One JSON object per line goes to\n"
                     "stdout; the overall perplexity goes to stderr.",
      .flags = {FlagSpec{"checkpoint", "checkpoint directory", ""},
                FlagSpec{"input", "text file, one sequence per line", ""},
                FlagSpec{"attention", "dense or sparse (default: the checkpoint's mode)", ""}},
      .run = Score});
  table->Add(Command{
      .name = "generate",
      .summary = "sample text from a checkpoint",
      .description = "Samples --samples continuations of --prompt; the samples share the prompt's\n"
                     "prefill. --chat wraps the prompt as a user turn of the chat format.",
      .flags = {FlagSpec{"checkpoint", "checkpoint directory", ""},
                FlagSpec{"prompt", "prompt text", ""},
                FlagSpec{"chat", "render the prompt as a chat user turn", "", true},
                FlagSpec{"chat-format", "spec (SPEC §4) or dsv32 (DeepSeek-V3.2's encoding)",
                         "spec"},
                FlagSpec{"max-new-tokens", "tokens to generate per sample", "128"},
                FlagSpec{"samples", "number of samples (G)", "1"},
                FlagSpec{"temperature", "sampling temperature (0 = greedy)", "1.0"},
                FlagSpec{"top-k", "keep the k most likely tokens (0 = off)", "0"},
                FlagSpec{"top-p", "nucleus sampling threshold (1 = off)", "1.0"},
                FlagSpec{"seed", "sampling seed", "1"},
                FlagSpec{"attention", "dense or sparse (default: the checkpoint's mode)", ""}},
      .run = Generate});
}

}  // namespace dsarl::cli
