// Presence, size and checksums of a store's SST files (see verify.h).
#include "store/verify.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "rocksdb/db.h"
#include "rocksdb/metadata.h"
#include "rocksdb/options.h"
#include "rocksdb/sst_file_reader.h"
#include "store/db.h"
#include "store/rocks_logger.h"

namespace dsarl::store {
namespace {

namespace fs = std::filesystem;

constexpr int kAttempts = 10;

// The outcome of checking one file. `replaced`: the file is gone or of another size, which a
// compaction of a running writer also causes; the check is worth repeating on a fresh listing.
struct FileCheck {
  absl::Status status;
  bool replaced = false;
};

// Every SST file the MANIFEST lists, as recorded there. The database is opened read-only without
// RocksDB's own file checks (paranoid_checks, file sizes at open, all tables opened at open):
// with them a missing file fails the open with a message that hides which file; without them the
// open succeeds and lists every file, and CheckPresent names the bad one.
absl::StatusOr<std::vector<rocksdb::LiveFileMetaData>> ListLiveFiles(const std::string& dir) {
  rocksdb::DBOptions o;
  // Silent: RocksDB logs an error for each missing file it meets, which FileError reports better.
  o.info_log = std::make_shared<RocksLogger>("");
  o.info_log->SetInfoLogLevel(rocksdb::InfoLogLevel::FATAL_LEVEL);
  o.paranoid_checks = false;
  o.skip_checking_sst_file_sizes_on_db_open = true;
  o.max_open_files = 16;  // not -1: RocksDB would open every table now
  const std::string context = absl::StrCat("verifying store ", dir);
  std::vector<std::string> names;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::ListColumnFamilies(o, dir, &names), context));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::OpenForReadOnly(o, dir, descriptors, &handles, &raw), context));
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<rocksdb::LiveFileMetaData> files;
  db->GetLiveFilesMetaData(&files);
  for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
  RETURN_IF_ERROR(FromRocks(db->Close(), context));
  return files;
}

std::string PathOf(const rocksdb::LiveFileMetaData& f) { return f.db_path + f.name; }

absl::Status FileError(const std::string& path, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(path, ": DataLoss: ", what));
}

FileCheck CheckPresent(const rocksdb::LiveFileMetaData& f) {
  const std::string path = PathOf(f);
  const std::string listed =
      absl::StrCat("the MANIFEST lists it in column family `", f.column_family_name, "` (level ",
                   f.level, ", ", f.size, " bytes)");
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec == std::errc::no_such_file_or_directory) {
    return {FileError(path, absl::StrCat("the file is missing; ", listed)), true};
  }
  if (ec) {
    return {absl::UnavailableError(absl::StrCat(path, ": cannot read its size: ", ec.message())),
            false};
  }
  if (size != f.size) {
    return {FileError(path, absl::StrCat(size < f.size ? "truncated" : "grown", " to ", size,
                                         " bytes; ", listed)),
            true};
  }
  return {};
}

// Reads the whole file, checking the checksum of every block.
FileCheck CheckBlocks(const rocksdb::LiveFileMetaData& f) {
  const std::string path = PathOf(f);
  rocksdb::Options options;
  // Errors only: given no file number, the reader warns on each open that it cannot check the
  // file's unique id against the MANIFEST (an open of the database checks that).
  options.info_log = std::make_shared<RocksLogger>("");
  options.info_log->SetInfoLogLevel(rocksdb::InfoLogLevel::ERROR_LEVEL);
  rocksdb::SstFileReader reader(options);
  rocksdb::Status s = reader.Open(path);
  if (s.ok()) {
    rocksdb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    s = reader.VerifyChecksum(ro);
  }
  if (s.ok()) return {};
  std::error_code ec;
  if (!fs::exists(path, ec)) return CheckPresent(f);  // deleted meanwhile
  if (s.IsCorruption()) return {FileError(path, s.ToString()), false};
  return {FromRocks(s, path), false};
}

// One pass over `files`: sizes first (cheap, and the likely damage), then checksums. Sets `bad`
// to the name of the file that failed.
FileCheck CheckAll(const std::vector<rocksdb::LiveFileMetaData>& files, VerifyReport* report,
                   std::string* bad) {
  *report = VerifyReport();
  for (const rocksdb::LiveFileMetaData& f : files) {
    FileCheck c = CheckPresent(f);
    *bad = f.name;
    if (!c.status.ok()) return c;
  }
  for (const rocksdb::LiveFileMetaData& f : files) {
    FileCheck c = CheckBlocks(f);
    *bad = f.name;
    if (!c.status.ok()) return c;
    report->sst_files += 1;
    report->sst_bytes += f.size;
  }
  return {};
}

bool Lists(const std::vector<rocksdb::LiveFileMetaData>& files, const std::string& name) {
  for (const rocksdb::LiveFileMetaData& f : files) {
    if (f.name == name) return true;
  }
  return false;
}

// The entry of `files` named `name` (which Lists found).
const rocksdb::LiveFileMetaData& FileNamed(const std::vector<rocksdb::LiveFileMetaData>& files,
                                           const std::string& name) {
  for (const rocksdb::LiveFileMetaData& f : files) {
    if (f.name == name) return f;
  }
  return files.front();
}

}  // namespace

absl::StatusOr<VerifyReport> VerifyStoreFiles(const std::string& dir) {
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "CURRENT", ec)) {
    return absl::NotFoundError(
        absl::StrCat("verifying store ", dir, ": no RocksDB database there (no CURRENT file)"));
  }
  ASSIGN_OR_RETURN(std::vector<rocksdb::LiveFileMetaData> files, ListLiveFiles(dir));
  VerifyReport report;
  for (int attempt = 1;; ++attempt) {
    std::string bad;
    const FileCheck check = CheckAll(files, &report, &bad);
    if (check.status.ok()) break;
    if (!check.replaced) return check.status;
    if (attempt == kAttempts) {
      // Every pass met a file that a later listing no longer had: a writer compacting faster
      // than the check reads. That is no damage.
      return absl::UnavailableError(
          absl::StrCat("verifying store ", dir, ": its files changed under ", kAttempts,
                       " passes of the check (a running learner compacting it); try again"));
    }
    // A writer removes a file from the MANIFEST before it deletes it (compaction): fresh
    // listings that still have the file say it is really gone; one without it, that it was
    // replaced, and the check starts again on the new files. Two listings apart, so a listing
    // read from a MANIFEST the writer was just replacing cannot convict a file alone.
    ASSIGN_OR_RETURN(std::vector<rocksdb::LiveFileMetaData> fresh, ListLiveFiles(dir));
    if (Lists(fresh, bad)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ASSIGN_OR_RETURN(fresh, ListLiveFiles(dir));
      if (Lists(fresh, bad) && !CheckPresent(FileNamed(fresh, bad)).status.ok()) {
        return check.status;
      }
    }
    files = std::move(fresh);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace dsarl::store
