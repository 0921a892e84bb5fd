// The quarantine column family: every refused group is kept (several of the same prompt and
// attempt too, in order, across a reopen), a stored group moves there whole in one write (counts
// follow), `store dump --cf quarantine` shows it, and a store made before the family existed opens
// for reading (empty) and for writing (the family is added).
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "store/export.h"
#include "store/store.h"
#include "tests/status_matchers.h"
#include "tests/store/test_util.h"

namespace dsarl::store {
namespace {

using ::dsarl::store::testing::MakeGroup;
using ::dsarl::store::testing::TempDir;
using ::testing::HasSubstr;

std::unique_ptr<Store> Open(const std::string& dir, bool read_only = false) {
  OpenOptions options;
  options.create_if_missing = !read_only;
  options.read_only = read_only;
  auto store = Store::Open(dir, options);
  EXPECT_OK(store.status());
  return store.ok() ? std::move(*store) : nullptr;
}

proto::QuarantinedGroup Record(const proto::Group& g, const std::string& reason) {
  proto::QuarantinedGroup q;
  *q.mutable_group() = g;
  q.set_reason(reason);
  q.set_source("intake");
  q.set_unix_ms(1700000000000);
  return q;
}

std::vector<std::string> Reasons(const Store& store) {
  std::vector<std::string> out;
  EXPECT_OK(store.ScanQuarantine([&](const proto::QuarantinedGroup& q) {
    out.push_back(q.reason());
    return true;
  }));
  return out;
}

TEST(Quarantine, KeepsEveryRefusalInOrderAcrossAReopen) {
  TempDir dir;
  {
    auto store = Open(dir.path());
    const proto::Group g = MakeGroup(5, 0, 1, -1, 2, 8);
    ASSERT_OK(store->Quarantine(Record(g, "first"), false));
    ASSERT_OK(store->Quarantine(Record(g, "second"), false));  // same prompt and attempt
    ASSERT_OK(store->Quarantine(Record(MakeGroup(3, 1, 1, -1, 2, 8), "third"), false));
    EXPECT_EQ(store->Counts().quarantined(), 3u);
    EXPECT_EQ(store->Counts().groups(), 0u);  // never stored as trainable
  }
  auto store = Open(dir.path());
  EXPECT_EQ(store->Counts().quarantined(), 3u);
  ASSERT_OK(store->Quarantine(Record(MakeGroup(5, 0, 1, -1, 2, 8), "fourth"), false));
  EXPECT_THAT(Reasons(*store), ::testing::ElementsAre("first", "second", "third", "fourth"));
}

TEST(Quarantine, MovesAStoredGroupWholeInOneWrite) {
  TempDir dir;
  auto store = Open(dir.path());
  ASSERT_OK(store->AppendGroup(MakeGroup(7, 0, 1, -1, 4, 16)).status());
  ASSERT_OK(store->AppendGroup(MakeGroup(8, 0, 1, -1, 4, 16)).status());
  ASSERT_OK_AND_ASSIGN(proto::Group stored, store->GetGroup(7, 0));
  ASSERT_OK(store->Quarantine(Record(stored, "bad at resume"), /*remove_stored=*/true));
  EXPECT_EQ(store->GetGroup(7, 0).status().code(), absl::StatusCode::kNotFound);
  int left = 0;
  ASSERT_OK(store->ScanGroups(GroupQuery{}, [&](const proto::Group& g) {
    EXPECT_EQ(g.prompt_id(), 8u);
    ++left;
    return true;
  }));
  EXPECT_EQ(left, 1);
  int trajectories = 0;
  ASSERT_OK(store->ScanTrajectories([&](const proto::Trajectory& t) {
    EXPECT_EQ(t.prompt_id(), 8u);
    ++trajectories;
    return true;
  }));
  EXPECT_EQ(trajectories, 4);
  const proto::StoreCounts c = store->Counts();
  EXPECT_EQ(c.groups(), 1u);
  EXPECT_EQ(c.trajectories(), 4u);
  EXPECT_EQ(c.trajectory_tokens(), 64u);
  EXPECT_EQ(c.quarantined(), 1u);
  // The record holds the group as it was stored.
  std::vector<proto::QuarantinedGroup> records;
  ASSERT_OK(store->ScanQuarantine([&](const proto::QuarantinedGroup& q) {
    records.push_back(q);
    return true;
  }));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].group().trajectories_size(), 4);
  // A group that is not stored cannot be moved: nothing is written.
  EXPECT_EQ(store->Quarantine(Record(stored, "again"), true).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Counts().quarantined(), 1u);
}

TEST(Quarantine, DumpShowsTheReasonAndElidesLongArrays) {
  TempDir dir;
  {
    auto store = Open(dir.path());
    ASSERT_OK(store->Quarantine(Record(MakeGroup(9, 2, 1, -1, 2, 40), "trajectories[1].loss_mask"),
                                false));
  }
  auto reader = Open(dir.path(), /*read_only=*/true);
  DumpOptions options;
  options.cf = Cf::kQuarantine;
  std::string text;
  ASSERT_OK_AND_ASSIGN(uint64_t n, DumpText(*reader, options, [&](const std::string& line) {
                         text += line + "\n";
                         return absl::OkStatus();
                       }));
  EXPECT_EQ(n, 1u);
  EXPECT_THAT(text, HasSubstr("# quarantined seq=0 prompt=9 attempt=2"));
  EXPECT_THAT(text, HasSubstr("reason: \"trajectories[1].loss_mask\""));
  EXPECT_THAT(text, HasSubstr("# trajectories[1].token_ids: 40 values, first 8 shown"));
  EXPECT_EQ(reader->Counts().quarantined(), 1u);
}

// Drops the quarantine family, as in a store made before it existed.
void DropQuarantineFamily(const std::string& dir) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names)
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir, descriptors, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "quarantine") {
      ASSERT_TRUE(db->DropColumnFamily(handles[i]).ok());
    }
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
}

TEST(Quarantine, AStoreWithoutTheFamilyOpensAndGainsIt) {
  TempDir dir;
  {
    auto store = Open(dir.path());
    ASSERT_OK(store->AppendGroup(MakeGroup(1, 0, 1, -1, 2, 8)).status());
  }
  DropQuarantineFamily(dir.path());
  {
    auto reader = Open(dir.path(), /*read_only=*/true);
    ASSERT_NE(reader, nullptr);
    EXPECT_TRUE(Reasons(*reader).empty());
    EXPECT_EQ(reader->Counts().groups(), 1u);
  }
  auto writer = Open(dir.path());
  ASSERT_NE(writer, nullptr);
  ASSERT_OK(writer->Quarantine(Record(MakeGroup(2, 0, 1, -1, 2, 8), "late"), false));
  EXPECT_THAT(Reasons(*writer), ::testing::ElementsAre("late"));
}

}  // namespace
}  // namespace dsarl::store
