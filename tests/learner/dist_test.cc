// The learner's ranks: the launcher's environment read into a rank layout, the rendezvous store's
// authentication, the split of a batch by tokens, the wire form of a batch; then ranks as real
// processes on loopback (tests/learner/dist_rank_main.cc): Gloo's collectives for 2 and 3 ranks,
// a data-parallel GRPO step that equals one rank's, and a rank killed or hung mid-collective,
// which every other rank names within the timeout.
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "learner/data_parallel.h"
#include "learner/dist/rank_layout.h"
#include "learner/dist/rendezvous.h"
#include "learner/rank_link.h"
#include "proto/rpc_security.h"
#include "tests/status_matchers.h"

extern char** environ;

namespace dsarl::learner {
namespace {

using ::testing::HasSubstr;

dist::EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(RankLayout, TorchrunVariables) {
  auto l = dist::RankLayoutFromEnv(Env({{"RANK", "2"},
                                        {"WORLD_SIZE", "4"},
                                        {"LOCAL_RANK", "0"},
                                        {"MASTER_ADDR", "10.0.0.5"},
                                        {"MASTER_PORT", "1234"}}),
                                   1);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->rank, 2);
  EXPECT_EQ(l->world_size, 4);
  EXPECT_EQ(l->master_addr, "10.0.0.5");
  EXPECT_EQ(l->master_port, 1234);
  EXPECT_THAT(l->Describe(), HasSubstr("torchrun"));
}

TEST(RankLayout, SlurmVariablesAndTheFirstNode) {
  auto l = dist::RankLayoutFromEnv(Env({{"SLURM_PROCID", "3"},
                                        {"SLURM_NTASKS", "8"},
                                        {"SLURM_LOCALID", "1"},
                                        {"SLURM_JOB_NODELIST", "gpu[007-009,012],cpu1"}}),
                                   8);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->rank, 3);
  EXPECT_EQ(l->local_rank, 1);
  EXPECT_EQ(l->master_addr, "gpu007");
  EXPECT_EQ(l->master_port, dist::kDefaultMasterPort);
  EXPECT_EQ(*dist::FirstSlurmHost("node1,node2"), "node1");
  EXPECT_EQ(*dist::FirstSlurmHost("a[3]-ib"), "a3-ib");
  EXPECT_FALSE(dist::FirstSlurmHost("").ok());
  EXPECT_FALSE(dist::FirstSlurmHost("n[1-2").ok());
}

TEST(RankLayout, MistakesAreNamed) {
  EXPECT_THAT(dist::RankLayoutFromEnv(Env({}), 1)->world_size, 1);
  auto no_launcher = dist::RankLayoutFromEnv(Env({}), 2);
  EXPECT_THAT(no_launcher.status().message(), HasSubstr("cluster.learner_world_size is 2"));
  auto rank_too_big =
      dist::RankLayoutFromEnv(Env({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}), 1);
  EXPECT_THAT(rank_too_big.status().message(), HasSubstr("RANK=2 is not below WORLD_SIZE=2"));
  auto bad_port = dist::RankLayoutFromEnv(
      Env({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}), 1);
  EXPECT_THAT(bad_port.status().message(), HasSubstr("MASTER_PORT"));
  auto disagree =
      dist::RankLayoutFromEnv(Env({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}), 4);
  EXPECT_THAT(disagree.status().message(), HasSubstr("the launcher started 2"));
  auto no_addr = dist::RankLayoutFromEnv(Env({{"RANK", "0"}, {"WORLD_SIZE", "2"}}), 1);
  EXPECT_THAT(no_addr.status().message(), HasSubstr("MASTER_ADDR"));
  auto half = dist::RankLayoutFromEnv(Env({{"WORLD_SIZE", "2"}}), 1);
  EXPECT_THAT(half.status().message(), HasSubstr("RANK is not set"));
}

TEST(DataParallel, OwnersBalanceTokensAndSkipDroppedGroups) {
  const std::vector<int64_t> tokens = {100, 10, 60, 50, 40, 5};
  const std::vector<bool> live = {true, true, true, true, false, true};
  std::vector<int> owner(6, 9);
  AssignOwners(tokens, live, 0, 6, 2, &owner);
  // 100 -> 0, 60 -> 1, 50 -> 1, 10 -> 0, 5 -> 0 (a tie at 110): 115 tokens and 110.
  EXPECT_EQ(owner, (std::vector<int>{0, 0, 1, 1, -1, 0}));
  AssignOwners(tokens, live, 0, 6, 1, &owner);
  EXPECT_EQ(owner, (std::vector<int>{0, 0, 0, 0, -1, 0}));
}

