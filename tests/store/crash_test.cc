// Crash safety: a child process (store_crash_child) appends groups in a loop and is SIGKILLed at
// random moments, 25 times. After every kill the store must reopen, hold every group the child
// acknowledged, whole and with its content intact, hold no partial group and no group twice,
// agree with its counts, and accept more appends.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "store/keys.h"
#include "store/store.h"
#include "tests/status_matchers.h"
#include "tests/store/test_util.h"

#ifndef STORE_CRASH_CHILD
#error "STORE_CRASH_CHILD must name the crash child executable"
#endif

namespace dsarl::store {
namespace {

using ::dsarl::store::testing::MakeGroup;
using ::dsarl::store::testing::TempDir;

constexpr int kKills = 25;
constexpr int kTrajectories = 8;
constexpr int kTokens = 64;

struct Child {
  pid_t pid = -1;
  int out_fd = -1;  // read end of the child's stdout
};

Child Spawn(const std::string& dir, uint64_t first, uint64_t count = 0) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    const std::string first_s = std::to_string(first), count_s = std::to_string(count);
    execl(STORE_CRASH_CHILD, STORE_CRASH_CHILD, dir.c_str(), first_s.c_str(), count_s.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  c.out_fd = fds[0];
  return c;
}

// What the child acknowledged: appended groups and, for moved ones, their step.
struct Acks {
  std::set<uint64_t> appended;
  std::map<uint64_t, int64_t> moved;
  std::string partial;  // an unfinished line

  void Feed(const char* data, size_t n) {
    partial.append(data, n);
    size_t nl;
    while ((nl = partial.find('\n')) != std::string::npos) {
      std::istringstream line(partial.substr(0, nl));
      partial.erase(0, nl + 1);
      char kind;
      uint64_t id;
      line >> kind >> id;
      if (kind == 'a') appended.insert(id);
      if (kind == 'm') line >> moved[id];
    }
  }
};

// Reads the child's output until `deadline`, EOF, or (when `until_acked` > 0) until `acks` holds
// that many appended groups. Returns false at EOF.
bool ReadUntil(int fd, std::chrono::steady_clock::time_point deadline, Acks* acks,
               size_t until_acked = 0) {
  char buf[4096];
  while (until_acked == 0 || acks->appended.size() < until_acked) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return true;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return false;
    acks->Feed(buf, static_cast<size_t>(n));
  }
  return true;
}

void Drain(int fd, Acks* acks) {
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) acks->Feed(buf, static_cast<size_t>(n));
}

// Checks the reopened store against what was acknowledged: every acknowledged group present and
// whole (the content of those acknowledged since `checked_before` compared field by field), moves
// kept, no group twice, no trajectories without their group, counts right. Returns the largest
// stored prompt id.
uint64_t Verify(const std::string& dir, const Acks& acks, uint64_t checked_before) {
  // As a restarted job opens it: with create_if_missing, which also completes a store whose
  // creation the kill interrupted.
  OpenOptions options;
  options.create_if_missing = true;
  auto opened = Store::Open(dir, options);
  EXPECT_OK(opened.status());
  if (!opened.ok()) return 0;
  Store& store = **opened;
  // All group headers, each once. Unacknowledged groups may exist (killed between the write and
  // its acknowledgement), but only whole.
  std::map<uint64_t, int64_t> steps;
  std::map<uint64_t, uint32_t> declared;  // num_trajectories of each header
  EXPECT_OK(store.ScanGroups(GroupQuery{.with_trajectories = false}, [&](const proto::Group& g) {
    EXPECT_TRUE(steps.emplace(g.prompt_id(), g.step()).second)
        << "group " << g.prompt_id() << " twice";
    declared[g.prompt_id()] = g.num_trajectories();
    return true;
  }));
  // Every trajectory key belongs to a header, and every header has all its trajectories. (Keys
  // only: the contents of fresh groups are compared below.)
  std::map<uint64_t, uint32_t> found;
  uint64_t trajectories = 0;
  EXPECT_OK(
      store.db().Scan(Cf::kTrajectories, "", "", [&](absl::string_view key, absl::string_view) {
        auto parts = DecodeTrajectoryKey(key);
        EXPECT_OK(parts.status());
        if (parts.ok()) ++found[parts->prompt_id];
        ++trajectories;
        return true;
      }));
  EXPECT_TRUE(found == declared) << "half-written groups: trajectories and headers disagree";
  for (uint64_t id : acks.appended) {
    auto it = steps.find(id);
    if (it == steps.end()) {
      ADD_FAILURE() << "acknowledged group " << id << " is missing";
      continue;
    }
    auto m = acks.moved.find(id);
    if (m != acks.moved.end()) {
      EXPECT_EQ(it->second, m->second) << "acknowledged move of group " << id << " lost";
    } else {
      // Moved but not acknowledged (killed in between) or never moved: either state is fine.
      EXPECT_TRUE(it->second == -1 || (id % 3 == 0 && it->second == static_cast<int64_t>(id / 3)))
          << "group " << id << " at step " << it->second;
    }
    if (id < checked_before) continue;
    auto g = store.GetGroup(id, 0);
    if (!g.ok()) {
      ADD_FAILURE() << g.status();
      continue;
    }
    proto::Group expected = MakeGroup(id, 0, 1, g->step(), kTrajectories, kTokens);
    expected.set_num_trajectories(kTrajectories);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*g, expected))
        << "group " << id << " differs from what was written";
  }
  const proto::StoreCounts counts = store.Counts();
  EXPECT_EQ(counts.groups(), steps.size());
  EXPECT_EQ(counts.trajectories(), trajectories);
  EXPECT_OK(store.Close());
  return steps.empty() ? 0 : steps.rbegin()->first;
}

