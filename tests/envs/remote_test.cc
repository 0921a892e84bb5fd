// Remote environments end to end: the example Python server (examples/remote_env/env_server.py)
// on a loopback port picked by the OS and held by the test, driven through the factory, synthesis
// and episodes. A server that hangs or dies fails its episodes as infrastructure errors with the
// reason; other environments go on.
#include "envs/remote.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "envs/episode.h"
#include "envs/factory.h"
#include "envs/synthesis.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/base/closed_port.h"
#include "tests/base/temp_dir.h"
#include "tests/prerequisite.h"
#include "tests/status_matchers.h"

extern char** environ;

namespace dsarl::envs {
namespace {

using ::testing::HasSubstr;

// The Python server as a child process; stopped (SIGKILL) by the destructor if still running.
class Server {
 public:
  // Starts it on `port` and waits (up to a minute) for its "listening on HOST:PORT" line; empty
  // address on failure.
  explicit Server(int port, const std::string& token_file = "") {
    int out[2];
    if (pipe(out) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    const std::string script = std::string(DSARL_SOURCE_DIR) + "/examples/remote_env/env_server.py";
    const std::string protos = std::string(DSARL_BINARY_DIR) + "/python";
    const std::string port_arg = std::to_string(port);
    std::vector<const char*> argv = {"python3",        script.c_str(), "--port",
                                     port_arg.c_str(), "--proto-dir",  protos.c_str()};
    if (!token_file.empty()) {
      argv.push_back("--token-file");
      argv.push_back(token_file.c_str());
    }
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "python3", &actions, nullptr, const_cast<char**>(argv.data()),
                     environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    const std::string line = pid_ > 0 ? FirstLine(out[0], std::chrono::seconds(60)) : "";
    close(out[0]);
    const std::string prefix = "listening on ";
    if (line.rfind(prefix, 0) == 0) address_ = line.substr(prefix.size());
  }
  ~Server() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Waits for it to exit by itself; true when it did within 30 s.
  bool Exited() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
      } else {
        usleep(10000);
      }
    }
    return pid_ <= 0;
  }
  const std::string& address() const { return address_; }

 private:
  // The first line written to `fd` (without the newline), or "" at end of output or `timeout`.
  static std::string FirstLine(int fd, std::chrono::milliseconds timeout) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char c;
      if (read(fd, &c, 1) != 1) return "";
      if (c == '\n') return line;
      line.push_back(c);
    }
  }

  pid_t pid_ = -1;
  std::string address_;
};

class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DSARL_REQUIRE(system("python3 -c 'import grpc, google.protobuf' >/dev/null 2>&1") == 0,
                  "python3 with grpcio and protobuf (scripts/setup.sh installs them)");
    // The server's port is held for the whole test, so after the server dies (one test kills it)
    // its address refuses connections rather than reaching whatever took the freed port.
    ASSERT_GT(port_.port(), 0);
    server_ = std::make_unique<Server>(port_.port());
    ASSERT_EQ(server_->address(), port_.address()) << "the example server did not start";
    proto::EnvsConfig config;
    config.add_remote_addresses(server_->address());
    // Ample for every call a loaded machine answers; the hanging call runs into it.
    config.set_call_timeout_s(5.0);
    ASSERT_OK_AND_ASSIGN(factory_, EnvFactory::Create(config));
  }
  proto::EnvSpec Spec(uint64_t seed, const std::string& fault = "") {
    proto::EnvSpec spec;
    spec.set_id(seed);
    spec.set_category("shelf_count");
    spec.set_seed(seed);
    spec.set_difficulty(2);
    spec.set_backend("remote:" + server_->address());
    if (!fault.empty()) (*spec.mutable_params())["fault"] = fault;
    return spec;
  }
  const dsarl::testing::ClosedPort port_{/*let_servers_listen=*/true};
  std::unique_ptr<Server> server_;
  std::unique_ptr<EnvFactory> factory_;
};

// A server that wants a token (its --token-file) refuses a client without it, or with another,
// as UNAUTHENTICATED; with EnvsConfig.remote_token_file naming the same token, episodes run.
TEST(RemoteTokenTest, AServerWithATokenServesOnlyClientsThatSendIt) {
  DSARL_REQUIRE(system("python3 -c 'import grpc, google.protobuf' >/dev/null 2>&1") == 0,
                "python3 with grpcio and protobuf (scripts/setup.sh installs them)");
  const dsarl::testing::ScratchDir dir("remote-token");
  const std::string token = dir.path() + "/env.token", wrong = dir.path() + "/wrong.token";
  std::ofstream(token) << "s3cret-env-token\n";
  std::ofstream(wrong) << "another-token\n";
  const dsarl::testing::ClosedPort port{/*let_servers_listen=*/true};
  Server server(port.port(), token);
  ASSERT_EQ(server.address(), port.address()) << "the example server did not start";
  proto::EnvsConfig config;
  config.add_remote_addresses(server.address());
  config.set_call_timeout_s(5.0);
  auto without = EnvFactory::Create(config);
  ASSERT_FALSE(without.ok());
  EXPECT_EQ(without.status().code(), absl::StatusCode::kUnauthenticated) << without.status();
  config.set_remote_token_file(wrong);
  auto other = EnvFactory::Create(config);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kUnauthenticated) << other.status();
  config.set_remote_token_file(token);
  ASSERT_OK_AND_ASSIGN(auto factory, EnvFactory::Create(config));
  proto::EnvSpec spec;
  spec.set_id(1);
  spec.set_category("shelf_count");
  spec.set_seed(1);
  spec.set_difficulty(2);
  spec.set_backend("remote:" + server.address());
  ASSERT_OK_AND_ASSIGN(auto env, factory->Make(spec));
  EpisodeRecord good = RunEpisode(*env, 4, 1, ReferencePolicy());
  ASSERT_TRUE(good.ok()) << good.infra_error;
  EXPECT_EQ(good.verdict.score, 1.0);
}