TEST(RankLink, BatchesSurviveTheWire) {
  TrainGroup g;
  TrainSample s;
  s.tokens = {1, 2, 3};
  s.loss_mask = {0, 1, 1};
  s.behaviour_logprobs = {0, -0.5f, -1.25f};
  s.kept = {{}, {2, 4}, {3}};
  s.routed_experts = {0, 1, 1, 2, 2, 3};
  g.samples = {s, s};
  g.rewards = {1.0, 0.25};
  proto::RankControl m;
  ToRankGroups({g, g}, &m);
  std::string bytes = m.SerializeAsString();
  proto::RankControl back;
  ASSERT_TRUE(back.ParseFromString(bytes));
  auto out = FromRankGroups(back);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[1].rewards, g.rewards);
  EXPECT_EQ((*out)[1].samples[1].kept, s.kept);
  EXPECT_EQ((*out)[0].samples[0].behaviour_logprobs, s.behaviour_logprobs);
  EXPECT_EQ((*out)[0].samples[0].routed_experts, s.routed_experts);
  back.mutable_groups(0)->add_rewards(3.0);
  EXPECT_THAT(FromRankGroups(back).status().message(), HasSubstr("group 0 has 2 samples and 3"));
}

TEST(Rendezvous, OnlyTheRanksOfThisWorldMayCall) {
  const std::string secret = rpc::NewJobSecret();
  rpc::ServerSecurity sec;
  sec.job_secret = secret;
  auto server = dist::RendezvousServer::Start("127.0.0.1:0", 2, sec);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string target = absl::StrCat("127.0.0.1:", (*server)->port());
  dist::RendezvousOptions o;
  o.timeout = std::chrono::milliseconds(3000);
  o.security.token = *rpc::WorkerToken(secret, "worker-0");
  EXPECT_THAT(dist::RendezvousClient::Connect(target, 0, 2, o).status().message(),
              HasSubstr("not a rank of this 2-rank world"));
  o.security.token = *rpc::WorkerToken(rpc::NewJobSecret(), dist::RankTokenName(0));
  EXPECT_EQ(dist::RendezvousClient::Connect(target, 0, 2, o).status().code(),
            absl::StatusCode::kUnauthenticated);
  o.security.token = *rpc::WorkerToken(secret, dist::RankTokenName(1));
  EXPECT_EQ(dist::RendezvousClient::Connect(target, 0, 2, o).status().code(),
            absl::StatusCode::kPermissionDenied);  // rank 1's token beating for rank 0
  auto c = dist::RendezvousClient::Connect(target, 1, 2, o);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->Set("k", "v").ok());
  EXPECT_EQ((*(*c)->Get({"k"}, std::chrono::milliseconds(100)))[0], "v");
  auto missing = (*c)->Get({"k", "absent"}, std::chrono::milliseconds(300));
  EXPECT_THAT(missing.status().message(), HasSubstr("absent"));
  // Rank 0 never joined: a failure would name it.
  EXPECT_THAT((*c)->StoppedRanks(), HasSubstr("rank 0 never joined"));
}

// ---- ranks as processes ----

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

struct RankRun {
  int status = -1;      // waitpid's
  std::string output;   // what the rank wrote to its OUT file
  double seconds = 0;   // from the start of all ranks to this one's exit
  double stopped = -1;  // when it was stopped (SIGSTOP), in the same time
};