// The kill moments: every other kill comes 5-150 ms after the child starts, wherever it then is
// (often still opening or creating the store); the others come 0-50 ms after its first
// acknowledged append, so at least half the kills interrupt appending however slow the machine.
TEST(CrashTest, AcknowledgedGroupsSurviveSigkill) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  const uint32_t seed = 20240611;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> from_start_ms(5, 150), after_ack_ms(0, 50);
  Acks acks;
  uint64_t next = 1;
  int kills_with_progress = 0;
  for (int kill_no = 0; kill_no < kKills; ++kill_no) {
    const size_t before = acks.appended.size();
    Child child = Spawn(dir, next);
    const bool after_ack = kill_no % 2 == 1;
    const int delay = after_ack ? after_ack_ms(rng) : from_start_ms(rng);
    bool alive = true;
    if (after_ack) {
      alive = ReadUntil(child.out_fd, std::chrono::steady_clock::now() + std::chrono::seconds(60),
                        &acks, before + 1);
      if (alive && acks.appended.size() == before) {
        kill(child.pid, SIGKILL);
        waitpid(child.pid, nullptr, 0);
        close(child.out_fd);
        FAIL() << "the child acknowledged nothing within 60 s at kill " << kill_no;
      }
    }
    alive = alive &&
            ReadUntil(child.out_fd,
                      std::chrono::steady_clock::now() + std::chrono::milliseconds(delay), &acks);
    kill(child.pid, SIGKILL);
    Drain(child.out_fd, &acks);  // lines written before the kill are acknowledged writes too
    close(child.out_fd);
    int status = 0;
    waitpid(child.pid, &status, 0);
    ASSERT_TRUE(alive && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child ended on its own (status " << status << ") at kill " << kill_no << "; seed "
        << seed;
    if (acks.appended.size() > before) ++kills_with_progress;
    const uint64_t last = Verify(dir, acks, next);
    ASSERT_FALSE(::testing::Test::HasFailure())
        << "after kill " << kill_no << " (" << delay << " ms "
        << (after_ack ? "after its first append" : "after start") << "), seed " << seed;
    next = last + 1;
  }
  // Appending continues after the last crash, and the child exits cleanly when told to stop.
  Child child = Spawn(dir, next, 10);
  const bool open =
      ReadUntil(child.out_fd, std::chrono::steady_clock::now() + std::chrono::seconds(60), &acks);
  if (open) kill(child.pid, SIGKILL);  // still running after a minute: fails below
  Drain(child.out_fd, &acks);
  close(child.out_fd);
  int status = 0;
  waitpid(child.pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_EQ(Verify(dir, acks, next), next + 9);
  printf(
      "crash test: %d SIGKILLs (%d after new acknowledged appends), %zu acknowledged groups, all "
      "present and whole\n",
      kKills, kills_with_progress, acks.appended.size());
}

}  // namespace
}  // namespace dsarl::store
