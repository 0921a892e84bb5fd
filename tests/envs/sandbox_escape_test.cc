// Hostile programs against the sandbox, as the model could write them through the code
// interpreter: each escape is stopped, and the result names the layer that stopped it. Each is
// run with every layer, and again with the layer that stops it first left out, to show that the
// next layer holds on its own (a machine without user namespaces, or without seccomp).
//
// Run as root, each program runs under a sandbox-only uid; SandboxEscapeAsNonRoot.AllHold runs
// these and the limits of sandbox_test.cc (loops, fork bombs, memory, output, writes) again as the
// unprivileged user nobody, with a supplementary group kept, as a user on a cluster would.
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "envs/sandbox.h"
#include "gtest/gtest.h"
#include "tests/envs/sandbox_python.h"
#include "tests/prerequisite.h"

namespace dsarl::envs {
namespace {

constexpr uint32_t kNs = kLayerNamespaces;
constexpr const char* kNonRootEnv = "DSARL_SANDBOX_TEST_NONROOT";
constexpr const char* kGroupFileEnv = "DSARL_SANDBOX_TEST_GROUP_FILE";

class SandboxEscape : public ::testing::Test {
 protected:
  void SetUp() override {
    const uint32_t need = kNs | kLayerSeccomp | kLayerLandlockRead;
    DSARL_REQUIRE((GetSandboxSupport().layers & need) == need,
                  "user namespaces, seccomp and Landlock (dsarl doctor says which is missing)");
    auto python = FindTestPython();
    DSARL_REQUIRE(python.ok(), python.status());
    python_ = python->path;
    paths_ = python->read_paths;
    char tmpl[] = "/tmp/dsarl-escape-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  SandboxResult Run(const std::string& code, uint32_t disabled = 0,
                    std::vector<std::string> extra_argv = {}) {
    SandboxOptions o;
    o.files["main.py"] = code;
    o.read_only_paths = paths_;
    o.disabled_layers = disabled;
    o.min_level = static_cast<int>(SandboxLevel::kMinimal);
    o.limits.wall_time_s = 60;
    o.limits.cpu_time_s = 30;
    std::vector<std::string> argv = {python_, "-I", "-S", "main.py"};
    argv.insert(argv.end(), extra_argv.begin(), extra_argv.end());
    auto r = RunSandboxed(argv, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SandboxResult{};
  }

  // `code` is stopped by `limit` at `layer`, with `disabled` left out; a layer this machine does
  // not have is not checked (it is reported).
  void ExpectStopped(const std::string& code, uint32_t disabled, SandboxLimit limit,
                     uint32_t layer) {
    if ((GetSandboxSupport().layers & layer) == 0) {
      std::cout << "not checked: this machine has no " << SandboxLayerName(layer) << "\n";
      return;
    }
    SandboxResult r = Run(code, disabled);
    EXPECT_EQ(r.limit, limit) << "without " << SandboxLayerNames(disabled) << ": " << r.Summary()
                              << "\n"
                              << r.stdout_text << r.stderr_text;
    EXPECT_EQ(SandboxLayerName(r.stopped_by), std::string(SandboxLayerName(layer)))
        << "without " << SandboxLayerNames(disabled) << ": " << r.Summary();
    EXPECT_FALSE(absl::StrContains(r.stdout_text, "ESCAPED")) << r.stdout_text;
  }

  std::string MakeFile(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    chmod(path.c_str(), mode);
    return path;
  }

  std::string python_;
  std::vector<std::string> paths_;
  std::string dir_;
};

std::string ReadAndPrint(const std::string& path) {
  return absl::StrCat("data = open('", path, "').read()\nprint('ESCAPED', data[:40])\n");
}

TEST_F(SandboxEscape, ReadingEtcPasswd) {
  ExpectStopped(ReadAndPrint("/etc/passwd"), 0, SandboxLimit::kFilesystem, kLayerMountNs);
  ExpectStopped(ReadAndPrint("/etc/passwd"), kNs, SandboxLimit::kFilesystem, kLayerLandlockRead);
}

// The store, the checkpoint and the configs are files of the invoking user, readable by it.
TEST_F(SandboxEscape, ReadingTheStore) {
  std::filesystem::create_directories(dir_ + "/store");
  const std::string path = MakeFile("store/CURRENT", "MANIFEST-000001\n", 0644);
  ExpectStopped(ReadAndPrint(path), 0, SandboxLimit::kFilesystem, kLayerMountNs);
  ExpectStopped(ReadAndPrint(path), kNs, SandboxLimit::kFilesystem, kLayerLandlockRead);
}

TEST_F(SandboxEscape, ReadingAPrivateFileOfTheInvokingUser) {
  const std::string path = MakeFile("id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n", 0600);
  ExpectStopped(ReadAndPrint(path), 0, SandboxLimit::kFilesystem, kLayerMountNs);
  ExpectStopped(ReadAndPrint(path), kNs, SandboxLimit::kFilesystem, kLayerLandlockRead);
}

// A file only a supplementary group of the invoking user may read (set up by the non-root run).
TEST_F(SandboxEscape, ReadingAGroupOnlyFile) {
  const char* path = std::getenv(kGroupFileEnv);
  if (path == nullptr) GTEST_SKIP() << "runs inside SandboxEscapeAsNonRoot.AllHold";
  ASSERT_TRUE(std::ifstream(path).good()) << "the test user should read " << path;
  ExpectStopped(ReadAndPrint(path), 0, SandboxLimit::kFilesystem, kLayerMountNs);
  ExpectStopped(ReadAndPrint(path), kNs, SandboxLimit::kFilesystem, kLayerLandlockRead);
}

TEST_F(SandboxEscape, ReadingTheParentsCommandLine) {
  const std::string path = absl::StrCat("/proc/", getpid(), "/cmdline");
  ExpectStopped(ReadAndPrint(path), 0, SandboxLimit::kFilesystem, kLayerMountNs);
  ExpectStopped(ReadAndPrint(path), kNs, SandboxLimit::kFilesystem, kLayerLandlockRead);
}

// A listening socket of the test; `path` empty means an abstract name.
class Listener {
 public:
  Listener(int family, const std::string& path) {
    fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (family == AF_UNIX) {
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::memcpy(a.sun_path, path.data(), std::min(path.size(), sizeof(a.sun_path) - 1));
      const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
      ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0 && listen(fd_, 8) == 0;
      if (!path.empty() && path[0] != '\0') chmod(path.c_str(), 0777);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && listen(fd_, 8) == 0;
      socklen_t len = sizeof(a);
      getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
    }
  }
  ~Listener() { close(fd_); }
  bool ok() const { return ok_; }
  int port() const { return port_; }
  // No one connected.
  bool Untouched() const { return accept(fd_, nullptr, nullptr) < 0; }

