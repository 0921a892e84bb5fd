// Opening, checking and writing the store's RocksDB database (see db.h).
#include "store/db.h"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "store/keys.h"
#include "store/rocks_logger.h"

#ifndef DSARL_VERSION
#define DSARL_VERSION "unknown"
#endif

namespace dsarl::store {
namespace {

namespace fs = std::filesystem;

rocksdb::DBOptions MakeDbOptions(const std::string& dir, const OpenOptions& options, bool create) {
  rocksdb::DBOptions o;
  o.create_if_missing = create;
  // A writer also adds the column families a store made by an older dsarl lacks (OpenRocks has
  // checked that only optional ones are missing).
  o.create_missing_column_families = create || !options.read_only;
  // A torn record at the end of the WAL (a crash mid-write) is dropped; everything acknowledged
  // before it is recovered.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // `meta` is written by every batch but rarely fills its memtable; this bound makes RocksDB
  // flush it (and free old WAL files) instead of keeping every WAL alive.
  o.max_total_wal_size = uint64_t{256} << 20;
  o.bytes_per_sync = uint64_t{1} << 20;
  o.max_open_files = -1;  // required by secondary instances; also what RocksDB defaults to
  // Our logger, not RocksDB's: RocksDB's own LOG writer aborts (a debug assertion, live in Debian's
  // build) when it logs again after a failed write, which a full disk causes. A reader writes no
  // file into the writer's directory.
  o.info_log = std::make_shared<RocksLogger>(options.read_only ? "" : dir + "/LOG");
  return o;
}

rocksdb::ColumnFamilyOptions MakeCfOptions(Cf cf, const proto::StoreConfig& config,
                                           const std::shared_ptr<rocksdb::Cache>& cache) {
  const size_t write_buffer = size_t(config.write_buffer_mb()) << 20;
  rocksdb::ColumnFamilyOptions o;
  o.compression = rocksdb::kLZ4Compression;
  o.level_compaction_dynamic_level_bytes = true;
  rocksdb::BlockBasedTableOptions table;
  if (cache) {
    table.block_cache = cache;
  } else {
    table.no_block_cache = true;
  }
  // Every append looks up its (prompt, attempt) index key, which is usually absent.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.format_version = 5;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  switch (cf) {
    case Cf::kTrajectories:
      // Large values (KBs of tokens), written once, read in group order. No BlobDB: RocksDB 7.8's
      // secondary instances (our readers) crash reading blob files.
      o.write_buffer_size = write_buffer;
      o.target_file_size_base = uint64_t{64} << 20;
      o.max_bytes_for_level_base = uint64_t{512} << 20;
      break;
    case Cf::kMeta:
      o.write_buffer_size = std::min(write_buffer, size_t{4} << 20);
      break;
    default:
      o.write_buffer_size = std::min(write_buffer, size_t{16} << 20);
      break;
  }
  return o;
}

bool IsOurs(const std::string& name) {
  return std::find(kCfNames.begin(), kCfNames.end(), name) != kCfNames.end();
}

// Column families added after the first stores of schema 1: a store may lack them.
bool IsOptional(const std::string& name) { return name == kCfNames[int(Cf::kQuarantine)]; }

bool Has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* CfName(Cf cf) { return kCfNames[static_cast<int>(cf)]; }

absl::StatusOr<Cf> CfFromName(const std::string& name) {
  for (int i = 0; i < kNumCfs; ++i) {
    if (name == kCfNames[i]) return static_cast<Cf>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown column family '", name, "'; the store has: ", absl::StrJoin(kCfNames, ", ")));
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(context, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsNoSpace() || absl::StrContains(s.ToString(), "No space left on device")) {
    return absl::ResourceExhaustedError(absl::StrCat(msg, " (disk full)"));
  }
  if (s.IsIOError() && absl::StrContains(s.ToString(), "/LOCK")) {
    return absl::FailedPreconditionError(absl::StrCat(
        msg, " (another process has this store open for writing; readers open it read-only)"));
  }
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    return absl::UnavailableError(msg);
  }
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (s.IsNotSupported()) return absl::UnimplementedError(msg);
  return absl::InternalError(msg);
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& dir,
                                                         const OpenOptions& options) {
  std::unique_ptr<Database> db(new Database());
  db->dir_ = dir;
  db->read_only_ = options.read_only;
  db->sync_writes_ = options.config.sync_writes();
  db->options_ = options;
  const bool create = options.create_if_missing && !options.read_only;
  std::error_code ec;
  const bool dir_exists = fs::is_directory(dir, ec);
  const bool exists = dir_exists && fs::exists(fs::path(dir) / "CURRENT", ec);
  if (!exists && !create) {
    return absl::NotFoundError(
        dir_exists ? absl::StrCat("no dsarl store at ", dir,
                                  ": the directory holds no RocksDB database (no CURRENT file)")
                   : absl::StrCat("no dsarl store at ", dir, ": the directory does not exist"));
  }
  if (!dir_exists) {
    fs::create_directories(dir, ec);
    if (ec) {
      std::string msg = absl::StrCat("creating store directory ", dir, ": ", ec.message());
      return ec == std::errc::no_space_on_device ? absl::ResourceExhaustedError(msg)
                                                 : absl::UnavailableError(msg);
    }
  }
  absl::Status opened;
  if (options.verify && exists) {
    absl::StatusOr<VerifyReport> verified = VerifyStoreFiles(dir);
    opened = verified.status();
    if (verified.ok()) db->verified_ = *verified;
  }
  if (opened.ok()) opened = db->OpenRocks(options, exists);
  if (opened.ok()) opened = db->CheckOrWriteSchema(create);
  if (absl::IsDataLoss(opened)) {
    return absl::DataLossError(absl::StrCat(opened.message(),
                                            " (the store is damaged; after "
                                            "copying the directory, `ldb repair --db=",
                                            dir, "` may salvage what is left)"));
  }
  RETURN_IF_ERROR(opened);
  DSARL_LOG_DEBUG("store {} open ({}, schema {})", dir, db->read_only_ ? "read-only" : "writer",
                  db->meta_.schema_version());
  return db;
}

absl::StatusOr<bool> Database::ProbeEmpty(rocksdb::DBOptions db_options,
                                          const std::vector<std::string>& names) {
  db_options.info_log = std::make_shared<RocksLogger>("");
  db_options.create_if_missing = false;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(db_options, dir_, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("opening store ", dir_));
  std::unique_ptr<rocksdb::DB> db(raw);
  bool empty = true;
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
    it->SeekToFirst();
    if (!it->status().ok()) s = it->status();
    if (it->Valid()) empty = false;
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
  if (!s.ok()) return FromRocks(s, absl::StrCat("opening store ", dir_));
  return empty;
}

// The column families of an existing store: ours (a reader needs every one but the optional
// ones), or refused as another database's.
absl::StatusOr<std::vector<std::string>> Database::ExistingFamilies(
    const rocksdb::DBOptions& db_options, bool create) {
  std::vector<std::string> existing;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir_, &existing);
  if (!s.ok()) return FromRocks(s, absl::StrCat("opening store ", dir_));
  const bool has_meta = std::count(existing.begin(), existing.end(), "meta") > 0;
  if (!has_meta) {
    // Open it read-only first: a damaged MANIFEST can list only `default`, and that must read as
    // corruption, not as a foreign database. A writer that crashed while creating the store
    // leaves an empty database with some of our column families; creating again completes it.
    // Anything else is not ours, and is left untouched.
    ASSIGN_OR_RETURN(bool empty, ProbeEmpty(db_options, existing));
    const bool ours_or_default = std::all_of(
        existing.begin(), existing.end(),
        [](const std::string& n) { return n == rocksdb::kDefaultColumnFamilyName || IsOurs(n); });
    if (!(create && empty && ours_or_default)) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir_,
                       " is a RocksDB database but not a dsarl store (no `meta` column "
                       "family; it has: ",
                       absl::StrJoin(existing, ", "), ")"));
    }
  }
  if (!create) {
    for (const char* name : kCfNames) {
      if (!IsOptional(name) && !Has(existing, name)) {
        return absl::FailedPreconditionError(absl::StrCat(
            dir_, " is not a complete dsarl store: column family `", name, "` is missing"));
      }
    }
  }
  return existing;
}