// Starts `world` helpers (RANK 0..world-1) and waits for all; a rank still running after
// `give_up_s` is SIGKILLed (status then says so).
std::vector<RankRun> RunRanks(const std::string& scenario, int world, double timeout_s,
                              double give_up_s = 120) {
  const std::string dir = ::testing::TempDir();
  const int port = FreePort();
  std::vector<pid_t> pids(world);
  std::vector<RankRun> runs(world);
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < world; ++r) {
    const std::string out = absl::StrCat(dir, "/rank_", scenario, "_", world, "_", r, ".out");
    std::vector<std::string> env = {absl::StrCat("RANK=", r), absl::StrCat("WORLD_SIZE=", world),
                                    "MASTER_ADDR=127.0.0.1",  absl::StrCat("MASTER_PORT=", port),
                                    "OMP_NUM_THREADS=1",      "PATH=/usr/bin:/bin"};
    std::vector<std::string> args = {DSARL_DIST_RANK_HELPER, scenario, out,
                                     absl::StrCat(timeout_s)};
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pids[r], argv[0], nullptr, nullptr, argv.data(), envp.data()), 0);
    runs[r].output = out;  // the path, until read
  }
  int left = world;
  while (left > 0) {
    for (int r = 0; r < world; ++r) {
      if (pids[r] == 0) continue;
      int st = 0;
      if (waitpid(pids[r], &st, WNOHANG | WUNTRACED) == pids[r]) {
        if (WIFSTOPPED(st)) {  // the hung rank: the test ends it below
          runs[r].stopped =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          continue;
        }
        runs[r].status = st;
        runs[r].seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        pids[r] = 0;
        --left;
      }
    }
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // A stopped rank never exits on its own: once every other rank is done, end it.
    bool others_done = true;
    for (int r = 0; r < world; ++r) others_done &= pids[r] == 0 || r == 1;
    if (now > give_up_s || (scenario == "hang" && others_done && pids[1] != 0)) {
      for (pid_t p : pids) {
        if (p != 0) kill(p, SIGKILL);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (RankRun& run : runs) {
    std::ifstream in(run.output);
    std::stringstream ss;
    ss << in.rdbuf();
    run.output = ss.str();
  }
  return runs;
}

bool ExitedZero(const RankRun& r) { return WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0; }

TEST(GlooRanks, EveryCollectiveOverTwoAndThreeProcesses) {
  for (int world : {2, 3}) {
    SCOPED_TRACE(absl::StrCat(world, " ranks"));
    for (const RankRun& r : RunRanks("collectives", world, 30)) {
      EXPECT_TRUE(ExitedZero(r)) << r.output;
      EXPECT_EQ(r.output, "ok\n");
    }
  }
}

// What rank 0 of the grpo scenario wrote: losses and grad norms per mini-batch, statistics per
// step, step 1's gradient.
struct GrpoRun {
  std::vector<double> losses, norms, kl;
  std::vector<int64_t> tokens, sequences;
  std::vector<double> grad;
};

GrpoRun ParseGrpo(const std::string& text) {
  GrpoRun g;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f[0] == "loss") {
      g.losses.push_back(std::stod(f[2]));
      g.norms.push_back(std::stod(f[3]));
    } else if (f[0] == "stats") {
      g.tokens.push_back(std::stoll(f[2]));
      g.kl.push_back(std::stod(f[4]));
      g.sequences.push_back(std::stoll(f[5]));
    } else if (f[0] == "grad") {
      for (size_t i = 1; i < f.size(); ++i) g.grad.push_back(std::stod(f[i]));
    }
  }
  return g;
}