 private:
  int fd_ = -1;
  bool ok_ = false;
  int port_ = 0;
};

TEST_F(SandboxEscape, ConnectingToAUnixSocketPath) {
  const std::string path = dir_ + "/docker.sock";
  Listener l(AF_UNIX, path);
  ASSERT_TRUE(l.ok());
  const std::string code =
      absl::StrCat("import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('", path,
                   "')\n"
                   "print('ESCAPED')\n");
  ExpectStopped(code, 0, SandboxLimit::kNetwork, kLayerSeccomp);
  ExpectStopped(code, kLayerSeccomp, SandboxLimit::kFilesystem, kLayerMountNs);
  EXPECT_TRUE(l.Untouched());
}

TEST_F(SandboxEscape, ConnectingToAnAbstractSocket) {
  const std::string name = absl::StrCat("dsarl-escape-", getpid());
  Listener l(AF_UNIX, std::string(1, '\0') + name);
  ASSERT_TRUE(l.ok());
  const std::string code =
      absl::StrCat("import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('\\0", name,
                   "')\n"
                   "print('ESCAPED')\n");
  ExpectStopped(code, 0, SandboxLimit::kNetwork, kLayerSeccomp);
  ExpectStopped(code, kLayerSeccomp, SandboxLimit::kNetwork, kLayerNetNs);
  ExpectStopped(code, kLayerSeccomp | kNs, SandboxLimit::kNetwork, kLayerLandlockScope);
  EXPECT_TRUE(l.Untouched());
}

TEST_F(SandboxEscape, ConnectingOverTcp) {
  Listener l(AF_INET, "");
  ASSERT_TRUE(l.ok());
  const std::string code =
      absl::StrCat("import socket\nsocket.create_connection(('127.0.0.1', ", l.port(),
                   "), timeout=5)\n"
                   "print('ESCAPED')\n");
  ExpectStopped(code, 0, SandboxLimit::kNetwork, kLayerSeccomp);
  ExpectStopped(code, kLayerSeccomp, SandboxLimit::kNetwork, kLayerLandlockNet);
  ExpectStopped(code, kLayerSeccomp | kLayerLandlockWrite, SandboxLimit::kNetwork, kLayerNetNs);
  EXPECT_TRUE(l.Untouched());
}

TEST_F(SandboxEscape, ExecutingAShell) {
  const std::string code = "import os\nos.execv('/bin/sh', ['sh', '-c', 'echo ESCAPED'])\n";
  ExpectStopped(code, 0, SandboxLimit::kFilesystem, kLayerMountNs);
  ExpectStopped(code, kNs, SandboxLimit::kFilesystem, kLayerLandlockRead);
  const std::string via_subprocess =
      "import subprocess\nprint(subprocess.run(['/bin/sh', '-c', 'echo ESCAPED']))\n";
  ExpectStopped(via_subprocess, 0, SandboxLimit::kFilesystem, kLayerMountNs);
}

// A program written to a memory file and executed from there.
TEST_F(SandboxEscape, ExecutingFromAMemoryFile) {
  const std::string code =
      "import os, sys\nfd = os.memfd_create('x')\n"
      "os.write(fd, open(sys.executable, 'rb').read())\n"
      "os.execv(f'/proc/self/fd/{fd}', ['x', '-c', 'print(\"ESCAPED\")'])\n";
  ExpectStopped(code, 0, SandboxLimit::kSyscall, kLayerSeccomp);
}

TEST_F(SandboxEscape, FillingTheDisk) {
  const std::string code =
      "block = b'x' * (15 << 20)\n"
      "for i in range(100):\n"
      "    with open(f'f{i}', 'wb') as f:\n"
      "        f.write(block)\n"
      "print('ESCAPED')\n";
  ExpectStopped(code, 0, SandboxLimit::kDisk, kLayerDiskQuota);
  ExpectStopped(code, kNs, SandboxLimit::kDisk, kLayerWatchdog);
}

TEST_F(SandboxEscape, SignallingTheParent) {
  const std::string code =
      absl::StrCat("import os\nos.kill(", getpid(), ", 0)\nprint('ESCAPED')\n");
  ExpectStopped(code, 0, SandboxLimit::kSignal, kLayerPidNs);
  ExpectStopped(code, kNs, SandboxLimit::kSignal, kLayerLandlockScope);
}

// Processes whose command line holds `marker`, anywhere on the machine.
int ProcessesWith(const std::string& marker) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::ifstream f(e.path() / "cmdline");
    std::stringstream s;
    s << f.rdbuf();
    if (absl::StrContains(s.str(), marker)) ++n;
  }
  return n;
}

TEST_F(SandboxEscape, LeavingAProcessBehind) {
  const std::string marker = absl::StrCat("dsarl-marker-", getpid());
  const std::string code =
      "import os, signal, time\n"
      "if os.fork() == 0:\n"
      "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
      "    signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
      "    time.sleep(60)\n"
      "    print('ESCAPED')\n"
      "else:\n"
      "    print('parent exits')\n";
  SandboxResult r = Run(code, 0, {marker});
  EXPECT_EQ(r.limit, SandboxLimit::kLeftover) << r.Summary();
  EXPECT_EQ(r.stopped_by, kLayerPidNs) << r.Summary();
  EXPECT_EQ(r.leftover_processes, 1) << r.Summary();
  EXPECT_LT(r.wall_time_s, 30) << r.Summary();
  EXPECT_EQ(ProcessesWith(marker), 0);
  // Without the PID namespace the process group is killed instead.
  r = Run(code, kNs, {marker});
  EXPECT_LT(r.wall_time_s, 30) << r.Summary();
  EXPECT_EQ(ProcessesWith(marker), 0);
}

// Everything else a program needs still works: its files, stdin, a subprocess of the
// interpreter itself, threads, a socketpair, /proc of its own namespace, /dev/null.
TEST_F(SandboxEscape, AnOrdinaryProgramStillRuns) {
  const std::string code =
      "import os, sys, subprocess, threading, socket, tempfile, json, decimal, sqlite3\n"
      "a, b = socket.socketpair()\na.sendall(b'hi')\n"
      "t = threading.Thread(target=lambda: None)\nt.start()\nt.join()\n"
      "out = subprocess.run([sys.executable, '-I', '-S', '-c', 'print(6 * 7)'],\n"
      "                     capture_output=True, text=True).stdout.strip()\n"
      "with tempfile.NamedTemporaryFile('w', delete=False) as f:\n"
      "    f.write('tmp')\n"
      "open('/dev/null', 'w').write('x')\n"
      "db = sqlite3.connect(':memory:')\n"
      "print(b.recv(2).decode(), out, open(f.name).read(), os.getpid(),\n"
      "      len(os.listdir('/proc/self/fd')) > 0, os.getcwd())\n";
  SandboxResult r = Run(code);
  EXPECT_TRUE(r.ok()) << r.Summary() << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "hi 42 tmp 2 True /work\n") << r.stderr_text;
  EXPECT_EQ(r.leftover_processes, 0);
}