TEST_F(RemoteTest, WorksLikeABuiltinCategory) {
  const Category* c = factory_->registry().Find("shelf_count");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->top_level, 2);
  EXPECT_EQ(c->backend, "remote:" + server_->address());
  SynthesisOptions o;
  o.categories = {"shelf_count"};
  o.envs_per_category = 2;
  o.tasks_per_env = 6;
  ASSERT_OK_AND_ASSIGN(SynthesisResult s, Synthesize(factory_->registry(), o));
  EXPECT_EQ(s.report.total_failed, 0) << (s.report.failures.empty() ? "" : s.report.failures[0]);
  EXPECT_EQ(s.prompts.size(), 12u);
  EXPECT_GE(s.prompts[0].solution_size(), 1);
  EXPECT_FALSE(s.prompts[0].solution_answer().empty());

  ASSERT_OK_AND_ASSIGN(auto env, factory_->Make(Spec(3)));
  for (int level = 0; level <= 2; ++level) {
    EpisodeRecord good = RunEpisode(*env, 10 + level, level, ReferencePolicy());
    ASSERT_TRUE(good.ok()) << good.infra_error;
    EXPECT_EQ(good.verdict.score, 1.0) << good.verdict.details;
    EXPECT_EQ(good.num_tool_calls, level + 1);
  }
  EpisodeRecord wrong = RunEpisode(*env, 4, 1, [](const Task&, const std::vector<Turn>&) {
    return absl::StatusOr<Action>(Action{{}, "-5"});
  });
  ASSERT_TRUE(wrong.ok()) << wrong.infra_error;
  EXPECT_EQ(wrong.verdict.score, 0.0);
  ASSERT_OK_AND_ASSIGN(Episode ep, env->Reset(1, 0));
  ASSERT_OK_AND_ASSIGN(StepResult r,
                       env->Step(ep.state.get(), {{"nope", {}}, {"count_boxes", {{"x", "1"}}}}));
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_TRUE(r.results[0].is_error);
  EXPECT_TRUE(r.results[1].is_error);
  env->Close(ep.state.get());
  EXPECT_EQ(env->Reset(1, 3).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RemoteTest, AHangingServerCallIsAnInfrastructureError) {
  ASSERT_OK_AND_ASSIGN(auto hanging, factory_->Make(Spec(5, "hang")));
  EpisodeRecord r = RunEpisode(*hanging, 1, 0, ReferencePolicy());
  EXPECT_THAT(r.infra_error, HasSubstr("step"));
  EXPECT_THAT(r.infra_error, HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_THAT(r.infra_error, HasSubstr("remote environment " + server_->address()));
  // The server still serves other episodes.
  ASSERT_OK_AND_ASSIGN(auto env, factory_->Make(Spec(6)));
  EpisodeRecord ok = RunEpisode(*env, 1, 2, ReferencePolicy());
  EXPECT_TRUE(ok.ok()) << ok.infra_error;
}

TEST_F(RemoteTest, ADyingServerFailsItsEpisodesAndOthersGoOn) {
  ASSERT_OK_AND_ASSIGN(auto env, factory_->Make(Spec(7)));
  ASSERT_OK_AND_ASSIGN(Episode open, env->Reset(2, 1));  // in flight when the server dies
  ASSERT_OK_AND_ASSIGN(auto dying, factory_->Make(Spec(8, "die")));
  EpisodeRecord died = RunEpisode(*dying, 1, 0, ReferencePolicy());
  EXPECT_THAT(died.infra_error, HasSubstr("UNAVAILABLE"));
  ASSERT_TRUE(server_->Exited());
  auto step = env->Step(open.state.get(), open.task.solution.rounds[0]);
  EXPECT_EQ(step.status().code(), absl::StatusCode::kUnavailable);
  EpisodeRecord after = RunEpisode(*env, 3, 0, ReferencePolicy());
  EXPECT_THAT(after.infra_error, HasSubstr("reset"));
  // Built-in environments are untouched.
  const Category* arithmetic = factory_->registry().Find("arithmetic");
  proto::EnvSpec spec;
  spec.set_category("arithmetic");
  spec.set_difficulty(4);
  ASSERT_OK_AND_ASSIGN(auto local, arithmetic->build(spec));
  EpisodeRecord fine = RunEpisode(*local, 1, 3, ReferencePolicy());
  EXPECT_TRUE(fine.ok());
  EXPECT_EQ(fine.verdict.score, 1.0);
}

}  // namespace
}  // namespace dsarl::envs
