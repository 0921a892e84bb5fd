// JSON Lines export and text dump (see export.h).
#include "store/export.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "proto/json_proto.h"
#include "store/keys.h"

namespace dsarl::store {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

bool HasRunsAndSteps(const std::string& table) {
  return table == "groups" || table == "trajectories" || table == "metrics" ||
         table == "checkpoints";
}

// Emits rows to the sink, counting them and stopping at the limit or the sink's first error.
class RowWriter {
 public:
  RowWriter(const LineSink& sink, uint64_t limit) : sink_(sink), limit_(limit) {}
  // False when the scan should stop.
  bool Emit(const std::string& line) {
    status_ = sink_(line);
    if (!status_.ok()) return false;
    ++rows_;
    return !Full();
  }
  bool Full() const { return limit_ != 0 && rows_ >= limit_; }
  uint64_t rows() const { return rows_; }
  const absl::Status& status() const { return status_; }

 private:
  const LineSink& sink_;
  const uint64_t limit_;
  uint64_t rows_ = 0;
  absl::Status status_;
};

// Rows of the runs column family with tag `tag` (metrics or checkpoints), filtered by run and step.
template <typename T>
absl::Status ExportRunsRows(const Store& store, char tag, const ExportOptions& options,
                            RowWriter* out) {
  std::string begin(1, tag);
  if (options.run_id.has_value()) AppendU64(&begin, *options.run_id);
  const std::string end = PrefixEnd(begin);
  absl::Status inner;
  auto view = store.db().NewReadView();
  RETURN_IF_ERROR(store.db().Scan(
      Cf::kRuns, begin, end,
      [&](absl::string_view key, absl::string_view value) {
        absl::string_view in = key.substr(1);
        uint64_t run = 0;
        int64_t step = 0;
        if (!ConsumeU64(&in, &run) || !ConsumeI64(&in, &step)) return true;
        if (step < options.step_from || step > options.step_to) return true;
        T record;
        if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          inner = absl::DataLossError(
              absl::StrCat("store ", store.dir(), ": unreadable ", DescribeKey("runs", key)));
          return false;
        }
        return out->Emit(ProtoToJson(record).Dump());
      },
      view.get()));
  return inner;
}

absl::Status ExportGroups(const Store& store, const ExportOptions& options, bool trajectories,
                          RowWriter* out) {
  GroupQuery query;
  query.run_id = options.run_id;
  query.step_from = options.step_from;
  query.step_to = options.step_to;
  query.with_trajectories = trajectories;
  return store.ScanGroups(query, [&](const proto::Group& group) {
    if (!trajectories) return out->Emit(ProtoToJson(group, {"trajectories"}).Dump());
    for (const proto::Trajectory& t : group.trajectories()) {
      // The group's key in front of each row, so a table of trajectories can be grouped.
      Json row = Json::Object();
      row.Set("run_id", Json::Uint(group.run_id()));
      row.Set("step", Json::Int(group.step()));
      row.Set("attempt", Json::Int(group.attempt()));
      row.Set("worker_id", Json::String(group.worker_id()));
      const Json members = ProtoToJson(t);
      for (const auto& [name, value] : members.object()) row.Set(name, value);
      if (!out->Emit(row.Dump())) return false;
    }
    return true;
  });
}

// The message type stored under `key` in `cf`; null for index entries and unknown keys.
std::unique_ptr<Message> NewValueMessage(Cf cf, absl::string_view key) {
  if (key.empty()) return nullptr;
  const char tag = key[0];
  switch (cf) {
    case Cf::kEnvs:
      if (tag == kEnvTag) return std::make_unique<proto::EnvSpec>();
      break;
    case Cf::kPrompts:
      if (tag == kPromptTag) return std::make_unique<proto::Prompt>();
      break;
    case Cf::kGroups:
      if (tag == kGroupTag) return std::make_unique<proto::Group>();
      break;
    case Cf::kTrajectories:
      if (tag == kTrajectoryTag) return std::make_unique<proto::Trajectory>();
      break;
    case Cf::kRuns:
      if (tag == kRunTag) return std::make_unique<proto::RunRecord>();
      if (tag == kMetricsTag) return std::make_unique<proto::StepMetrics>();
      if (tag == kCheckpointTag) return std::make_unique<proto::CheckpointRecord>();
      break;
    case Cf::kMeta:
      if (key == kMetaSchemaKey) return std::make_unique<proto::StoreMeta>();
      if (key == kMetaCountsKey) return std::make_unique<proto::StoreCounts>();
      break;
    case Cf::kQuarantine:
      if (tag == kQuarantineTag) return std::make_unique<proto::QuarantinedGroup>();
      break;
  }
  return nullptr;
}

