// The worker supervisor and spawner of `dsarl run` with /bin/sh as the worker: what a worker
// gets (log, environment, descriptors), the lifeline's EOF when the parent lets go, and the
// supervisor giving up on a worker that keeps exiting, whatever its exit status.
#include "cli/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/worker_spawn.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("supervisor_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Log(const std::string& name) const { return (dir_ / name).string(); }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static SpawnSpec Shell(const std::string& script, const std::string& log) {
    return SpawnSpec{{"/bin/sh", "-c", script}, {"FOO=bar", "PATH=/usr/bin:/bin"}, log, -1};
  }
  // Waits for `pid` up to `limit_s`; its wait status, or -1 when it is still running.
  static int WaitFor(pid_t pid, double limit_s) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(limit_s);
    int status = 0;
    while (Clock::now() < deadline) {
      if (waitpid(pid, &status, WNOHANG) == pid) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  std::filesystem::path dir_;
};

TEST(FailureWindowTest, CountsOnlyFailuresWithinTheWindow) {
  const Clock::time_point t0{};
  FailureWindow w(3, 10.0);
  EXPECT_FALSE(w.Record(t0));
  EXPECT_FALSE(w.Record(t0 + std::chrono::seconds(6)));
  // The first failure is 11 s old by now: two within the window.
  EXPECT_FALSE(w.Record(t0 + std::chrono::seconds(11)));
  EXPECT_EQ(w.count(), 2);
  EXPECT_TRUE(w.Record(t0 + std::chrono::seconds(12)));
  EXPECT_EQ(w.count(), 3);
  EXPECT_DOUBLE_EQ(w.span_s(), 6.0);
}

TEST_F(SupervisorTest, LogTailShowsTheLastLines) {
  {
    std::ofstream out(Log("a.log"));
    for (int i = 1; i <= 30; ++i) out << "line " << i << "\n";
  }
  const std::string tail = LogTail(Log("a.log"), 3);
  EXPECT_EQ(tail, "  line 28\n  line 29\n  line 30");
  std::ofstream(Log("empty.log")).close();
  EXPECT_EQ(LogTail(Log("empty.log"), 3), "  (empty)");
  EXPECT_THAT(LogTail(Log("missing.log"), 3), HasSubstr("unreadable"));
}

TEST(DescribeExitTest, NamesStatusOrSignal) {
  EXPECT_EQ(DescribeExit(3 << 8), "status 3");
  EXPECT_THAT(DescribeExit(SIGSEGV), HasSubstr("signal 11"));
}

TEST_F(SupervisorTest, SpawnGivesTheChildItsLogEnvironmentAndNoStrayDescriptors) {
  // A descriptor without close-on-exec, as a careless library would leave one.
  const int stray = open("/dev/null", O_RDONLY);
  ASSERT_GE(stray, 0);
  const std::string script = absl::StrCat(
      "echo out; echo err >&2; echo \"FOO=$FOO\"; "
      "if [ -e /proc/self/fd/",
      stray, " ]; then echo stray-open; else echo stray-closed; fi; read x && echo stdin-data");
  ASSERT_OK_AND_ASSIGN(pid_t pid, SpawnProcess(Shell(script, Log("w.log"))));
  close(stray);
  const int status = WaitFor(pid, 10);
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status));
  const std::string log = Read(Log("w.log"));
  EXPECT_THAT(log, HasSubstr("out\n"));
  EXPECT_THAT(log, HasSubstr("err\n"));
  EXPECT_THAT(log, HasSubstr("FOO=bar\n"));
  EXPECT_THAT(log, HasSubstr("stray-closed"));
  EXPECT_THAT(log, Not(HasSubstr("stdin-data")));  // stdin is /dev/null
}

TEST_F(SupervisorTest, SpawnReportsAFailedExec) {
  SpawnSpec spec{{"/nonexistent/dsarl"}, {}, Log("x.log"), -1};
  absl::StatusOr<pid_t> pid = SpawnProcess(spec);
  ASSERT_FALSE(pid.ok());
  EXPECT_THAT(std::string(pid.status().message()), HasSubstr("/nonexistent/dsarl"));
}