// The whole suite again as the user nobody, with a supplementary group that alone may read a
// file; run from a copy of this binary that nobody can read.
TEST(SandboxEscapeAsNonRoot, AllHold) {
  if (std::getenv(kNonRootEnv) != nullptr) GTEST_SKIP() << "already the non-root run";
  if (geteuid() != 0) GTEST_SKIP() << "not root: this run is the non-root one";
  char tmpl[] = "/tmp/dsarl-nonroot-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  chmod(dir.c_str(), 0755);
  const std::string binary = dir + "/envs_sandbox_test";
  std::filesystem::copy_file("/proc/self/exe", binary);
  chmod(binary.c_str(), 0755);
  constexpr gid_t kGroup = 4242;
  const std::string group_file = dir + "/group-only.txt";
  std::ofstream(group_file) << "group secret\n";
  ASSERT_EQ(chown(group_file.c_str(), 0, kGroup), 0);
  chmod(group_file.c_str(), 0640);
  const std::string log = dir + "/log.txt";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv(kNonRootEnv, "1", 1);
    setenv(kGroupFileEnv, group_file.c_str(), 1);
    setenv("HOME", dir.c_str(), 1);
    setenv("TMPDIR", "/tmp", 1);
    const gid_t groups[] = {kGroup};
    if (setgroups(1, groups) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0) {
      _exit(126);
    }
    execl(binary.c_str(), binary.c_str(), "--gtest_filter=SandboxEscape.*:SandboxTest.*", nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::stringstream out;
  out << std::ifstream(log).rdbuf();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "[  PASSED  ]")) << out.str();
  EXPECT_FALSE(absl::StrContains(out.str(), "[  SKIPPED ] SandboxEscape.ReadingAGroupOnlyFile"))
      << out.str();
  std::cout << out.str().substr(
      out.str().rfind("[==========]") == std::string::npos ? 0 : out.str().rfind("[==========]"));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace dsarl::envs
