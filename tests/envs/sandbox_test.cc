// The sandbox stops what it must and says which limit stopped it: an infinite loop, a sleeper, a
// fork bomb, a memory hog, network access, a write outside its directory, an output flood. A
// well-behaved program runs, reads its stdin and files, and writes in its own directory.
#include "envs/sandbox.h"

#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/envs/sandbox_python.h"
#include "tests/prerequisite.h"
#include "tests/status_matchers.h"

namespace dsarl::envs {
namespace {

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DSARL_REQUIRE(GetSandboxSupport().landlock_abi > 0 && GetSandboxSupport().seccomp(),
                  "a kernel with Landlock and seccomp (the sandbox refuses to run without them)");
    auto python = FindTestPython();
    DSARL_REQUIRE(python.ok(), python.status());
    python_ = python->path;
    paths_ = python->read_paths;
  }
  // Runs `code` with python. Unless the test sets them, the time limits are far above what any
  // of these programs needs on a loaded machine (a test about one limit must not be stopped by
  // another because the machine is busy).
  SandboxResult Run(const std::string& code, SandboxOptions options = {}) {
    options.files["main.py"] = code;
    options.read_only_paths = paths_;
    if (options.limits.wall_time_s == SandboxLimits().wall_time_s) options.limits.wall_time_s = 120;
    if (options.limits.cpu_time_s == SandboxLimits().cpu_time_s) options.limits.cpu_time_s = 60;
    auto r = RunSandboxed({python_, "-I", "-S", "main.py"}, options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SandboxResult{};
  }
  std::string python_;
  std::vector<std::string> paths_;
};

TEST_F(SandboxTest, RunsAWellBehavedProgram) {
  SandboxOptions o;
  o.stdin_text = "21\n";
  o.files["data.txt"] = "from a file";
  SandboxResult r =
      Run("import os\n"
          "n = int(input())\n"
          "open('out.txt', 'w').write('mine')\n"
          "print(n * 2, open('data.txt').read(), open('out.txt').read(), os.getcwd() == "
          "os.environ['HOME'])\n",
          o);
  EXPECT_TRUE(r.ok()) << r.Summary() << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "42 from a file mine True\n");
  EXPECT_EQ(r.limit, SandboxLimit::kNone);
}

// One CPU second, and a wall limit two minutes away: on a machine however busy, only the CPU
// limit can stop it. (Its measured CPU time is not checked: the kernel's rusage and the RLIMIT_CPU
// it enforces account differently, and on a loaded machine rusage can show well under 1 s.)
TEST_F(SandboxTest, InfiniteLoopIsStoppedByCpuTime) {
  SandboxOptions o;
  o.limits.cpu_time_s = 1;
  SandboxResult r = Run("while True:\n    pass\n", o);
  EXPECT_EQ(r.limit, SandboxLimit::kCpuTime) << r.Summary();
  EXPECT_NE(r.limit_message.find("CPU time limit of 1 s"), std::string::npos) << r.Summary();
}

// Stopped at its half-second wall limit, not at the end of its ten-minute sleep: the upper bound
// is the behaviour under test, with a minute of room for a loaded machine.
TEST_F(SandboxTest, SleeperIsStoppedByWallTime) {
  SandboxOptions o;
  o.limits.wall_time_s = 0.5;
  SandboxResult r = Run("import time\ntime.sleep(600)\n", o);
  EXPECT_EQ(r.limit, SandboxLimit::kWallTime) << r.Summary();
  EXPECT_GE(r.wall_time_s, 0.5) << r.Summary();
  EXPECT_LT(r.wall_time_s, 60) << r.Summary();
}

TEST_F(SandboxTest, ForkBombIsStoppedByTheProcessLimit) {
  SandboxResult r = Run("import os\nwhile True:\n    os.fork()\n");
  EXPECT_EQ(r.limit, SandboxLimit::kProcesses) << r.Summary() << r.stderr_text.substr(0, 300);
  // Nothing it started survives.
  EXPECT_FALSE(r.ok());
}

TEST_F(SandboxTest, MemoryHogIsStoppedByTheMemoryLimit) {
  SandboxOptions o;
  o.limits.memory_bytes = 256LL << 20;
  SandboxResult r = Run("blocks = []\nwhile True:\n    blocks.append(bytearray(16 << 20))\n", o);
  EXPECT_EQ(r.limit, SandboxLimit::kMemory) << r.Summary() << r.stderr_text;
}

TEST_F(SandboxTest, NetworkAccessIsStopped) {
  SandboxResult r =
      Run("import socket\nsocket.create_connection(('127.0.0.1', 80), timeout=1)\nprint('out')\n");
  EXPECT_EQ(r.limit, SandboxLimit::kNetwork) << r.Summary() << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "");
}

TEST_F(SandboxTest, WriteOutsideItsDirectoryIsStopped) {
  // Not under /tmp: in the private root /tmp is the program's own directory.
  char tmpl[] = "/var/tmp/dsarl-sandbox-target-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  chmod(tmpl, 0777);  // writable by anyone, so only the sandbox can stop the write
  const std::string target = std::string(tmpl) + "/escaped.txt";
  SandboxResult r = Run("open('" + target + "', 'w').write('x')\n");
  EXPECT_EQ(r.limit, SandboxLimit::kFilesystem) << r.Summary() << r.stderr_text;
  EXPECT_NE(access(target.c_str(), F_OK), 0) << "the file was written";
  rmdir(tmpl);
}

TEST_F(SandboxTest, OutputFloodIsStopped) {
  SandboxOptions o;
  o.limits.max_output_bytes = 10000;
  SandboxResult r = Run("while True:\n    print('x' * 100)\n", o);
  EXPECT_EQ(r.limit, SandboxLimit::kOutput) << r.Summary();
  EXPECT_LE(r.stdout_text.size() + r.stderr_text.size(), 10000u);
}

TEST_F(SandboxTest, CannotLeaveItsProcessGroup) {
  SandboxResult r = Run("import os\nos.setsid()\n");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.stderr_text.find("Operation not permitted"), std::string::npos) << r.stderr_text;
}

TEST_F(SandboxTest, RejectsBadRequests) {
  EXPECT_EQ(RunSandboxed({"python3"}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  SandboxOptions o;
  o.files["../x"] = "";
  EXPECT_EQ(RunSandboxed({python_}, o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dsarl::envs