TEST_F(SupervisorTest, LifelineReadsEofOnlyWhenTheParentLetsGo) {
  ASSERT_OK_AND_ASSIGN(ParentLifeline lifeline, ParentLifeline::Create());
  SpawnSpec spec = Shell(absl::StrCat("cat <&", kLifelineChildFd, "; echo eof"), Log("l.log"));
  spec.lifeline_fd = lifeline.child_end();
  ASSERT_OK_AND_ASSIGN(pid_t pid, SpawnProcess(spec));
  // A second child must not hold the write end either (it would keep the first one waiting).
  ASSERT_OK_AND_ASSIGN(pid_t other, SpawnProcess(Shell("exec sleep 30", Log("o.log"))));
  EXPECT_EQ(WaitFor(pid, 0.5), -1) << "the child saw EOF while the parent still holds the pipe";
  { ParentLifeline gone = std::move(lifeline); }  // closes the write end
  const int status = WaitFor(pid, 5);
  kill(other, SIGKILL);
  waitpid(other, nullptr, 0);
  ASSERT_NE(status, -1) << "no EOF after the parent closed its end";
  EXPECT_THAT(Read(Log("l.log")), HasSubstr("eof"));
}

TEST_F(SupervisorTest, GivesUpOnAWorkerThatKeepsFailing) {
  SupervisorOptions o;
  o.max_failures = 3;
  o.failure_window_s = 60;
  const std::string log = Log("worker-0.log");
  ASSERT_OK_AND_ASSIGN(
      auto s,
      Supervisor::Start(
          1, [&](int) { return Shell("echo 'cannot load the environment'; exit 3", log); }, o));
  absl::Status given_up;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (given_up.ok() && Clock::now() < deadline) {
    given_up = s->Poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(given_up.ok()) << "still restarting after 20 s";
  EXPECT_EQ(given_up.code(), absl::StatusCode::kFailedPrecondition);
  const std::string m(given_up.message());
  EXPECT_THAT(m, HasSubstr("worker-0 failed 3 times"));
  EXPECT_THAT(m, HasSubstr("status 3"));
  EXPECT_THAT(m, HasSubstr("cannot load the environment"));
  EXPECT_THAT(m, HasSubstr(log));
  EXPECT_EQ(s->workers()[0].restarts, 2);
}

TEST_F(SupervisorTest, ACleanExitLoopIsAFailureLoopToo) {
  // A plugin that calls exit(0) in every episode ends its worker with status 0 each time.
  SupervisorOptions o;
  o.max_failures = 3;
  ASSERT_OK_AND_ASSIGN(auto s,
                       Supervisor::Start(
                           1, [&](int) { return Shell("exit 0", Log("worker-0.log")); }, o));
  absl::Status st;
  const auto until = Clock::now() + std::chrono::seconds(10);
  while (st.ok() && Clock::now() < until) {
    st = s->Poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr("while the learner still needed it"));
  EXPECT_EQ(s->workers()[0].restarts, 2);
  s->Stop(/*terminate=*/true, /*grace_s=*/1);
}

TEST_F(SupervisorTest, StopTerminatesThenKills) {
  ASSERT_OK_AND_ASSIGN(auto s, Supervisor::Start(
                                   2,
                                   [&](int i) {
                                     // Worker 1 ignores SIGTERM: only the SIGKILL after the grace
                                     // ends it.
                                     return Shell(
                                         i == 0 ? "exec sleep 30" : "trap '' TERM; exec sleep 30",
                                         Log(absl::StrCat("worker-", i, ".log")));
                                   },
                                   SupervisorOptions{}));
  const pid_t stubborn = s->workers()[1].pid;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the trap is set
  const auto t0 = Clock::now();
  s->Stop(/*terminate=*/true, /*grace_s=*/1);
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_LT(took, 10);
  EXPECT_NE(kill(stubborn, 0), 0) << "worker 1 still exists after Stop";
}

}  // namespace
}  // namespace dsarl::cli
