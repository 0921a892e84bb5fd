// Group commit: callers that want to write at the same time are served by one write. The first
// caller to arrive while no write is in progress becomes the leader, takes every request queued
// so far (its own included) and commits them together; the others wait and return with the
// leader's verdict. With sync_writes this turns N concurrent fsyncs into one, which is what makes
// durable appends from many rollout workers affordable.
#ifndef DSARL_STORE_GROUP_COMMIT_H_
#define DSARL_STORE_GROUP_COMMIT_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace dsarl::store {

class GroupCommitter {
 public:
  // What a caller queues; callers extend it with their payload and result.
  struct Request {
    bool done = false;  // set by the committer after the batch holding it was committed
  };
  // Commits a batch of requests (in arrival order), filling in each one's result. Called by one
  // leader at a time, without any GroupCommitter lock held.
  using CommitFn = std::function<void(const std::vector<Request*>& batch)>;

  // Queues `request` and returns once a leader (perhaps this caller) has run `commit` on a batch
  // holding it. `commit` must be the same for every caller of one GroupCommitter. Thread-safe.
  void Run(Request* request, const CommitFn& commit);

 private:
  // At most this many requests per commit, so one write stays a bounded size.
  static constexpr size_t kMaxBatch = 64;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request*> queue_;  // guarded by mu_
  bool leading_ = false;        // guarded by mu_: a leader is committing
};

}  // namespace dsarl::store

#endif  // DSARL_STORE_GROUP_COMMIT_H_
