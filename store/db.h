// The RocksDB database under a store: opening and creating it with our column families and
// options, checking that it is a dsarl store of a schema version we understand, consistent reads,
// atomic batch writes, and RocksDB status -> absl::Status conversion. It knows nothing of the
// records (store.h does); it exists so the typed API never touches RocksDB set-up or errors.
//
// One writer per directory (RocksDB holds a LOCK file); any number of readers, in-process through
// the same Database from any thread, or in other processes through a read-only Database (a RocksDB
// secondary instance, safe while the writer runs).
#ifndef DSARL_STORE_DB_H_
#define DSARL_STORE_DB_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/config.pb.h"
#include "proto/data.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "store/verify.h"

namespace dsarl::store {

// Layout version of keys and values (docs/store.md). Bump it when a change would make an older
// dsarl misread a store; older stores stay readable by newer code.
inline constexpr uint32_t kSchemaVersion = 1;

// Our column families, in a fixed order (the index of each is its Cf value). `quarantine` came
// after schema 1's first stores: a writer creates it in a store that lacks it, and a reader of such
// a store sees it empty (no schema bump: older dsarl versions open it as a newer schema's extra).
enum class Cf { kEnvs = 0, kPrompts, kGroups, kTrajectories, kRuns, kMeta, kQuarantine };
inline constexpr int kNumCfs = 7;
inline constexpr std::array<const char*, kNumCfs> kCfNames = {
    "envs", "prompts", "groups", "trajectories", "runs", "meta", "quarantine"};

// The name of `cf` ("envs", ...).
const char* CfName(Cf cf);
// The Cf named `name`; InvalidArgument listing the valid names otherwise.
absl::StatusOr<Cf> CfFromName(const std::string& name);

struct OpenOptions {
  // Create the directory and an empty store when none exists (writer only).
  bool create_if_missing = false;
  // Open as a reader that never writes and never takes the LOCK, so it can run beside the writer
  // (another process). It sees the store as of Open or the last CatchUp().
  bool read_only = false;
  // Before opening, check every SST file the MANIFEST lists: present, of its recorded size, every
  // block's checksum good (VerifyStoreFiles, verify.h). A reader needs it to see damage at all (a
  // secondary instance silently reads an older state instead); it reads the whole store once, so
  // the read-only tools ask for it and training does not.
  bool verify = false;
  // Sync policy and cache size (proto/config.proto).
  proto::StoreConfig config;
};

// Size and shape of one column family, from RocksDB's properties.
struct CfStats {
  std::string name;
  uint64_t estimated_keys = 0;  // rocksdb.estimate-num-keys (approximate)
  uint64_t sst_bytes = 0;       // rocksdb.total-sst-files-size
  uint64_t memtable_bytes = 0;  // rocksdb.cur-size-all-mem-tables
  uint64_t sst_files = 0;       // rocksdb.num-files-at-level<N>, summed
};

// Converts a RocksDB status, prefixing `context` to the message. OK -> OK; NotFound -> NotFound;
// Corruption -> DataLoss; out of disk space -> ResourceExhausted; a held LOCK ->
// FailedPrecondition; other I/O errors -> Unavailable; InvalidArgument / NotSupported -> same; the
// rest -> Internal.
absl::Status FromRocks(const rocksdb::Status& status, absl::string_view context);

class Database {
 public:
  // Opens the store in `dir`. Errors, each naming `dir`:
  //   NotFound            no directory, or no RocksDB database in it (and not creating one)
  //   FailedPrecondition  a RocksDB database that is not a dsarl store (no `meta` column family or
  //                       schema record); a store of a newer schema version than kSchemaVersion;
  //                       the LOCK is held by another writer; a store whose creation was
  //                       interrupted, opened without create_if_missing (with it, creation
  //                       completes)
  //   DataLoss            corrupt files (CURRENT, MANIFEST, SST) or an unreadable schema record;
  //                       with options.verify, a missing, truncated or corrupt SST file, named
  //   ResourceExhausted   the disk is full while creating
  //   Unavailable / other I/O errors from RocksDB
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& dir,
                                                        const OpenOptions& options);
  // Closes (see Close); errors are logged.
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Flushes nothing extra (the WAL already holds every acknowledged write), releases the LOCK
  // and the files. Returns RocksDB's close error, if any. Idempotent; afterwards reads and writes
  // return FailedPrecondition.
  absl::Status Close();

  const std::string& dir() const { return dir_; }
  bool read_only() const { return read_only_; }
  // The schema record read (or written) at Open.
  const proto::StoreMeta& meta() const { return meta_; }
  // What the check of OpenOptions::verify covered; all zero when it was not asked for.
  const VerifyReport& verified() const { return verified_; }

