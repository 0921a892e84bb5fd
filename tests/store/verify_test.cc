// A damaged store is an error that names the damaged file, never a smaller store: with an SST file
// deleted, truncated or with one byte flipped, the check of OpenOptions::verify and `dsarl store
// stats|dump|export` fail with DataLoss and the file's path. (Before the check, a reader of such a
// store saw an older state: `store dump` printed 0 records and exited 0.) An intact store passes,
// also while its writer flushes and compacts.
#include "store/verify.h"

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/store.h"
#include "tests/prerequisite.h"
#include "tests/status_matchers.h"
#include "tests/store/test_util.h"

namespace dsarl::store {
namespace {

namespace fs = std::filesystem;
using ::dsarl::store::testing::MakeGroup;
using ::dsarl::store::testing::Shell;
using ::dsarl::store::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::StartsWith;

enum class Damage { kDelete, kTruncate, kFlipByte };

std::string Name(Damage d) {
  switch (d) {
    case Damage::kDelete:
      return "deleted";
    case Damage::kTruncate:
      return "truncated";
    case Damage::kFlipByte:
      return "flipped";
  }
  return "";
}

void PrintTo(Damage d, std::ostream* os) { *os << Name(d); }

// A store in `dir` with prompts, groups and step metrics, all flushed to SST files, then closed.
void MakeStore(const std::string& dir) {
  OpenOptions options;
  options.create_if_missing = true;
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(dir, options));
  for (uint64_t id = 1; id <= 20; ++id) {
    proto::Prompt p;
    p.set_id(id);
    p.set_category("math");
    ASSERT_OK(store->PutPrompt(p));
    ASSERT_OK(store->AppendGroup(MakeGroup(id, 0, 1, -1, 8, 256)));
    proto::StepMetrics m;
    m.set_run_id(1);
    m.set_step(static_cast<int64_t>(id));
    (*m.mutable_values())["loss"] = 0.5;
    ASSERT_OK(store->PutStepMetrics(m));
  }
  ASSERT_OK(store->db().Flush());
  ASSERT_OK(store->Close());
}

// The SST files under `dir`, largest first.
std::vector<std::string> SstFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".sst") out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return fs::file_size(a) > fs::file_size(b);
  });
  return out;
}

// Damages the largest SST file (the trajectories') and returns its path.
std::string DamageLargestSst(const std::string& dir, Damage damage) {
  const std::vector<std::string> files = SstFiles(dir);
  if (files.empty()) return "";
  const std::string& sst = files[0];
  const uintmax_t size = fs::file_size(sst);
  switch (damage) {
    case Damage::kDelete:
      fs::remove(sst);
      break;
    case Damage::kTruncate:
      fs::resize_file(sst, size / 2);
      break;
    case Damage::kFlipByte: {
      // The middle of the file is inside a data block (index, filter and footer are at the end).
      std::fstream f(sst, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(static_cast<std::streamoff>(size / 2));
      const char c = static_cast<char>(f.get());
      f.seekp(static_cast<std::streamoff>(size / 2));
      f.put(static_cast<char>(c ^ 0xff));
      break;
    }
  }
  return sst;
}

class DamagedStoreTest : public ::testing::TestWithParam<Damage> {
 protected:
  void SetUp() override {
    dir_ = tmp_.Sub("store");
    ASSERT_NO_FATAL_FAILURE(MakeStore(dir_));
    ASSERT_GE(SstFiles(dir_).size(), 3u);  // one per column family written
    sst_ = DamageLargestSst(dir_, GetParam());
    ASSERT_FALSE(sst_.empty());
  }
  TempDir tmp_;
  std::string dir_, sst_;
};

TEST_P(DamagedStoreTest, VerifyNamesTheFile) {
  absl::StatusOr<VerifyReport> report = VerifyStoreFiles(dir_);
  ASSERT_EQ(report.status().code(), absl::StatusCode::kDataLoss) << report.status();
  EXPECT_THAT(std::string(report.status().message()), StartsWith(sst_ + ": DataLoss: "));
  switch (GetParam()) {
    case Damage::kDelete:
      EXPECT_THAT(report.status().message(), HasSubstr("missing"));
      break;
    case Damage::kTruncate:
      EXPECT_THAT(report.status().message(), HasSubstr("truncated"));
      break;
    case Damage::kFlipByte:
      EXPECT_THAT(report.status().message(), HasSubstr("checksum mismatch"));
      break;
  }
}

TEST_P(DamagedStoreTest, VerifyingReaderRefusesToOpen) {
  OpenOptions options;
  options.read_only = true;
  options.verify = true;
  absl::Status s = Store::Open(dir_, options).status();
  ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), StartsWith(sst_ + ": DataLoss: "));
  EXPECT_THAT(s.message(), HasSubstr("ldb repair"));
}

