#include "learner/optimizer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "model/safetensors.h"

namespace dsarl::learner {

double LrSchedule::At(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps) return peak * double(step + 1) / warmup_steps;
  const int64_t decay = std::max<int64_t>(1, total_steps - warmup_steps);
  const double progress = std::min(1.0, double(step - warmup_steps) / decay);
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return peak * (min_ratio + (1.0 - min_ratio) * cosine);
}

bool AllTrainable(const model::TensorInfo& t) { return t.trainable; }
bool IndexerOnly(const model::TensorInfo& t) { return t.trainable && t.is_indexer; }

AdamW::AdamW(const model::ParamTable& table, AdamWConfig config, TensorFilter filter)
    : table_(table),
      config_(config),
      filter_(std::move(filter)),
      m_(table.total_floats(), 0.0f),
      v_(table.total_floats(), 0.0f) {}

void AdamW::Step(float* params, const float* grads, double lr) {
  ++t_;
  const double b1 = config_.beta1, b2 = config_.beta2;
  const double c1 = 1.0 - std::pow(b1, double(t_)), c2 = 1.0 - std::pow(b2, double(t_));
  for (const model::TensorInfo& t : table_.tensors()) {
    if (!filter_(t)) continue;
    const bool decay = config_.weight_decay > 0 && t.shape.size() >= 2;
    float* p = params + t.offset;
    const float* g = grads + t.offset;
    float* m = m_.data() + t.offset;
    float* v = v_.data() + t.offset;
#pragma omp parallel for schedule(static) if (t.numel > 65536)
    for (size_t i = 0; i < t.numel; ++i) {
      m[i] = float(b1 * m[i] + (1 - b1) * g[i]);
      v[i] = float(b2 * v[i] + (1 - b2) * double(g[i]) * g[i]);
      const double mh = m[i] / c1, vh = v[i] / c2;
      double update = mh / (std::sqrt(vh) + config_.eps);
      if (decay) update += config_.weight_decay * p[i];
      p[i] = float(p[i] - lr * update);
    }
  }
}

absl::Status AdamW::Save(const std::string& path) const {
  std::vector<model::TensorToWrite> out;
  for (const model::TensorInfo& t : table_.tensors()) {
    if (!filter_(t)) continue;
    out.push_back({"m." + t.name, model::Dtype::kF32, t.shape, m_.data() + t.offset});
    out.push_back({"v." + t.name, model::Dtype::kF32, t.shape, v_.data() + t.offset});
  }
  return model::WriteSafetensors(path, out, {{"adamw_step", std::to_string(t_)}});
}

absl::Status AdamW::Load(const std::string& path) {
  ASSIGN_OR_RETURN(model::SafetensorsFile f, model::SafetensorsFile::Open(path));
  auto it = f.metadata().find("adamw_step");
  if (it == f.metadata().end()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no adamw_step in the metadata"));
  }
  std::vector<float> m(m_.size(), 0.0f), v(v_.size(), 0.0f);
  for (const model::TensorInfo& t : table_.tensors()) {
    if (!filter_(t)) continue;
    for (auto [prefix, buf] : {std::pair{"m.", &m}, std::pair{"v.", &v}}) {
      const std::string name = prefix + t.name;
      const model::SafetensorsTensorInfo* info = f.Find(name);
      if (info == nullptr || info->shape != t.shape) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": optimizer tensor ", name, " is missing or has another shape"));
      }
      RETURN_IF_ERROR(f.ReadFloat32Into(name, absl::Span<float>(buf->data() + t.offset, t.numel)));
    }
  }
  m_ = std::move(m);
  v_ = std::move(v);
  t_ = std::stoll(it->second);
  return absl::OkStatus();
}

double GradNorm(const model::ParamTable& table, const float* grads, const TensorFilter& filter) {
  double ss = 0;
  for (const model::TensorInfo& t : table.tensors()) {
    if (!filter(t)) continue;
    const float* g = grads + t.offset;
    for (size_t i = 0; i < t.numel; ++i) ss += double(g[i]) * g[i];
  }
  return std::sqrt(ss);
}

void ScaleGrads(const model::ParamTable& table, float* grads, const TensorFilter& filter,
                float scale) {
  for (const model::TensorInfo& t : table.tensors()) {
    if (!filter(t)) continue;
    float* g = grads + t.offset;
    for (size_t i = 0; i < t.numel; ++i) g[i] *= scale;
  }
}

}  // namespace dsarl::learner
