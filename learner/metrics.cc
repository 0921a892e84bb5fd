#include "learner/metrics.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/crc32c.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "proto/tensorboard.pb.h"

namespace dsarl::learner {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsWriter>> MetricsWriter::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir + "/tensorboard", ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  std::unique_ptr<MetricsWriter> w(new MetricsWriter());
  w->jsonl_path_ = dir + "/metrics.jsonl";
  w->jsonl_ = std::fopen(w->jsonl_path_.c_str(), "a");
  if (w->jsonl_ == nullptr)
    return absl::InternalError(absl::StrCat(w->jsonl_path_, ": cannot open"));
  w->events_path_ =
      absl::StrCat(dir, "/tensorboard/events.out.tfevents.", static_cast<int64_t>(Now()), ".dsarl");
  for (int i = 1; std::filesystem::exists(w->events_path_); ++i) {
    w->events_path_ = absl::StrCat(dir, "/tensorboard/events.out.tfevents.",
                                   static_cast<int64_t>(Now()), ".dsarl.", i);
  }
  w->events_ = std::fopen(w->events_path_.c_str(), "wb");
  if (w->events_ == nullptr)
    return absl::InternalError(absl::StrCat(w->events_path_, ": cannot open"));
  tensorboard::Event first;
  first.set_wall_time(Now());
  first.set_file_version("brain.Event:2");
  RETURN_IF_ERROR(w->WriteRecord(first.SerializeAsString()));
  return w;
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

absl::Status MetricsWriter::Write(int64_t step, const std::map<std::string, double>& values) {
  Json row = Json::Object();
  row.Set("step", Json::Int(step));
  row.Set("time", Json::Number(Now()));
  tensorboard::Event ev;
  ev.set_wall_time(Now());
  ev.set_step(step);
  for (const auto& [k, v] : values) {
    row.Set(k, std::isfinite(v) ? Json::Number(v) : Json());
    if (!std::isfinite(v)) continue;
    auto* val = ev.mutable_summary()->add_value();
    val->set_tag(k);
    val->set_simple_value(static_cast<float>(v));
  }
  const std::string line = row.Dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), jsonl_) != line.size() || std::fflush(jsonl_) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat(jsonl_path_, ": write failed (disk full?)"));
  }
  return WriteRecord(ev.SerializeAsString());
}

}  // namespace dsarl::learner
