// Checking a store's SST files against what its MANIFEST records, for the read-only tools
// (`dsarl store stats|dump|export`). Our readers are RocksDB secondary instances, and a secondary
// instance that finds an SST file missing or cut short does not fail: it falls back to the last
// state whose files are all there, so a damaged store reads as an older (often empty) one and
// every tool reports success. This check turns such damage into an error that names the file.
// It reads every SST file whole, so it is an option of Open (OpenOptions::verify) that the tools
// ask for and training does not.
#ifndef DSARL_STORE_VERIFY_H_
#define DSARL_STORE_VERIFY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace dsarl::store {

// What a check covered.
struct VerifyReport {
  uint64_t sst_files = 0;  // live SST files, each present, of its recorded size, checksums good
  uint64_t sst_bytes = 0;  // their total size [bytes]
  double seconds = 0;      // wall time of the check [s]
};

// Checks the RocksDB database in `dir`: every SST file its MANIFEST lists (in any column family)
// exists, has the size the MANIFEST records, and every block in it (data, index, filter,
// properties) matches its checksum. Returns what was checked when all of that holds. Otherwise:
//   DataLoss  naming the file, "DIR/000012.sst: DataLoss: ...", for a missing, truncated, grown or
//             corrupt SST file; also for a CURRENT or MANIFEST file that cannot be read
//   NotFound  no database in `dir`; other I/O errors as FromRocks (db.h)
// Never writes. Safe while a writer runs: should a listed file disappear or change size during
// the check (a compaction replaced it), the check starts again on the new state, up to 3 times.
// The WAL is not checked: after a crash its last record may be torn, and RocksDB drops it.
absl::StatusOr<VerifyReport> VerifyStoreFiles(const std::string& dir);

}  // namespace dsarl::store

#endif  // DSARL_STORE_VERIFY_H_
