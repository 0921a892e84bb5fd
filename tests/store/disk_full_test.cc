// A full disk is an error returned to the caller, never a crash: appends into a store on a tiny
// tmpfs fail with ResourceExhausted, nothing acknowledged is lost, and once space is freed the
// store writes again. Needs mount(2) (root): skipped with a message otherwise, a failure in CI.
#include <sys/mount.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/store.h"
#include "tests/prerequisite.h"
#include "tests/status_matchers.h"
#include "tests/store/test_util.h"

namespace dsarl::store {
namespace {

using ::dsarl::store::testing::MakeGroup;
using ::dsarl::store::testing::TempDir;
using ::testing::HasSubstr;

// A tmpfs of `mib` MiB mounted on a fresh directory for the test's lifetime.
class TinyDisk {
 public:
  explicit TinyDisk(int mib) {
    const std::string options = "size=" + std::to_string(mib) + "m";
    if (mount("tmpfs", tmp_.path().c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = strerror(errno);
    }
  }
  ~TinyDisk() {
    if (mounted_) umount2(tmp_.path().c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  std::string Sub(const std::string& name) const { return tmp_.Sub(name); }

 private:
  TempDir tmp_;
  bool mounted_ = false;
  std::string error_;
};

TEST(DiskFullTest, AppendFailsWithAnErrorAndResumesWhenSpaceIsFreed) {
  TinyDisk disk(8);
  DSARL_REQUIRE(disk.mounted(), "mount(2) of a tmpfs, i.e. root or CAP_SYS_ADMIN (mount failed: "
                                    << disk.error() << ")");
  // Ballast to free later, so the store can be shown to write again.
  const std::string ballast = disk.Sub("ballast");
  std::ofstream(ballast) << std::string(3 << 20, 'x');
  const std::string dir = disk.Sub("store");
  OpenOptions options;
  options.create_if_missing = true;
  // RocksDB resumes after a full disk once a write buffer's worth of space is free; keep it small.
  options.config.set_write_buffer_mb(1);
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(dir, options));

  uint64_t acked = 0;
  absl::Status error;
  for (uint64_t id = 1; id <= 1000; ++id) {
    auto written = store->AppendGroup(MakeGroup(id, 0, 1, -1, 8, 1024));
    if (!written.ok()) {
      error = written.status();
      break;
    }
    acked = id;
  }
  ASSERT_FALSE(error.ok()) << "8 MiB never filled up";
  EXPECT_EQ(error.code(), absl::StatusCode::kResourceExhausted) << error;
  EXPECT_THAT(error.message(), HasSubstr(dir));
  EXPECT_GT(acked, 0u);
  printf("disk full after %d groups: %s\n", static_cast<int>(acked), error.ToString().c_str());
  // While the disk stays full, writes keep failing cleanly.
  EXPECT_FALSE(store->AppendGroup(MakeGroup(5000, 0, 1, -1, 8, 1024)).ok());
  EXPECT_EQ(store->Counts().groups(), acked);

  // Freeing space: RocksDB notices within seconds (it polls), then writes succeed again; a minute
  // of retries leaves room for a loaded machine.
  std::filesystem::remove(ballast);
  absl::StatusOr<bool> written;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    written = store->AppendGroup(MakeGroup(6000, 0, 1, -1, 2, 16));
  } while (!written.ok() && std::chrono::steady_clock::now() < deadline);
  ASSERT_OK(written);
  EXPECT_TRUE(*written);
  EXPECT_OK(store->Close());

  ASSERT_OK_AND_ASSIGN(store, Store::Open(dir, options));
  for (uint64_t id = 1; id <= acked; ++id) {
    auto g = store->GetGroup(id, 0);
    ASSERT_OK(g);
    EXPECT_EQ(g->trajectories_size(), 8);
  }
  ASSERT_OK(store->GetGroup(6000, 0));
  EXPECT_EQ(store->Counts().groups(), acked + 1);
  EXPECT_OK(store->Close());
}

}  // namespace
}  // namespace dsarl::store
