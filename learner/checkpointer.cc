#include "learner/checkpointer.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "model/checkpoint.h"

namespace dsarl::learner {
namespace {

constexpr char kOptimizerFile[] = "/optimizer.safetensors";
constexpr char kStateFile[] = "/learner_state.json";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::Status WriteState(const std::string& dir, const CheckpointState& state) {
  Json st = Json::Object();
  st.Set("step", Json::Int(state.step));
  st.Set("version", Json::Int(state.version));
  st.Set("optimizer_step", Json::Int(state.optimizer_step));
  st.Set("cursor", Json::Int(state.cursor));
  const std::string path = dir + kStateFile, tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << st.Dump(2) << "\n";
    if (!out) return absl::InternalError(absl::StrCat(path, ": write failed"));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat(path, ": rename failed: ", ec.message()));
  return absl::OkStatus();
}

// The state in DIR/learner_state.json; `step` when the file has none.
absl::StatusOr<CheckpointState> ReadState(const std::string& dir, int64_t step) {
  const std::string path = dir + kStateFile;
  ASSIGN_OR_RETURN(std::string text, ReadFileBounded(path, kMaxTextFileBytes, "learner state"));
  absl::StatusOr<Json> st = ParseJson(text);
  if (!st.ok()) return Annotate(st.status(), path);
  CheckpointState s;
  s.step = st->Find("step") ? st->Find("step")->int_value() : step;
  s.version = st->Find("version") ? st->Find("version")->int_value() : s.step;
  s.optimizer_step = st->Find("optimizer_step") ? st->Find("optimizer_step")->int_value() : 0;
  if (const Json* cursor = st->Find("cursor")) s.cursor = cursor->int_value();
  return s;
}

}  // namespace

std::string Checkpointer::DirFor(int64_t step) const {
  return absl::StrFormat("%s/checkpoints/step_%06d", output_dir_, step);
}

absl::StatusOr<std::string> Checkpointer::Save(const model::Transformer& policy,
                                               const AdamW& optimizer,
                                               const CheckpointState& state) const {
  const std::string dir = DirFor(state.step);
  RETURN_IF_ERROR(model::SaveCheckpoint(
      dir, policy,
      {{"step", std::to_string(state.step)}, {"version", std::to_string(state.version)}}));
  RETURN_IF_ERROR(optimizer.Save(dir + kOptimizerFile));
  RETURN_IF_ERROR(WriteState(dir, state));
  proto::CheckpointRecord rec;
  rec.set_run_id(run_id_);
  rec.set_step(state.step);
  rec.set_policy_version(state.version);
  rec.set_path(dir);
  rec.set_unix_ms(NowMs());
  RETURN_IF_ERROR(store_->PutCheckpoint(rec));
  DSARL_LOG_INFO("learner: checkpoint {} written", dir);
  return dir;
}

absl::StatusOr<proto::CheckpointRecord> Checkpointer::Latest() const {
  return store_->LatestCheckpoint(run_id_);
}

absl::StatusOr<CheckpointState> Checkpointer::Load(const proto::CheckpointRecord& record,
                                                   model::Transformer* policy,
                                                   AdamW* optimizer) const {
  const std::string& dir = record.path();
  ASSIGN_OR_RETURN(std::unique_ptr<model::Transformer> loaded, model::LoadCheckpoint(dir));
  if (loaded->table().total_floats() != policy->table().total_floats()) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": checkpoint shape differs from the config"));
  }
  std::copy_n(loaded->params(), policy->table().total_floats(), policy->params());
  RETURN_IF_ERROR(optimizer->Load(dir + kOptimizerFile));
  return ReadState(dir, record.step());
}

absl::StatusOr<std::optional<ResumePoint>> Checkpointer::LoadLatest(model::Transformer* policy,
                                                                    AdamW* optimizer) const {
  absl::StatusOr<proto::CheckpointRecord> latest = Latest();
  if (latest.status().code() == absl::StatusCode::kNotFound) return std::nullopt;
  if (!latest.ok()) return latest.status();
  ASSIGN_OR_RETURN(CheckpointState state, Load(*latest, policy, optimizer));
  return ResumePoint{*std::move(latest), state};
}

}  // namespace dsarl::learner
