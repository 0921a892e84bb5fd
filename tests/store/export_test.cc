// Export and dump: JSON Lines that python's json module reads back (one object per line, same
// columns in every row, 64-bit ids as numbers, NaN as null), the filters, the readable dump, and
// the `dsarl store ...` commands end to end.
#include "store/export.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/json_proto.h"
#include "tests/prerequisite.h"
#include "tests/status_matchers.h"
#include "tests/store/test_util.h"

namespace dsarl::store {
namespace {

using ::dsarl::store::testing::MakeGroup;
using ::dsarl::store::testing::Shell;
using ::dsarl::store::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

bool HavePython() {
  std::string out;
  return Shell("command -v python3", &out) == 0;
}

// Checks `path` with python's json module: every line one object, all rows with the same keys.
// Prints "<rows> <sorted keys of row 0>" on success; returns the exit status.
int PythonCheck(const std::string& path, std::string* out) {
  const std::string script =
      "import json,sys\n"
      "rows=[json.loads(l) for l in open(sys.argv[1])]\n"
      "assert all(isinstance(r,dict) for r in rows)\n"
      "keys=[sorted(r) for r in rows]\n"
      "assert all(k==keys[0] for k in keys), 'rows differ in columns'\n"
      "print(len(rows), ','.join(keys[0]) if keys else '')\n";
  std::ofstream(path + ".py") << script;
  return Shell(absl::StrCat("python3 ", path, ".py ", path), out);
}

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OpenOptions options;
    options.create_if_missing = true;
    ASSERT_OK_AND_ASSIGN(store_, Store::Open(tmp_.Sub("store"), options));
    proto::EnvSpec env;
    env.set_id(1);
    env.set_category("qa");
    env.set_description("quote \" backslash \\ newline \n tab \t bell \x07 utf8 caf\xc3\xa9");
    ASSERT_OK(store_->PutEnv(env));
    for (uint64_t id = 1; id <= 12; ++id) {
      proto::Prompt p;
      p.set_id(id == 12 ? (uint64_t{1} << 60) : id);  // a 64-bit id must stay a number
      p.set_env_id(1);
      p.set_category("qa");
      p.set_user("question " + std::to_string(id));
      ASSERT_OK(store_->PutPrompt(p));
    }
    for (uint64_t id = 1; id <= 6; ++id) {
      proto::Group g = MakeGroup(id, 0, id <= 3 ? 1 : 2, static_cast<int64_t>(id), 4, 16);
      g.mutable_trajectories(0)->set_behaviour_logprobs(5, std::nanf(""));
      ASSERT_OK(store_->AppendGroup(g));
    }
    proto::StepMetrics m;
    m.set_run_id(1);
    m.set_step(3);
    (*m.mutable_values())["loss"] = 0.25;
    (*m.mutable_values())["kl"] = 0.5;
    ASSERT_OK(store_->PutStepMetrics(m));
  }

  std::vector<std::string> Export(const ExportOptions& options) {
    std::vector<std::string> lines;
    auto rows = ExportJsonl(*store_, options, [&](const std::string& line) {
      lines.push_back(line);
      return absl::OkStatus();
    });
    EXPECT_OK(rows);
    if (rows.ok()) {
      EXPECT_EQ(*rows, lines.size());
    }
    return lines;
  }

  std::string WriteLines(const std::vector<std::string>& lines, const std::string& name) {
    const std::string path = tmp_.Sub(name);
    std::ofstream f(path);
    for (const auto& l : lines) f << l << "\n";
    return path;
  }

  TempDir tmp_;
  std::unique_ptr<Store> store_;
};

TEST_F(ExportTest, EveryTableIsValidJsonLines) {
  DSARL_REQUIRE(HavePython(), "python3, to read the export back (apt-get install python3)");
  const std::pair<const char*, int> tables[] = {
      {"envs", 1}, {"prompts", 12}, {"groups", 6},     {"trajectories", 24},
      {"runs", 0}, {"metrics", 1},  {"checkpoints", 0}};
  for (const auto& [table, rows] : tables) {
    ExportOptions options;
    options.table = table;
    const std::vector<std::string> lines = Export(options);
    ASSERT_EQ(lines.size(), static_cast<size_t>(rows)) << table;
    std::string out;
    ASSERT_EQ(PythonCheck(WriteLines(lines, std::string(table) + ".jsonl"), &out), 0)
        << table << ":\n"
        << out << "\n"
        << absl::StrJoin(lines, "\n");
    EXPECT_THAT(out, HasSubstr(std::to_string(rows))) << out;
  }
}

TEST_F(ExportTest, RowsCarryTheirContextAndExactValues) {
  ExportOptions options;
  options.table = "trajectories";
  const std::vector<std::string> lines = Export(options);
  ASSERT_EQ(lines.size(), 24u);
  // Group context first, then the trajectory's own fields; NaN became null.
  EXPECT_THAT(lines[0],
              HasSubstr("{\"run_id\":1,\"step\":1,\"attempt\":0,\"worker_id\":\"worker-1\","
                        "\"prompt_id\":1,\"sample_index\":0,"));
  EXPECT_THAT(lines[0], HasSubstr("null"));
  EXPECT_THAT(lines[0], HasSubstr("\"finish_reason\":\"FINISH_EOS\""));
  options.table = "prompts";
  const std::vector<std::string> prompts = Export(options);
  EXPECT_THAT(prompts.back(), HasSubstr("\"id\":1152921504606846976,"));
  options.table = "groups";
  const std::vector<std::string> groups = Export(options);
  EXPECT_THAT(groups[0], HasSubstr("\"num_trajectories\":4"));
  EXPECT_THAT(groups[0], Not(HasSubstr("\"trajectories\"")));
  options.table = "metrics";
  EXPECT_THAT(Export(options)[0], HasSubstr("\"values\":{\"kl\":0.5,\"loss\":0.25}"));
  options.table = "envs";
  EXPECT_THAT(
      Export(options)[0],
      HasSubstr("quote \\\" backslash \\\\ newline \\n tab \\t bell \\u0007 utf8 caf\xc3\xa9"));
}