absl::Status Database::OpenRocks(const OpenOptions& options, bool exists) {
  const bool create = options.create_if_missing && !options.read_only;
  rocksdb::DBOptions db_options = MakeDbOptions(dir_, options, create);
  std::vector<std::string> existing;
  if (exists) {
    ASSIGN_OR_RETURN(existing, ExistingFamilies(db_options, create));
  }
  std::shared_ptr<rocksdb::Cache> cache;
  if (options.config.block_cache_mb() > 0) {
    cache = rocksdb::NewLRUCache(size_t(options.config.block_cache_mb()) << 20);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  std::vector<int> ours;  // the Cf of each of our descriptors, in order
  for (int i = 0; i < kNumCfs; ++i) {
    // A reader cannot create a family: one the store lacks stays without a handle.
    if (options.read_only && exists && IsOptional(kCfNames[i]) && !Has(existing, kCfNames[i])) {
      continue;
    }
    descriptors.emplace_back(kCfNames[i], MakeCfOptions(static_cast<Cf>(i), options.config, cache));
    ours.push_back(i);
  }
  // RocksDB requires `default` (we keep nothing there) and every existing family (a newer schema's
  // extras) to be opened. Small memtables: RocksDB sizes its full-disk reserve by the largest.
  rocksdb::ColumnFamilyOptions other = MakeCfOptions(Cf::kMeta, options.config, cache);
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, other);
  for (const std::string& name : existing) {
    if (!IsOurs(name) && name != rocksdb::kDefaultColumnFamilyName) {
      descriptors.emplace_back(name, other);
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options.read_only) {
    char tmpl[] = "/tmp/dsarl-store-reader-XXXXXX";
    if (secondary_dir_.empty()) {
      if (mkdtemp(tmpl) == nullptr) {
        return absl::UnavailableError(
            absl::StrCat("opening store ", dir_, ": cannot create a temporary directory"));
      }
      secondary_dir_ = tmpl;
    }
    // The writer may delete a WAL or SST file between our listing and opening it; try again.
    for (int attempt = 0; attempt < 5; ++attempt) {
      handles.clear();
      s = rocksdb::DB::OpenAsSecondary(db_options, dir_, secondary_dir_, descriptors, &handles,
                                       &raw);
      if (s.ok() || !(s.IsIOError() || s.IsPathNotFound())) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
    }
  } else {
    s = rocksdb::DB::Open(db_options, dir_, descriptors, &handles, &raw);
  }
  if (!s.ok()) return FromRocks(s, absl::StrCat("opening store ", dir_));
  db_.reset(raw);
  handles_.fill(nullptr);
  for (size_t k = 0; k < ours.size(); ++k) handles_[ours[k]] = handles[k];
  extra_handles_.assign(handles.begin() + ours.size(), handles.end());
  return absl::OkStatus();
}

absl::Status Database::CheckOrWriteSchema(bool create) {
  // Unlocked: CatchUp calls this holding the lock exclusively.
  absl::StatusOr<std::string> value = GetUnlocked(Cf::kMeta, kMetaSchemaKey, nullptr);
  if (value.ok()) {
    if (!meta_.ParseFromString(*value) || meta_.schema_version() == 0) {
      return absl::DataLossError(
          absl::StrCat("store ", dir_, ": the schema record in `meta` is unreadable"));
    }
    if (meta_.schema_version() > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "store ", dir_, " has schema version ", meta_.schema_version(), ", newer than version ",
          kSchemaVersion, " that this dsarl understands; open it with a newer dsarl"));
    }
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(value.status())) return value.status();
  // No schema record: a new store (or one whose creation was interrupted) if it is empty.
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    if (h != nullptr) all.push_back(h);
  }
  all.insert(all.end(), extra_handles_.begin(), extra_handles_.end());
  bool empty = true;
  for (rocksdb::ColumnFamilyHandle* h : all) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), h));
    it->SeekToFirst();
    RETURN_IF_ERROR(FromRocks(it->status(), absl::StrCat("opening store ", dir_)));
    if (it->Valid()) empty = false;
  }
  if (!empty) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir_, " is not a dsarl store: `meta` has no schema record"));
  }
  if (!create) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", dir_,
                     " was never finished: its creation was interrupted (no schema record, no "
                     "data); opening it for writing with create_if_missing completes it"));
  }
  meta_.set_schema_version(kSchemaVersion);
  meta_.set_created_unix_ms(NowUnixMs());
  meta_.set_created_by("dsarl " DSARL_VERSION);
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(FromRocks(batch.Put(handle(Cf::kMeta), kMetaSchemaKey, meta_.SerializeAsString()),
                            "creating store"));
  RETURN_IF_ERROR(Write(&batch));
  DSARL_LOG_INFO("store {} created (schema {})", dir_, kSchemaVersion);
  return absl::OkStatus();
}

