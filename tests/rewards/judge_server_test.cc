// The example Python reward server (examples/rewards/judge_server.py), started on a port the OS
// picks and scored through the composer, as a job would use it.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "absl/strings/str_replace.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "rewards/composer.h"
#include "tests/prerequisite.h"
#include "tests/rewards/test_util.h"

namespace dsarl::rewards {
namespace {

using testing::Answer;
using testing::Task;

// A child process whose first stdout line we wait for (bounded); killed when destroyed.
class Child {
 public:
  explicit Child(std::vector<std::string> argv) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> args;
      for (std::string& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (out_ >= 0) close(out_);
  }

  // The first line the child printed, or "" after `timeout` or at end of output.
  std::string FirstLine(std::chrono::milliseconds timeout) {
    std::string line;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{.fd = out_, .events = POLLIN};
      if (poll(&p, 1, 100) <= 0) continue;
      char c;
      if (read(out_, &c, 1) != 1) return "";
      if (c == '\n') return line;
      line.push_back(c);
    }
    return "";
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

TEST(JudgeServerTest, ScoresThroughTheComposer) {
  DSARL_REQUIRE(std::system("python3 -c 'import grpc, google.protobuf' >/dev/null 2>&1") == 0,
                "python3 with grpcio and protobuf (scripts/setup.sh installs them)");
  Child server({"python3", std::string(DSARL_SOURCE_DIR) + "/examples/rewards/judge_server.py",
                "--port", "0"});
  const std::string banner = server.FirstLine(std::chrono::seconds(60));
  const std::string prefix = "judge_server listening on ";
  ASSERT_EQ(banner.rfind(prefix, 0), 0u) << "server said: '" << banner << "'";
  const std::string address = banner.substr(prefix.size());

  proto::RewardsConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      absl::StrReplaceAll(R"pb(
                            components {
                              name: "judge"
                              weight: 1
                              params { key: "type" value: "remote" }
                              params { key: "address" value: "ADDRESS" }
                              params { key: "primary" value: "overlap" }
                            }
                            components { name: "judge.words" weight: -0.1 }
                            call_timeout_s: 20
                          )pb",
                          {{"ADDRESS", address}}),
      &config));
  ASSERT_OK_AND_ASSIGN(auto composer, Composer::Create(config, BuiltinRegistry()));
  const auto task = Task({{"answer", "the Eiffel Tower"}});
  const auto r = composer->ScoreGroup(task, {Answer("Eiffel Tower"), Answer("no idea")});
  ASSERT_EQ(r.size(), 2u);
  ASSERT_EQ(r[0].infra_error, "");
  ASSERT_EQ(r[0].components.size(), 2u);
  EXPECT_EQ(r[0].components[0].name(), "judge");
  EXPECT_EQ(r[0].components[1].name(), "judge.words");
  EXPECT_EQ(r[0].components[1].value(), 2);
  // F1 of {eiffel, tower} against {the, eiffel, tower}: p 1, r 2/3 -> 0.8; minus 0.1 per word.
  EXPECT_NEAR(r[0].reward, 0.8 - 0.2, 1e-9);
  EXPECT_NEAR(r[1].reward, 0 - 0.2, 1e-9);

  const auto none = composer->ScoreGroup(Task(), {Answer("x")});
  ASSERT_EQ(none[0].infra_error, "");
  EXPECT_FALSE(none[0].components[0].applicable());  // no reference answer: not applicable
}

}  // namespace
}  // namespace dsarl::rewards
