// Metrics files and store rows (see metrics.h).
#include "learner/metrics.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/crc32c.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "proto/data.pb.h"
#include "proto/tensorboard.pb.h"

namespace dsarl::learner {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The step of a metrics.jsonl line; nullopt for a line that is not an object with an integer step.
std::optional<int64_t> StepOf(const std::string& line) {
  absl::StatusOr<Json> row = ParseJson(line);
  if (!row.ok()) return std::nullopt;
  const Json* step = row->Find("step");
  if (step == nullptr || !step->is_integer()) return std::nullopt;
  return step->int_value();
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << contents;
    out.flush();
    if (!out) {
      return absl::ResourceExhaustedError(absl::StrCat(tmp, ": write failed (disk full?)"));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat(path, ": cannot replace: ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> KeepMetricsRowsUpTo(const std::string& path, int64_t last_step) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    if (!std::filesystem::exists(path)) return 0;
    return absl::InternalError(absl::StrCat(path, ": cannot open"));
  }
  const std::string original((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) return absl::InternalError(absl::StrCat(path, ": read failed"));
  std::map<int64_t, std::string> kept;  // step -> its last row
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(original, '\n', absl::SkipEmpty())) {
    ++lines;
    const std::optional<int64_t> step = StepOf(std::string(line));
    if (step.has_value() && *step <= last_step) kept[*step] = std::string(line);
  }
  std::string contents;
  for (const auto& [step, row] : kept) absl::StrAppend(&contents, row, "\n");
  if (contents == original) return 0;
  RETURN_IF_ERROR(WriteFileAtomically(path, contents));
  return lines - static_cast<int>(kept.size());
}

absl::StatusOr<std::unique_ptr<MetricsWriter>> MetricsWriter::Open(const std::string& dir,
                                                                   const MetricsOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir + "/tensorboard", ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  std::unique_ptr<MetricsWriter> w(new MetricsWriter());
  w->store_ = options.store;
  w->run_id_ = options.run_id;
  w->jsonl_path_ = dir + "/metrics.jsonl";
  if (options.resume_step.has_value()) {
    const int64_t s = *options.resume_step;
    ASSIGN_OR_RETURN(int dropped, KeepMetricsRowsUpTo(w->jsonl_path_, s));
    uint64_t removed = 0;
    if (w->store_ != nullptr) {
      ASSIGN_OR_RETURN(removed, w->store_->DeleteStepMetricsAfter(w->run_id_, s));
    }
    if (dropped > 0 || removed > 0) {
      DSARL_LOG_INFO(
          "metrics: resuming after step {}: dropped {} line(s) of {} and {} store row(s) of run {} "
          "(steps after the checkpoint, trained again now)",
          s, dropped, w->jsonl_path_, removed, w->run_id_);
    }
  }
  w->jsonl_ = std::fopen(w->jsonl_path_.c_str(), "a");
  if (w->jsonl_ == nullptr) {
    return absl::InternalError(absl::StrCat(w->jsonl_path_, ": cannot open"));
  }
  RETURN_IF_ERROR(w->OpenTensorBoard(dir));
  if (options.resume_step.has_value()) {
    tensorboard::Event restart;
    restart.set_wall_time(Now());
    restart.set_step(*options.resume_step + 1);
    restart.mutable_session_log()->set_status(tensorboard::SessionLog::START);
    RETURN_IF_ERROR(w->WriteRecord(restart.SerializeAsString()));
  }
  return w;
}

absl::Status MetricsWriter::OpenTensorBoard(const std::string& dir) {
  events_path_ =
      absl::StrCat(dir, "/tensorboard/events.out.tfevents.", static_cast<int64_t>(Now()), ".dsarl");
  for (int i = 1; std::filesystem::exists(events_path_); ++i) {
    events_path_ = absl::StrCat(dir, "/tensorboard/events.out.tfevents.",
                                static_cast<int64_t>(Now()), ".dsarl.", i);
  }
  events_ = std::fopen(events_path_.c_str(), "wb");
  if (events_ == nullptr) return absl::InternalError(absl::StrCat(events_path_, ": cannot open"));
  tensorboard::Event first;
  first.set_wall_time(Now());
  first.set_file_version("brain.Event:2");
  return WriteRecord(first.SerializeAsString());
}

MetricsWriter::~MetricsWriter() {
  if (jsonl_ != nullptr) std::fclose(jsonl_);
  if (events_ != nullptr) std::fclose(events_);
}

absl::Status MetricsWriter::WriteRecord(const std::string& data) {
  // TFRecord: uint64 length, masked crc32c(length), data, masked crc32c(data); little-endian.
  char header[12];
  const uint64_t len = data.size();
  std::memcpy(header, &len, 8);
  const uint32_t len_crc = MaskCrc32c(Crc32c(header, 8));
  std::memcpy(header + 8, &len_crc, 4);
  const uint32_t data_crc = MaskCrc32c(Crc32c(data));
  if (std::fwrite(header, 1, 12, events_) != 12 ||
      std::fwrite(data.data(), 1, data.size(), events_) != data.size() ||
      std::fwrite(&data_crc, 1, 4, events_) != 4 || std::fflush(events_) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat(events_path_, ": write failed (disk full?)"));
  }
  return absl::OkStatus();
}

absl::Status MetricsWriter::WriteJsonl(int64_t step, double now,
                                       const std::map<std::string, double>& values) {
  Json row = Json::Object();
  row.Set("step", Json::Int(step));
  row.Set("time", Json::Number(now));
  for (const auto& [k, v] : values) row.Set(k, std::isfinite(v) ? Json::Number(v) : Json());
  const std::string line = row.Dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), jsonl_) != line.size() || std::fflush(jsonl_) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat(jsonl_path_, ": write failed (disk full?)"));
  }
  return absl::OkStatus();
}

absl::Status MetricsWriter::WriteEvent(int64_t step, double now,
                                       const std::map<std::string, double>& values) {
  tensorboard::Event ev;
  ev.set_wall_time(now);
  ev.set_step(step);
  for (const auto& [k, v] : values) {
    if (!std::isfinite(v)) continue;
    auto* val = ev.mutable_summary()->add_value();
    val->set_tag(k);
    val->set_simple_value(static_cast<float>(v));
  }
  return WriteRecord(ev.SerializeAsString());
}

absl::Status MetricsWriter::Write(int64_t step, const std::map<std::string, double>& values) {
  const double now = Now();
  absl::Status result = WriteJsonl(step, now, values);
  absl::Status event = WriteEvent(step, now, values);
  if (result.ok()) result = event;
  if (store_ != nullptr) {
    proto::StepMetrics row;
    row.set_run_id(run_id_);
    row.set_step(step);
    row.set_unix_ms(static_cast<int64_t>(now * 1000));
    row.mutable_values()->insert(values.begin(), values.end());
    absl::Status stored = store_->PutStepMetrics(row);
    if (result.ok()) result = stored;
  }
  return result;
}

}  // namespace dsarl::learner