Database::~Database() {
  absl::Status s = Close();
  if (!s.ok()) DSARL_LOG_ERROR("closing store {}: {}", dir_, s.ToString());
}

absl::Status Database::CloseRocks() {
  if (!db_) return absl::OkStatus();
  for (rocksdb::ColumnFamilyHandle*& h : handles_) {
    if (h != nullptr) db_->DestroyColumnFamilyHandle(h);
    h = nullptr;
  }
  for (rocksdb::ColumnFamilyHandle* h : extra_handles_) db_->DestroyColumnFamilyHandle(h);
  extra_handles_.clear();
  absl::Status result = FromRocks(db_->Close(), absl::StrCat("closing store ", dir_));
  db_.reset();
  return result;
}

absl::Status Database::Close() {
  absl::Status result = CloseRocks();
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(secondary_dir_, ec);
    secondary_dir_.clear();
  }
  return result;
}

std::unique_ptr<Database::ReadView> Database::NewReadView() const {
  auto view = std::make_unique<ReadView>();
  if (!db_) return view;
  if (read_only_) {
    // Secondaries keep no snapshots; their state changes only in CatchUp, which this holds off.
    view->catch_up_lock_ = std::shared_lock<std::shared_mutex>(catch_up_mu_);
  } else {
    view->snapshot_ = std::make_unique<rocksdb::ManagedSnapshot>(db_.get());
  }
  return view;
}