  // A consistent view for several reads: a RocksDB snapshot for the writer, and for a reader a
  // shared lock that holds off CatchUp (so a thread holding a view must not call CatchUp).
  // Destroy it before the Database.
  class ReadView {
   public:
    const rocksdb::Snapshot* snapshot() const {
      return snapshot_ ? snapshot_->snapshot() : nullptr;
    }

   private:
    friend class Database;
    std::unique_ptr<rocksdb::ManagedSnapshot> snapshot_;
    std::shared_lock<std::shared_mutex> catch_up_lock_;
  };
  std::unique_ptr<ReadView> NewReadView() const;

  // The value of `key` in `cf`. NotFound (naming the CF) when absent; other read errors as
  // FromRocks. `view` may be null (latest state).
  absl::StatusOr<std::string> Get(Cf cf, const std::string& key,
                                  const ReadView* view = nullptr) const;

  // Visits, in key order, every entry of `cf` with begin <= key < end ("" end: to the end of the
  // CF) until `visit` returns false. Returns OK, or the iterator's error.
  absl::Status Scan(
      Cf cf, const std::string& begin, const std::string& end,
      const std::function<bool(absl::string_view key, absl::string_view value)>& visit,
      const ReadView* view = nullptr) const;

  // The last entry of `cf` with begin <= key < end: true and fills key/value, false when the
  // range is empty; errors from the iterator.
  absl::StatusOr<bool> Last(Cf cf, const std::string& begin, const std::string& end,
                            std::string* key, std::string* value,
                            const ReadView* view = nullptr) const;

  // Applies `batch` atomically: all of it is durable in the WAL (fsynced when sync_writes) when
  // OK is returned, none of it otherwise. FailedPrecondition on a read-only Database;
  // ResourceExhausted when the disk is full: RocksDB then refuses writes until it sees a write
  // buffer's worth of free space and resumes by itself; until then every Write returns
  // ResourceExhausted without writing. Other errors as FromRocks.
  absl::Status Write(rocksdb::WriteBatch* batch);

  // Column family handle for building batches. Null only on a reader, for a column family the
  // store does not have yet (`quarantine` in an older store); reads of it find nothing.
  rocksdb::ColumnFamilyHandle* handle(Cf cf) const { return handles_[static_cast<int>(cf)]; }

  // Writes every column family's memtable to SST files and waits (writer only). Not needed for
  // durability (the WAL has every acknowledged write); it shortens the next open's WAL replay.
  // FailedPrecondition on a reader; I/O errors as FromRocks.
  absl::Status Flush();

  // Reader only: picks up what the writer has written since Open (or the last call), by reopening.
  // Waits for reads and views in flight. OK on success; FailedPrecondition on the writer; the
  // errors of Open otherwise (the Database is then closed).
  absl::Status CatchUp();

  // RocksDB's properties of every column family, in Cf order.
  std::vector<CfStats> Stats() const;

 private:
  Database() = default;
  absl::Status OpenRocks(const OpenOptions& options, bool exists);
  absl::StatusOr<std::vector<std::string>> ExistingFamilies(const rocksdb::DBOptions& db_options,
                                                            bool create);
  absl::Status CheckOrWriteSchema(bool create);
  // Opens the database read-only and closes it again: whether every column family is empty, or
  // why it cannot be opened (corruption, I/O).
  absl::StatusOr<bool> ProbeEmpty(rocksdb::DBOptions db_options,
                                  const std::vector<std::string>& names);
  // FailedPrecondition after Close.
  absl::Status CheckOpen() const;
  // Get without taking the CatchUp lock.
  absl::StatusOr<std::string> GetUnlocked(Cf cf, const std::string& key,
                                          const ReadView* view) const;
  // Closes the RocksDB instance only (CatchUp reopens it).
  absl::Status CloseRocks();
  // A reader's read without a view holds off CatchUp for its duration (a view already does).
  std::shared_lock<std::shared_mutex> LockUnlessViewed(const ReadView* view) const;

  std::string dir_;
  OpenOptions options_;
  bool read_only_ = false;
  bool sync_writes_ = false;
  std::string secondary_dir_;  // temporary info-log directory of a reader, removed at Close
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kNumCfs> handles_{};
  std::vector<rocksdb::ColumnFamilyHandle*> extra_handles_;  // CFs of a newer schema, or default
  proto::StoreMeta meta_;
  VerifyReport verified_;
  mutable std::shared_mutex catch_up_mu_;
  std::atomic<bool> write_failed_{false};  // the last Write failed: Resume() before the next
};

}  // namespace dsarl::store

#endif  // DSARL_STORE_DB_H_