TEST_F(ExportTest, FiltersAndLimits) {
  ExportOptions options;
  options.table = "groups";
  options.run_id = 2;
  options.step_from = 5;
  EXPECT_EQ(Export(options).size(), 2u);  // prompts 5 and 6
  options.table = "trajectories";
  options.limit = 3;
  EXPECT_EQ(Export(options).size(), 3u);
  options.table = "prompts";
  auto bad = ExportJsonl(*store_, options, [](const std::string&) { return absl::OkStatus(); });
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  options = ExportOptions();
  options.table = "nope";
  bad = ExportJsonl(*store_, options, [](const std::string&) { return absl::OkStatus(); });
  EXPECT_THAT(bad.status().message(), HasSubstr("trajectories"));
  // A failing sink stops the export with its error.
  options.table = "prompts";
  bad = ExportJsonl(*store_, options,
                    [](const std::string&) { return absl::ResourceExhaustedError("disk full"); });
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(ExportTest, DumpIsReadableAndElidesLongFields) {
  std::vector<std::string> lines;
  DumpOptions options;
  options.cf = Cf::kTrajectories;
  options.limit = 2;
  ASSERT_OK_AND_ASSIGN(uint64_t n, DumpText(*store_, options, [&](const std::string& l) {
                         lines.push_back(l);
                         return absl::OkStatus();
                       }));
  EXPECT_EQ(n, 2u);
  const std::string text = absl::StrJoin(lines, "\n");
  EXPECT_THAT(text, HasSubstr("# trajectory prompt=1 attempt=0 sample=0"));
  EXPECT_THAT(text, HasSubstr("# token_ids: 16 values, first 8 shown"));
  EXPECT_THAT(text, HasSubstr("finish_reason: FINISH_EOS"));

  lines.clear();
  options.cf = Cf::kGroups;
  options.limit = 0;
  options.index = true;
  ASSERT_OK_AND_ASSIGN(n, DumpText(*store_, options, [&](const std::string& l) {
                         lines.push_back(l);
                         return absl::OkStatus();
                       }));
  EXPECT_EQ(n, 6u);
  EXPECT_THAT(absl::StrJoin(lines, "\n"),
              HasSubstr("# group-index prompt=1 attempt=0 -> group run=1 step=1 prompt=1"));
}

// The commands as a user runs them, on a store another handle (this test's writer) holds open.
TEST_F(ExportTest, StoreCommandsEndToEnd) {
  const char* bin = std::getenv("DSARL_BIN");
  DSARL_REQUIRE(bin != nullptr, "the dsarl binary (DSARL_BIN, set by ctest)");
  const std::string dir = tmp_.Sub("store");
  std::string out;
  ASSERT_EQ(Shell(absl::StrCat(bin, " store stats ", dir), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("1 envs, 12 prompts, 6 groups, 24 trajectories"));
  EXPECT_THAT(out, HasSubstr("trajectories"));

  ASSERT_EQ(Shell(absl::StrCat(bin, " store dump ", dir, " --cf prompts --limit 5"), &out), 0)
      << out;
  size_t records = 0;
  for (size_t pos = 0; (pos = out.find("# prompt ", pos)) != std::string::npos; ++pos) ++records;
  EXPECT_EQ(records, 5u) << out;
  EXPECT_THAT(out, HasSubstr("user: \"question 1\""));

  const std::string jsonl = tmp_.Sub("t.jsonl");
  ASSERT_EQ(Shell(absl::StrCat(bin, " store export ", dir,
                               " --cf trajectories --format jsonl --out ", jsonl),
                  &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("24 row(s) of trajectories"));

  EXPECT_EQ(
      Shell(absl::StrCat(bin, " store export ", dir, " --cf trajectories --format csv"), &out), 2);
  EXPECT_THAT(out, HasSubstr("--format jsonl"));
  EXPECT_EQ(Shell(absl::StrCat(bin, " store stats ", tmp_.Sub("missing")), &out), 1);
  EXPECT_THAT(out, HasSubstr(tmp_.Sub("missing")));
  EXPECT_EQ(Shell(absl::StrCat(bin, " store dump ", dir, " --cf nope"), &out), 2);
  EXPECT_THAT(out, HasSubstr("envs, prompts, groups, trajectories, runs, meta"));

  // Last, as it needs python: the exported file reads back.
  DSARL_REQUIRE(HavePython(), "python3, to read the export back (apt-get install python3)");
  ASSERT_EQ(PythonCheck(jsonl, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("24 attempt,behaviour_logprobs,"));
}

TEST(JsonTest, FloatsRoundTripAndSpecialValuesAreNull) {
  proto::StepMetrics m;
  m.set_run_id(std::numeric_limits<uint64_t>::max());
  m.set_step(-1);
  (*m.mutable_values())["a"] = 0.1;
  (*m.mutable_values())["b"] = std::numeric_limits<double>::infinity();
  (*m.mutable_values())["c"] = 1e-300;
  EXPECT_EQ(ProtoToJson(m).Dump(),
            "{\"run_id\":18446744073709551615,\"step\":-1,\"unix_ms\":0,"
            "\"values\":{\"a\":0.1,\"b\":null,\"c\":1e-300}}");
}

}  // namespace
}  // namespace dsarl::store
