// Metrics files are read by the tools people use: JSON Lines by Python's json module and our
// TensorBoard event files by TensorBoard's own reader. Without python3 or tensorboard those tests
// skip, saying so (and fail in CI, where both must be installed). A resumed run leaves one row per
// step in metrics.jsonl, the store and TensorBoard's view: the rows a crashed process wrote after
// its last checkpoint are replaced by those of the steps trained again.
#include "learner/metrics.h"

#include <cstdlib>
#include <fstream>
#include <vector>

#include "base/json.h"
#include "gtest/gtest.h"
#include "tests/base/temp_dir.h"
#include "tests/prerequisite.h"
#include "tests/status_matchers.h"

namespace dsarl::learner {
namespace {

bool PythonHas(const std::string& module) {
  return std::system(("python3 -c 'import " + module + "' >/dev/null 2>&1").c_str()) == 0;
}

TEST(Metrics, TensorBoardAndJsonlReadBack) {
  DSARL_REQUIRE(PythonHas("json"), "python3 (apt-get install python3)");
  DSARL_REQUIRE(PythonHas("tensorboard.backend.event_processing.event_accumulator"),
                "tensorboard for python3 (pip install tensorboard)");
  const dsarl::testing::ScratchDir scratch("metrics");
  const std::string dir = scratch.Sub("run");
  {
    ASSERT_OK_AND_ASSIGN(auto w, MetricsWriter::Open(dir));
    for (int step = 0; step < 5; ++step) {
      ASSERT_OK(w->Write(step, {{"reward/mean", 0.1 * step}, {"kl", 0.01}, {"bad", NAN}}));
    }
  }
  std::ifstream in(dir + "/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) ++lines;
  EXPECT_EQ(lines, 5);
  const std::string script =
      std::string(
          "python3 -c \"\n"
          "import json,sys\n"
          "rows=[json.loads(l) for l in open('") +
      dir +
      "/metrics.jsonl')]\n"
      "assert rows[3]['reward/mean']==0.30000000000000004 or "
      "abs(rows[3]['reward/mean']-0.3)<1e-12\n"
      "assert rows[0]['bad'] is None\n"
      "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n"
      "acc=EventAccumulator('" +
      dir +
      "/tensorboard'); acc.Reload()\n"
      "ev=acc.Scalars('reward/mean')\n"
      "assert [e.step for e in ev]==[0,1,2,3,4], ev\n"
      "assert abs(ev[4].value-0.4)<1e-6\n"
      "assert 'bad' not in acc.Tags()['scalars']\n"
      "print('tensorboard read', len(ev), 'scalars')\n\"";
  EXPECT_EQ(std::system(script.c_str()), 0);
}

struct Row {
  int64_t step;
  double v;
};

std::vector<Row> JsonlRows(const std::string& path) {
  std::vector<Row> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    absl::StatusOr<Json> row = ParseJson(line);
    EXPECT_TRUE(row.ok()) << row.status() << ": " << line;
    if (!row.ok()) continue;
    rows.push_back({row->Find("step")->int_value(), row->Find("v")->number_value()});
  }
  return rows;
}

std::vector<Row> StoreRows(const store::Store& s, uint64_t run_id) {
  std::vector<Row> rows;
  EXPECT_OK(s.ScanStepMetrics(run_id, 0, 1000, [&](const proto::StepMetrics& m) {
    rows.push_back({m.step(), m.values().at("v")});
    return true;
  }));
  return rows;
}

// Steps 1..5 by a process that checkpointed at 3 and died mid-write of step 6 (a torn line), then
// steps 4..6 again by the resumed one: `v` is the step, plus 100 for the resumed process.
void CrashAndResume(const std::string& dir, store::Store* s) {
  {
    ASSERT_OK_AND_ASSIGN(auto w,
                         MetricsWriter::Open(dir, {.resume_step = 0, .store = s, .run_id = 7}));
    for (int step = 1; step <= 5; ++step) ASSERT_OK(w->Write(step, {{"v", double(step)}}));
  }
  {
    std::ofstream torn(dir + "/metrics.jsonl", std::ios::app);
    torn << "{\"step\":6,\"time\":17";
  }
  ASSERT_OK_AND_ASSIGN(auto w,
                       MetricsWriter::Open(dir, {.resume_step = 3, .store = s, .run_id = 7}));
  for (int step = 4; step <= 6; ++step) ASSERT_OK(w->Write(step, {{"v", 100.0 + step}}));
}

void ExpectResumedRows(const std::vector<Row>& rows, int last) {
  ASSERT_EQ(rows.size(), size_t(last));
  for (int i = 0; i < last; ++i) {
    const int step = i + 1;
    EXPECT_EQ(rows[i].step, step);
    EXPECT_EQ(rows[i].v, step <= 3 ? step : 100.0 + step) << "step " << step;
  }
}

TEST(Metrics, ResumeLeavesOneRowPerStepInJsonlAndStore) {
  const dsarl::testing::ScratchDir scratch("metrics-resume");
  const std::string dir = scratch.Sub("run");
  store::OpenOptions so;
  so.create_if_missing = true;
  ASSERT_OK_AND_ASSIGN(auto s, store::Store::Open(scratch.Sub("store"), so));
  ASSERT_NO_FATAL_FAILURE(CrashAndResume(dir, s.get()));
  ExpectResumedRows(JsonlRows(dir + "/metrics.jsonl"), 6);
  ExpectResumedRows(StoreRows(*s, 7), 6);
  EXPECT_EQ(s->Counts().step_metrics(), 6u);
  // Resumed again at step 4 and stopped before training: steps 5 and 6 are gone from both.
  ASSERT_OK(MetricsWriter::Open(dir, {.resume_step = 4, .store = s.get(), .run_id = 7}).status());
  ExpectResumedRows(JsonlRows(dir + "/metrics.jsonl"), 4);
  ExpectResumedRows(StoreRows(*s, 7), 4);
  EXPECT_EQ(s->Counts().step_metrics(), 4u);
  // Without resume_step (the LM stages) the file is appended to as it is.
  ASSERT_OK_AND_ASSIGN(auto w, MetricsWriter::Open(dir));
  ASSERT_OK(w->Write(1, {{"v", 1}}));
  EXPECT_EQ(JsonlRows(dir + "/metrics.jsonl").size(), 5u);
}

TEST(Metrics, KeepRowsUpToDropsLaterAndDuplicateRows) {
  const dsarl::testing::ScratchDir scratch("metrics-keep");
  const std::string path = scratch.Sub("m.jsonl");
  ASSERT_OK_AND_ASSIGN(int dropped, KeepMetricsRowsUpTo(path, 3));  // no file: nothing to do
  EXPECT_EQ(dropped, 0);
  {
    std::ofstream out(path);
    out << "{\"step\":1,\"v\":1}\n{\"step\":2,\"v\":2}\n{\"step\":2,\"v\":20}\n"
           "{\"step\":4,\"v\":4}\nnot json\n{\"step\":3,\"v\":3}\n";
  }
  ASSERT_OK_AND_ASSIGN(dropped, KeepMetricsRowsUpTo(path, 3));
  EXPECT_EQ(dropped, 3);
  const std::vector<Row> rows = JsonlRows(path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].step, 2);
  EXPECT_EQ(rows[1].v, 20);  // the last row written for step 2
  EXPECT_EQ(rows[2].step, 3);
  ASSERT_OK_AND_ASSIGN(dropped, KeepMetricsRowsUpTo(path, 3));  // already clean: unchanged
  EXPECT_EQ(dropped, 0);
}

TEST(Metrics, TensorBoardDropsTheCrashedProcessesLaterSteps) {
  DSARL_REQUIRE(PythonHas("tensorboard.backend.event_processing.event_accumulator"),
                "tensorboard for python3 (pip install tensorboard)");
  const dsarl::testing::ScratchDir scratch("metrics-tb-resume");
  const std::string dir = scratch.Sub("run");
  ASSERT_NO_FATAL_FAILURE(CrashAndResume(dir, nullptr));
  const std::string script =
      "python3 -c \"\n"
      "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n"
      "acc=EventAccumulator('" +
      dir +
      "/tensorboard'); acc.Reload()\n"
      "ev=[(e.step, e.value) for e in acc.Scalars('v')]\n"
      "assert ev==[(1,1),(2,2),(3,3),(4,104),(5,105),(6,106)], ev\n"
      "print('tensorboard read', ev)\n\"";
  EXPECT_EQ(std::system(script.c_str()), 0);
}

}  // namespace
}  // namespace dsarl::learner
