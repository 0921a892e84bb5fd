// Opening a store that is missing, corrupt, of a newer schema, not ours, or locked fails with a
// clear message naming the path, and never crashes.
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "store/keys.h"
#include "store/store.h"
#include "tests/status_matchers.h"
#include "tests/store/test_util.h"

namespace dsarl::store {
namespace {

namespace fs = std::filesystem;
using ::dsarl::store::testing::MakeGroup;
using ::dsarl::store::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

// A store in `dir` with a few groups, flushed to SST files, then closed.
void MakeStore(const std::string& dir) {
  OpenOptions options;
  options.create_if_missing = true;
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(dir, options));
  for (int i = 1; i <= 20; ++i) ASSERT_OK(store->AppendGroup(MakeGroup(i, 0, 1, -1)));
  ASSERT_OK(store->db().Flush());
  ASSERT_OK(store->Close());
}

std::string FileWith(const std::string& dir, const std::string& prefix, const std::string& ext) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && entry.path().extension() == ext) return entry.path();
  }
  return "";
}

absl::Status OpenStatus(const std::string& dir, bool create = false, bool read_only = false) {
  OpenOptions options;
  options.create_if_missing = create;
  options.read_only = read_only;
  return Store::Open(dir, options).status();
}

TEST(OpenErrorsTest, MissingDirectory) {
  TempDir tmp;
  const std::string dir = tmp.Sub("nope");
  absl::Status s = OpenStatus(dir);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), AllOf(HasSubstr(dir), HasSubstr("does not exist")));
  EXPECT_EQ(OpenStatus(dir, true, true).code(),
            absl::StatusCode::kNotFound);  // readers never create
  EXPECT_FALSE(fs::exists(dir));
}

TEST(OpenErrorsTest, DirectoryWithoutADatabase) {
  TempDir tmp;
  absl::Status s = OpenStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), AllOf(HasSubstr(tmp.path()), HasSubstr("no CURRENT file")));
}

TEST(OpenErrorsTest, CreatesWhenAsked) {
  TempDir tmp;
  const std::string dir = tmp.Sub("a/b/store");
  EXPECT_OK(OpenStatus(dir, true));
  EXPECT_OK(OpenStatus(dir));
  EXPECT_OK(OpenStatus(dir, false, true));
}

TEST(OpenErrorsTest, CorruptCurrentFile) {
  TempDir tmp;
  MakeStore(tmp.path());
  std::ofstream(tmp.Sub("CURRENT"), std::ios::trunc) << "garbage";
  for (bool read_only : {false, true}) {
    absl::Status s = OpenStatus(tmp.path(), false, read_only);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(s.message(), HasSubstr(tmp.path()));
  }
}

TEST(OpenErrorsTest, CorruptManifest) {
  TempDir tmp;
  MakeStore(tmp.path());
  const std::string manifest = FileWith(tmp.path(), "MANIFEST-", "");
  ASSERT_FALSE(manifest.empty());
  const auto size = fs::file_size(manifest);
  {
    std::fstream f(manifest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << std::string(size, '\x5a');
  }
  absl::Status s = OpenStatus(tmp.path());
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr(tmp.path()));
}

TEST(OpenErrorsTest, CorruptTableFile) {
  TempDir tmp;
  MakeStore(tmp.path());
  const std::string sst = FileWith(tmp.path(), "", ".sst");
  ASSERT_FALSE(sst.empty());
  const auto size = fs::file_size(sst);
  {
    // Scribble over the footer (the last 64 bytes hold the magic number and block handles).
    std::fstream f(sst, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size - 64));
    f << std::string(64, '\0');
  }
  absl::Status s = OpenStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr(tmp.path()));
}

TEST(OpenErrorsTest, NewerSchemaIsRefused) {
  TempDir tmp;
  MakeStore(tmp.path());
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(tmp.path(), OpenOptions()));
    proto::StoreMeta meta = store->db().meta();
    meta.set_schema_version(kSchemaVersion + 1);
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(
        batch.Put(store->db().handle(Cf::kMeta), kMetaSchemaKey, meta.SerializeAsString()).ok());
    ASSERT_OK(store->db().Write(&batch));
  }
  for (bool read_only : {false, true}) {
    absl::Status s = OpenStatus(tmp.path(), false, read_only);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.message(),
                AllOf(HasSubstr(tmp.path()), HasSubstr("schema version 2"), HasSubstr("newer")));
  }
}

TEST(OpenErrorsTest, UnreadableSchemaRecord) {
  TempDir tmp;
  MakeStore(tmp.path());
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(tmp.path(), OpenOptions()));
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put(store->db().handle(Cf::kMeta), kMetaSchemaKey, "\xff\xff\xff").ok());
    ASSERT_OK(store->db().Write(&batch));
  }
  absl::Status s = OpenStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), AllOf(HasSubstr(tmp.path()), HasSubstr("schema record")));
}

TEST(OpenErrorsTest, ARocksDbThatIsNotAStore) {
  TempDir tmp;
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, tmp.path(), &raw).ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), "k", "v").ok());
    delete raw;
  }
  for (bool create : {false, true}) {
    absl::Status s = OpenStatus(tmp.path(), create);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.message(), AllOf(HasSubstr(tmp.path()), HasSubstr("not a dsarl store")));
  }
}

TEST(OpenErrorsTest, SecondWriterIsRefusedReaderIsNot) {
  TempDir tmp;
  OpenOptions options;
  options.create_if_missing = true;
  ASSERT_OK_AND_ASSIGN(auto writer, Store::Open(tmp.path(), options));
  absl::Status s = OpenStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), AllOf(HasSubstr(tmp.path()), HasSubstr("open for writing")));
  EXPECT_OK(OpenStatus(tmp.path(), false, true));
}

}  // namespace
}  // namespace dsarl::store
