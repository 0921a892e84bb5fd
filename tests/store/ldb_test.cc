// RocksDB's own `ldb` tool (Debian package rocksdb-tools) can read a store: it lists our column
// families and scans our keys, and the values it prints parse back as our protos. Skipped, with a
// message, when ldb is not installed (a failure in CI).
#include <cstdio>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/keys.h"
#include "store/store.h"
#include "tests/prerequisite.h"
#include "tests/status_matchers.h"
#include "tests/store/test_util.h"

namespace dsarl::store {
namespace {

using ::dsarl::store::testing::MakeGroup;
using ::dsarl::store::testing::Shell;
using ::dsarl::store::testing::TempDir;
using ::testing::HasSubstr;

std::string Hex(const std::string& bytes) {
  return absl::StrCat("0x", absl::AsciiStrToUpper(absl::BytesToHexString(bytes)));
}

TEST(LdbTest, ListsColumnFamiliesAndScansKeys) {
  std::string out;
  DSARL_REQUIRE(Shell("command -v ldb", &out) == 0,
                "RocksDB's ldb (apt-get install rocksdb-tools)");
  TempDir tmp;
  {
    OpenOptions options;
    options.create_if_missing = true;
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(tmp.path(), options));
    for (uint64_t id = 1; id <= 5; ++id) {
      proto::Prompt p;
      p.set_id(id);
      p.set_env_id(7);
      p.set_category("sorting");
      p.set_user("sort these: " + std::to_string(id));
      ASSERT_OK(store->PutPrompt(p));
    }
    ASSERT_OK(store->AppendGroup(MakeGroup(3, 0, 1, -1, 4, 512)));
    ASSERT_OK(store->db().Flush());  // so ldb reads SST files, not only the WAL
    ASSERT_OK(store->Close());
  }
  const std::string db = absl::StrCat("ldb --db=", tmp.path());

  ASSERT_EQ(Shell(db + " list_column_families", &out), 0) << out;
  for (const char* cf : kCfNames) EXPECT_THAT(out, HasSubstr(cf)) << out;

  ASSERT_EQ(Shell(db + " --column_family=prompts --hex scan", &out), 0) << out;
  // Each record key, and each value parses as the Prompt it should be.
  int records = 0;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(line, " : ");
    ASSERT_EQ(kv.size(), 2u) << line;
    if (kv[0].rfind(Hex(PromptKey(0)).substr(0, 4), 0) != 0) continue;  // index entries
    proto::Prompt p;
    ASSERT_TRUE(p.ParseFromString(absl::HexStringToBytes(kv[1].substr(2)))) << line;
    EXPECT_EQ(kv[0], Hex(PromptKey(p.id())));
    EXPECT_EQ(p.category(), "sorting");
    ++records;
  }
  EXPECT_EQ(records, 5) << out;
  EXPECT_THAT(out, HasSubstr(Hex(PromptByEnvKey(7, 5))));

  ASSERT_EQ(Shell(db + " --column_family=groups --key_hex scan --no_value", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(Hex(GroupKey({1, -1, 3, 0}))));
  EXPECT_THAT(out, HasSubstr(Hex(GroupIdKey(3, 0))));

  // A trajectory read back by key parses as the Trajectory written.
  ASSERT_EQ(
      Shell(db + " --column_family=trajectories --hex get " + Hex(TrajectoryKey(3, 0, 2)), &out), 0)
      << out;
  proto::Trajectory t;
  ASSERT_TRUE(t.ParseFromString(
      absl::HexStringToBytes(std::string(absl::StripAsciiWhitespace(out)).substr(2))))
      << out;
  EXPECT_EQ(t.sample_index(), 2);
  EXPECT_EQ(t.token_ids_size(), 512);
}

}  // namespace
}  // namespace dsarl::store