// The same seed and batches over 1, 2 and 3 ranks. Each rank forwards different groups in
// different micro-batches, so only the order of float sums differs: step 1's all-reduced gradient
// agrees with one rank's to a normalized error far below what any real difference would give
// (a group counted twice or normalized locally moves it by >10%), and the losses of three steps
// (two mini-batches each) agree closely. Later steps start from parameters that AdamW moved by
// lr * g / (|g| + eps): where g is ~0 a rounding difference moves a weight by up to 2 lr, so their
// losses are compared with a looser bound. Attention is dense and the experts are recorded, so no
// discrete choice depends on rounding.
TEST(GlooRanks, DataParallelStepEqualsOneRank) {
  std::map<int, GrpoRun> runs;
  for (int world : {1, 2, 3}) {
    std::vector<RankRun> ranks = RunRanks("grpo", world, 60);
    for (const RankRun& r : ranks) ASSERT_TRUE(ExitedZero(r)) << world << ": " << r.output;
    runs[world] = ParseGrpo(ranks[0].output);
  }
  const GrpoRun& one = runs[1];
  ASSERT_EQ(one.losses.size(), 6u);
  ASSERT_FALSE(one.grad.empty());
  double norm = 0;
  for (double x : one.grad) norm += x * x;
  norm = std::sqrt(norm);
  ASSERT_GT(norm, 0);
  for (int world : {2, 3}) {
    SCOPED_TRACE(absl::StrCat(world, " ranks"));
    const GrpoRun& w = runs[world];
    ASSERT_EQ(w.grad.size(), one.grad.size());
    double diff = 0;
    for (size_t i = 0; i < w.grad.size(); ++i) diff += std::pow(w.grad[i] - one.grad[i], 2);
    EXPECT_LT(std::sqrt(diff) / norm, 1e-4);
    ASSERT_EQ(w.losses.size(), one.losses.size());
    for (size_t i = 0; i < w.losses.size(); ++i) {
      const double tol = i < 2 ? 1e-5 : 1e-3;
      EXPECT_NEAR(w.losses[i], one.losses[i], tol * (1 + std::abs(one.losses[i]))) << "mb " << i;
      EXPECT_NEAR(w.norms[i], one.norms[i], (i < 2 ? 1e-4 : 2e-2) * one.norms[i]) << "mb " << i;
    }
    // The statistics are the whole batch's on rank 0, not its share's.
    EXPECT_EQ(w.tokens, one.tokens);
    EXPECT_EQ(w.sequences, one.sequences);
    EXPECT_NEAR(w.kl[0], one.kl[0], 1e-5 + 1e-4 * std::abs(one.kl[0]));
  }
}

// A replica that drifted (rank 1's weight changed after step 1, as a CPU that rounds an
// element-wise step differently would) is found after step 2 on every rank and takes rank 0's
// weights and moments: at the end every rank holds the same weights.
TEST(GlooRanks, ADriftedReplicaTakesRankZerosWeights) {
  std::vector<RankRun> runs = RunRanks("drift", 3, 60);
  std::string weights;
  for (const RankRun& r : runs) {
    ASSERT_TRUE(ExitedZero(r)) << r.output;
    EXPECT_THAT(r.output, HasSubstr("resynced 2 1\n"));
    EXPECT_THAT(r.output, ::testing::Not(HasSubstr("resynced 1 ")));
    const size_t at = r.output.find("weights ");
    ASSERT_NE(at, std::string::npos);
    if (weights.empty()) weights = r.output.substr(at);
    EXPECT_EQ(r.output.substr(at), weights);
  }
}

// A rank SIGKILLed between collectives: each other rank fails within the timeout (its connection
// to the dead rank closes, or the collective times out), and names rank 1 from the heartbeats.
TEST(GlooRanks, AKilledRankIsNamedByEveryOther) {
  const double timeout_s = 8;
  std::vector<RankRun> runs = RunRanks("die", 3, timeout_s);
  EXPECT_TRUE(WIFSIGNALED(runs[1].status) && WTERMSIG(runs[1].status) == SIGKILL);
  for (int r : {0, 2}) {
    SCOPED_TRACE(absl::StrCat("rank ", r));
    EXPECT_TRUE(WIFEXITED(runs[r].status) && WEXITSTATUS(runs[r].status) == 3);
    EXPECT_THAT(runs[r].output, HasSubstr("rank 1 (host"));
    // From rank 1's death: the time to notice, and to ask the rendezvous who stopped.
    EXPECT_LT(runs[r].seconds - runs[1].seconds, timeout_s + 4);
  }
}

// A rank stopped (SIGSTOP: alive, silent) mid-job: the others time out and name it.
TEST(GlooRanks, AHungRankIsNamedWithinTheTimeout) {
  const double timeout_s = 4;
  std::vector<RankRun> runs = RunRanks("hang", 3, timeout_s);
  for (int r : {0, 2}) {
    SCOPED_TRACE(absl::StrCat("rank ", r));
    EXPECT_TRUE(WIFEXITED(runs[r].status) && WEXITSTATUS(runs[r].status) == 3);
    EXPECT_THAT(runs[r].output, HasSubstr("rank 1 (host"));
    // From rank 1's stop: the collective's timeout, and the question who stopped.
    ASSERT_GE(runs[1].stopped, 0);
    EXPECT_LT(runs[r].seconds - runs[1].stopped, timeout_s + 4);
  }
}

}  // namespace
}  // namespace dsarl::learner
