#include "model/memory_estimate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/memory_info.h"

namespace dsarl::model {
namespace {

constexpr double kF = sizeof(float);

// Floats LayerActs keeps per token of one layer (forward), plus the indexer's top-k indices.
double LayerActFloatsPerToken(const ModelDims& d) {
  const double D = d.d_model, H = d.n_heads;
  double f = 5 * D + 2 * d.q_lora + H * d.qk_head() + 2 * d.kv_dim() + H * d.kv_dim() + H * d.d_c +
             H * d.v_head + H + 6;
  f += 2 * (double(d.index_heads) * d.index_dim + 2 * d.index_dim + d.index_heads + 2);
  if (d.mode == AttentionMode::kSparse) f += d.index_topk;  // int32 indices
  return f;
}

double FfnActFloatsPerToken(const ModelDims& d, bool moe) {
  if (!moe) return 3.0 * d.ffn;
  // Routed experts keep input, output and 3 activations per routed row; shared ones 3 per token.
  return double(d.experts_per_tok) * (2.0 * d.d_model + 3.0 * d.moe_ffn) +
         3.0 * d.moe_ffn * d.n_shared + 2.0 * d.n_routed + 2.0 * d.experts_per_tok;
}

}  // namespace

void MemoryEstimate::Add(std::string what, double bytes) {
  items_.emplace_back(std::move(what), bytes);
}

void MemoryEstimate::Append(const MemoryEstimate& other, absl::string_view prefix) {
  for (const auto& [what, bytes] : other.items_) Add(absl::StrCat(prefix, what), bytes);
}

double MemoryEstimate::total() const {
  double t = 0;
  for (const auto& item : items_) t += item.second;
  return t;
}

std::string MemoryEstimate::Describe() const {
  std::vector<std::string> parts;
  for (const auto& [what, bytes] : items_)
    parts.push_back(absl::StrCat(what, " ", FormatBytes(bytes)));
  return absl::StrCat(absl::StrJoin(parts, ", "), " = ", FormatBytes(total()));
}

double ParameterBytes(const ModelDims& d) { return double(ParameterCount(d)) * kF; }

MemoryEstimate TrainingMemory(const ModelDims& d, int64_t batch_tokens, bool reference_model) {
  const double p = ParameterBytes(d), T = double(std::max<int64_t>(batch_tokens, 1));
  MemoryEstimate m;
  m.Add("parameters", p);
  m.Add("gradients", p);
  m.Add("AdamW moments", 2 * p);
  m.Add("weights image", p);
  if (reference_model) m.Add("reference model", p);
  double per_token = 0;
  for (int l = 0; l < d.n_layers; ++l) {
    per_token += LayerActFloatsPerToken(d) + FfnActFloatsPerToken(d, d.is_moe_layer(l));
  }
  // Logits and their gradient, the residual stream in and out, one layer's backward scratch.
  per_token += 2.0 * d.vocab + 4.0 * d.d_model +
               2 * (LayerActFloatsPerToken(d) + FfnActFloatsPerToken(d, d.n_routed > 0));
  m.Add(absl::StrCat("activations at ", batch_tokens, " tokens"), T * per_token * kF);
  return m;
}

MemoryEstimate GenerationMemory(const ModelDims& d, int64_t sequences, int64_t context) {
  const double S = double(std::max<int64_t>(sequences, 1));
  const double C = double(std::min<int64_t>(std::max<int64_t>(context, 1), d.max_pos));
  MemoryEstimate m;
  m.Add("parameters", ParameterBytes(d));
  m.Add("weights image", ParameterBytes(d));
  m.Add(absl::StrCat("decode caches of ", sequences, " x ", int64_t(C), " tokens"),
        S * C * double(CacheBytesPerToken(d)));
  // Logits per sequence, and one step's activations (a prefill of up to one context).
  m.Add("logits and step activations",
        S * d.vocab * kF + C * (LayerActFloatsPerToken(d) + FfnActFloatsPerToken(d, false)) * kF);
  return m;
}

absl::Status CheckFitsInMemory(double bytes, absl::string_view what, int64_t limit_bytes) {
  const MemoryInfo info = ReadMemoryInfo();
  const bool configured = limit_bytes > 0;
  const double limit = configured ? double(limit_bytes) : double(info.limit_bytes);
  if (bytes <= limit) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      what, " needs about ", FormatBytes(bytes), " of memory; ",
      configured ? "cluster.memory_limit_mb allows " : "this machine allows ", FormatBytes(limit),
      configured ? "" : absl::StrCat(" (", info.limit_source, ")")));
}

}  // namespace dsarl::model