// Cuts repeated fields longer than kDumpShown down to that many; returns a note per cut field.
std::vector<std::string> Elide(Message* message) {
  std::vector<std::string> notes;
  const auto* d = message->GetDescriptor();
  const auto* r = message->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (!f->is_repeated() || f->is_map()) continue;
    const int size = r->FieldSize(*message, f);
    if (size <= kDumpShown) continue;
    while (r->FieldSize(*message, f) > kDumpShown) r->RemoveLast(message, f);
    notes.push_back(absl::StrCat("# ", f->name(), ": ", size, " values, first ", kDumpShown,
                                 " shown (--full shows all)"));
  }
  return notes;
}

}  // namespace

absl::StatusOr<uint64_t> ExportJsonl(const Store& store, const ExportOptions& options,
                                     const LineSink& sink) {
  const std::string& t = options.table;
  if (std::find(kExportTables.begin(), kExportTables.end(), t) == kExportTables.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown table '", t, "'; export knows: ", absl::StrJoin(kExportTables, ", ")));
  }
  const bool filtered = options.run_id.has_value() ||
                        options.step_from != std::numeric_limits<int64_t>::min() ||
                        options.step_to != std::numeric_limits<int64_t>::max();
  if (filtered && !HasRunsAndSteps(t)) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", t, "' has no runs or steps to filter by"));
  }
  RowWriter out(sink, options.limit);
  absl::Status scan;
  if (t == "envs") {
    scan = store.ScanEnvs([&](const proto::EnvSpec& e) { return out.Emit(ProtoToJson(e).Dump()); });
  } else if (t == "prompts") {
    scan =
        store.ScanPrompts([&](const proto::Prompt& p) { return out.Emit(ProtoToJson(p).Dump()); });
  } else if (t == "groups" || t == "trajectories") {
    scan = ExportGroups(store, options, t == "trajectories", &out);
  } else if (t == "runs") {
    scan =
        store.ScanRuns([&](const proto::RunRecord& r) { return out.Emit(ProtoToJson(r).Dump()); });
  } else if (t == "metrics") {
    scan = ExportRunsRows<proto::StepMetrics>(store, kMetricsTag, options, &out);
  } else {
    scan = ExportRunsRows<proto::CheckpointRecord>(store, kCheckpointTag, options, &out);
  }
  RETURN_IF_ERROR(scan);
  RETURN_IF_ERROR(out.status());
  return out.rows();
}

absl::StatusOr<uint64_t> DumpText(const Store& store, const DumpOptions& options,
                                  const LineSink& sink) {
  const std::string cf_name = CfName(options.cf);
  uint64_t printed = 0;
  absl::Status inner;
  auto view = store.db().NewReadView();
  RETURN_IF_ERROR(store.db().Scan(
      options.cf, "", "",
      [&](absl::string_view key, absl::string_view value) {
        const std::string desc = DescribeKey(cf_name, key);
        std::unique_ptr<Message> message = NewValueMessage(options.cf, key);
        if (message == nullptr) {
          if (!options.index) return true;
          std::string line = absl::StrCat("# ", desc);
          if (options.cf == Cf::kGroups && !key.empty() && key[0] == kGroupIdTag) {
            absl::StrAppend(&line, " -> ", DescribeKey(cf_name, value));
          }
          inner = sink(line);
          return inner.ok();
        }
        if (!message->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          inner = absl::DataLossError(
              absl::StrCat("store ", store.dir(), ": unreadable value of ", desc));
          return false;
        }
        std::vector<std::string> notes;
        if (!options.full) notes = Elide(message.get());
        if (!options.full && options.cf == Cf::kQuarantine) {
          // The group's trajectories hold the long arrays.
          auto* q = static_cast<proto::QuarantinedGroup*>(message.get());
          for (int i = 0; i < q->group().trajectories_size(); ++i) {
            for (const std::string& note : Elide(q->mutable_group()->mutable_trajectories(i))) {
              notes.push_back(absl::StrCat("# trajectories[", i, "].", note.substr(2)));
            }
          }
        }
        std::string text;
        google::protobuf::TextFormat::PrintToString(*message, &text);
        inner = sink(absl::StrCat("# ", desc));
        for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
          if (inner.ok()) inner = sink(std::string(line));
        }
        for (const std::string& note : notes) {
          if (inner.ok()) inner = sink(note);
        }
        ++printed;
        return inner.ok() && (options.limit == 0 || printed < options.limit);
      },
      view.get()));
  RETURN_IF_ERROR(inner);
  return printed;
}

}  // namespace dsarl::store
