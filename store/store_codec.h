// What the typed store API's source files share: deterministic serialization of values, a
// write batch that keeps its first error, parsing a value with a DataLoss naming its key, and
// Store::ScanRecords, which every column family's scans use.
// Internal to store/.
#ifndef DSARL_STORE_STORE_CODEC_H_
#define DSARL_STORE_STORE_CODEC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"
#include "rocksdb/write_batch.h"
#include "store/db.h"
#include "store/keys.h"
#include "store/store.h"

namespace dsarl::store::internal {

// Map fields (EnvSpec.params, Prompt.reference, StepMetrics.values) serialize in hash order by
// default; deterministic serialization makes stored values byte-identical across processes.
inline std::string Deterministic(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// A WriteBatch that remembers its first error, so building code stays linear.
class Batch {
 public:
  explicit Batch(const Database& db) : db_(db) {}
  void Put(Cf cf, const std::string& key, const std::string& value) {
    if (status_.ok()) status_ = batch_.Put(db_.handle(cf), key, value);
  }
  void Delete(Cf cf, const std::string& key) {
    if (status_.ok()) status_ = batch_.Delete(db_.handle(cf), key);
  }
  rocksdb::WriteBatch* batch() { return &batch_; }
  absl::Status status() const { return FromRocks(status_, "building a store write"); }

 private:
  const Database& db_;
  rocksdb::WriteBatch batch_;
  rocksdb::Status status_;
};

template <typename T>
absl::Status ParseValue(const Database& db, Cf cf, absl::string_view key, absl::string_view value,
                        T* out) {
  if (out->ParseFromArray(value.data(), static_cast<int>(value.size()))) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("store ", db.dir(), ": unreadable value of ",
                                          DescribeKey(CfName(cf), key), " in ", CfName(cf)));
}

}  // namespace dsarl::store::internal

namespace dsarl::store {

// Every record of `cf` in [begin, end), parsed as T, in one consistent view.
template <typename T>
absl::Status Store::ScanRecords(Cf cf, const std::string& begin, const std::string& end,
                                const Visitor<T>& visit) const {
  absl::Status inner;
  auto view = db_->NewReadView();
  RETURN_IF_ERROR(db_->Scan(
      cf, begin, end,
      [&](absl::string_view key, absl::string_view value) {
        T record;
        inner = internal::ParseValue(*db_, cf, key, value, &record);
        return inner.ok() && visit(record);
      },
      view.get()));
  return inner;
}

}  // namespace dsarl::store

#endif  // DSARL_STORE_STORE_CODEC_H_
