// All parameters of the model live in one float buffer, carved into named tensors by one table
// (name, shape). The same table drives checkpoint save/load (Hugging Face DeepSeek-V3.2 names),
// the optimizer, and the gradient buffer, which has the identical layout.
#ifndef DSARL_MODEL_PARAMS_H_
#define DSARL_MODEL_PARAMS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model/dims.h"

namespace dsarl::model {

struct TensorInfo {
  std::string name;            // e.g. "model.layers.0.self_attn.q_a_proj.weight"
  std::vector<int64_t> shape;  // row-major; Linear weights are [out, in] as in PyTorch
  size_t offset = 0;           // in floats, into the parameter buffer
  size_t numel = 0;
  bool trainable = true;    // false for buffers such as e_score_correction_bias
  bool is_indexer = false;  // belongs to a lightning indexer (DSA warm-up trains only these)
  enum class Init { kNormal, kOnes, kZeros } init = Init::kNormal;
};

class ParamTable {
 public:
  explicit ParamTable(const ModelDims& dims);
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  size_t total_floats() const { return total_; }
  // nullptr when no tensor has that name.
  const TensorInfo* Find(const std::string& name) const;

 private:
  void Add(const std::string& name, std::vector<int64_t> shape,
           TensorInfo::Init init = TensorInfo::Init::kNormal, bool trainable = true,
           bool is_indexer = false);
  std::vector<TensorInfo> tensors_;
  size_t total_ = 0;
};

// Pointers to one FFN (dense SwiGLU or one expert). Linear weights [out, in].
struct MlpTensors {
  float* gate = nullptr;  // [hidden, d_model]
  float* up = nullptr;    // [hidden, d_model]
  float* down = nullptr;  // [d_model, hidden]
  int hidden = 0;
};

struct LayerTensors {
  float* input_norm = nullptr;    // [d_model]
  float* q_a = nullptr;           // [q_lora, d_model]
  float* q_a_norm = nullptr;      // [q_lora]
  float* q_b = nullptr;           // [H * (nope + rope), q_lora]
  float* kv_a = nullptr;          // [d_c + rope, d_model]  (latent rows first)
  float* kv_a_norm = nullptr;     // [d_c]
  float* kv_b = nullptr;          // [H * (nope + v_head), d_c]  (per head: nope rows, v rows)
  float* o_proj = nullptr;        // [d_model, H * v_head]
  float* idx_wq_b = nullptr;      // [H_I * d_I, q_lora]
  float* idx_wk = nullptr;        // [d_I, d_model]
  float* idx_k_norm_w = nullptr;  // [d_I]
  float* idx_k_norm_b = nullptr;  // [d_I]
  float* idx_weights = nullptr;   // [H_I, d_model]
  float* post_norm = nullptr;     // [d_model]
  bool moe = false;
  MlpTensors mlp;                   // dense FFN (moe == false)
  float* router = nullptr;          // [n_routed, d_model]
  float* router_bias = nullptr;     // [n_routed] e_score_correction_bias (selection only)
  std::vector<MlpTensors> experts;  // n_routed
  MlpTensors shared;                // hidden = moe_ffn * n_shared (hidden 0 when n_shared == 0)
};

struct ModelTensors {
  float* embed = nullptr;       // [vocab, d_model]
  float* final_norm = nullptr;  // [d_model]
  float* lm_head = nullptr;     // [vocab, d_model]
  std::vector<LayerTensors> layers;
};

// Binds the table's tensors to `base` (a buffer of table.total_floats() floats). Works for the
// parameter buffer and for the gradient buffer alike.
ModelTensors BindTensors(const ModelDims& dims, const ParamTable& table, float* base);

// Fills `base` per each tensor's Init: normal(0, dims.init_std), ones or zeros. Deterministic in
// `seed`; each tensor's values depend only on (seed, tensor name), not on the table's order.
void InitParameters(const ModelDims& dims, const ParamTable& table, uint64_t seed, float* base);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_PARAMS_H_