std::shared_lock<std::shared_mutex> Database::LockUnlessViewed(const ReadView* view) const {
  if (!read_only_ || view != nullptr) return {};
  return std::shared_lock<std::shared_mutex>(catch_up_mu_);
}

absl::Status Database::CheckOpen() const {
  if (db_) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("store ", dir_, " is closed"));
}

absl::StatusOr<std::string> Database::Get(Cf cf, const std::string& key,
                                          const ReadView* view) const {
  std::shared_lock<std::shared_mutex> lock = LockUnlessViewed(view);
  return GetUnlocked(cf, key, view);
}

absl::StatusOr<std::string> Database::GetUnlocked(Cf cf, const std::string& key,
                                                  const ReadView* view) const {
  RETURN_IF_ERROR(CheckOpen());
  rocksdb::ReadOptions ro;
  if (view != nullptr) ro.snapshot = view->snapshot();
  std::string value;
  rocksdb::Status s =
      handle(cf) == nullptr ? rocksdb::Status::NotFound() : db_->Get(ro, handle(cf), key, &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("store ", dir_, ": no ", DescribeKey(CfName(cf), key)));
  }
  if (!s.ok()) return FromRocks(s, absl::StrCat("store ", dir_, ": reading ", CfName(cf)));
  return value;
}

absl::Status Database::Scan(
    Cf cf, const std::string& begin, const std::string& end,
    const std::function<bool(absl::string_view key, absl::string_view value)>& visit,
    const ReadView* view) const {
  std::shared_lock<std::shared_mutex> lock = LockUnlessViewed(view);
  RETURN_IF_ERROR(CheckOpen());
  if (handle(cf) == nullptr) return absl::OkStatus();  // a family this store does not have yet
  rocksdb::ReadOptions ro;
  if (view != nullptr) ro.snapshot = view->snapshot();
  rocksdb::Slice upper(end);
  if (!end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handle(cf)));
  for (it->Seek(begin); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key(), v = it->value();
    if (!visit(absl::string_view(k.data(), k.size()), absl::string_view(v.data(), v.size()))) {
      break;
    }
  }
  return FromRocks(it->status(), absl::StrCat("store ", dir_, ": scanning ", CfName(cf)));
}