// Training opens without the check; the writer's own open (missing, truncated) or its reads
// (a bad block) still fail, and never read as fewer records.
TEST_P(DamagedStoreTest, TrainingOpenOrReadFails) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_, OpenOptions());
  if (!store.ok()) {
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
    return;
  }
  EXPECT_EQ(GetParam(), Damage::kFlipByte);
  uint64_t seen = 0;
  absl::Status s = (*store)->ScanTrajectories([&](const proto::Trajectory&) {
    ++seen;
    return true;
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s << " after " << seen << " trajectories";
  EXPECT_THAT(s.message(), HasSubstr("checksum mismatch"));
}

// The commands as a user runs them: exit status 1, the file named, and for export no output file.
TEST_P(DamagedStoreTest, StoreCommandsFail) {
  const char* bin = std::getenv("DSARL_BIN");
  DSARL_REQUIRE(bin != nullptr, "the dsarl binary (DSARL_BIN, set by ctest)");
  const std::string expected = absl::StrCat(": ", sst_, ": DataLoss: ");
  const std::string out_file = tmp_.Sub("t.jsonl");
  for (const std::string& args :
       {absl::StrCat("stats ", dir_), absl::StrCat("dump ", dir_, " --cf trajectories"),
        absl::StrCat("export ", dir_, " --cf trajectories --out ", out_file)}) {
    std::string out;
    EXPECT_EQ(Shell(absl::StrCat(bin, " store ", args), &out), 1) << args << "\n" << out;
    EXPECT_THAT(out, HasSubstr(expected)) << args;
    EXPECT_THAT(out, ::testing::Not(HasSubstr("record(s)"))) << args;
  }
  EXPECT_FALSE(fs::exists(out_file));
}

INSTANTIATE_TEST_SUITE_P(Damages, DamagedStoreTest,
                         ::testing::Values(Damage::kDelete, Damage::kTruncate, Damage::kFlipByte),
                         [](const auto& info) { return Name(info.param); });

TEST(VerifyTest, IntactStorePassesAndCountsEveryFile) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  ASSERT_NO_FATAL_FAILURE(MakeStore(dir));
  uint64_t bytes = 0;
  for (const std::string& f : SstFiles(dir)) bytes += fs::file_size(f);
  ASSERT_OK_AND_ASSIGN(VerifyReport report, VerifyStoreFiles(dir));
  EXPECT_EQ(report.sst_files, SstFiles(dir).size());
  EXPECT_EQ(report.sst_bytes, bytes);
  OpenOptions options;
  options.read_only = true;
  options.verify = true;
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(dir, options));
  EXPECT_EQ(store->db().verified().sst_files, report.sst_files);
  EXPECT_EQ(store->Counts().trajectories(), 160u);
}

TEST(VerifyTest, NoDatabaseIsNotFound) {
  TempDir tmp;
  EXPECT_EQ(VerifyStoreFiles(tmp.path()).status().code(), absl::StatusCode::kNotFound);
}

// A writer that flushes and compacts replaces SST files while the check runs: the check never
// reports a file it saw listed and then found gone.
TEST(VerifyTest, PassesWhileTheWriterCompacts) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  OpenOptions options;
  options.create_if_missing = true;
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(dir, options));
  std::atomic<bool> done{false};
  std::thread writer([&] {
    // Every flush adds L0 files; every fourth starts a compaction that deletes them.
    for (uint64_t id = 1; id <= 48; ++id) {
      EXPECT_OK(store->AppendGroup(MakeGroup(id, 0, 1, -1, 4, 256)));
      EXPECT_OK(store->db().Flush());
    }
    done = true;
  });
  int checks = 0;
  while (!done.load()) {
    absl::StatusOr<VerifyReport> report = VerifyStoreFiles(dir);
    EXPECT_OK(report);
    ++checks;
  }
  writer.join();
  EXPECT_GT(checks, 0);
  EXPECT_OK(VerifyStoreFiles(dir));
}

}  // namespace
}  // namespace dsarl::store
