// Metrics files are read by the tools people use: JSON Lines by Python's json module and our
// TensorBoard event files by TensorBoard's own reader. Without python3 or tensorboard the test
// skips, saying so (and fails in CI, where both must be installed).
#include "learner/metrics.h"

#include <cstdlib>
#include <fstream>

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

}  // namespace
}  // namespace dsarl::learner