absl::StatusOr<bool> Database::Last(Cf cf, const std::string& begin, const std::string& end,
                                    std::string* key, std::string* value,
                                    const ReadView* view) const {
  std::shared_lock<std::shared_mutex> lock = LockUnlessViewed(view);
  RETURN_IF_ERROR(CheckOpen());
  if (handle(cf) == nullptr) return false;
  rocksdb::ReadOptions ro;
  if (view != nullptr) ro.snapshot = view->snapshot();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handle(cf)));
  if (end.empty()) {
    it->SeekToLast();
  } else {
    it->SeekForPrev(end);
    if (it->Valid() && it->key() == rocksdb::Slice(end)) it->Prev();
  }
  RETURN_IF_ERROR(FromRocks(it->status(), absl::StrCat("store ", dir_, ": scanning ", CfName(cf))));
  if (!it->Valid() || it->key().compare(rocksdb::Slice(begin)) < 0) return false;
  *key = it->key().ToString();
  *value = it->value().ToString();
  return true;
}

absl::Status Database::Write(rocksdb::WriteBatch* batch) {
  RETURN_IF_ERROR(CheckOpen());
  if (read_only_) {
    return absl::FailedPreconditionError(absl::StrCat("store ", dir_, " is open read-only"));
  }
  if (write_failed_.load()) {
    // After a failed write (typically a full disk) RocksDB refuses writes until resumed.
    rocksdb::Status s = db_->Resume();
    if (s.IsBusy()) {
      // RocksDB is recovering from a full disk by itself: it polls for free space and resumes
      // once there is a write buffer's worth (StoreConfig.write_buffer_mb).
      return absl::ResourceExhaustedError(
          absl::StrCat("store ", dir_, ": disk full; writes resume once enough space is free (",
                       s.ToString(), ")"));
    }
    if (!s.ok()) return FromRocks(s, absl::StrCat("store ", dir_, ": resuming after an error"));
    write_failed_ = false;
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync_writes_;
  rocksdb::Status s = db_->Write(wo, batch);
  if (!s.ok()) {
    write_failed_ = true;
    return FromRocks(s, absl::StrCat("store ", dir_, ": write"));
  }
  return absl::OkStatus();
}

absl::Status Database::Flush() {
  RETURN_IF_ERROR(CheckOpen());
  if (read_only_) {
    return absl::FailedPreconditionError(absl::StrCat("store ", dir_, " is open read-only"));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin(), handles_.end());
  return FromRocks(db_->Flush(rocksdb::FlushOptions(), all),
                   absl::StrCat("store ", dir_, ": flushing"));
}

absl::Status Database::CatchUp() {
  if (!read_only_) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", dir_, ": CatchUp is for read-only stores; the writer is current"));
  }
  RETURN_IF_ERROR(CheckOpen());
  std::unique_lock<std::shared_mutex> lock(catch_up_mu_);
  // Reopen rather than TryCatchUpWithPrimary(): in RocksDB 7.8 that keeps serving values from the
  // reader's memtable after the writer has overwritten and flushed them (facebook/rocksdb#15051;
  // fixed in 2026). A fresh open replays only WAL newer than the flushed files.
  RETURN_IF_ERROR(CloseRocks());
  RETURN_IF_ERROR(OpenRocks(options_, /*exists=*/true));
  return CheckOrWriteSchema(/*create=*/false);
}

std::vector<CfStats> Database::Stats() const {
  std::vector<CfStats> out;
  for (int i = 0; db_ && i < kNumCfs; ++i) {
    CfStats st;
    st.name = kCfNames[i];
    rocksdb::ColumnFamilyHandle* h = handles_[i];
    if (h == nullptr) continue;
    db_->GetIntProperty(h, "rocksdb.estimate-num-keys", &st.estimated_keys);
    db_->GetIntProperty(h, "rocksdb.total-sst-files-size", &st.sst_bytes);
    db_->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &st.memtable_bytes);
    for (int level = 0; level < db_->NumberLevels(h); ++level) {
      std::string files;
      if (db_->GetProperty(h, absl::StrCat("rocksdb.num-files-at-level", level), &files)) {
        st.sst_files += std::strtoull(files.c_str(), nullptr, 10);
      }
    }
    out.push_back(st);
  }
  return out;
}

}  // namespace dsarl::store
