// Leader/follower group commit (see group_commit.h).
#include "store/group_commit.h"

#include <algorithm>

namespace dsarl::store {

void GroupCommitter::Run(Request* request, const CommitFn& commit) {
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(request);
  while (true) {
    cv_.wait(lock, [&] { return request->done || !leading_; });
    if (request->done) return;
    // Lead: commit the oldest queued requests. With more than kMaxBatch queued, this caller's own
    // request may be left for the next round, which it then leads or waits for.
    leading_ = true;
    const size_t n = std::min(queue_.size(), kMaxBatch);
    std::vector<Request*> batch(queue_.begin(), queue_.begin() + n);
    queue_.erase(queue_.begin(), queue_.begin() + n);
    lock.unlock();
    commit(batch);
    lock.lock();
    for (Request* r : batch) r->done = true;
    leading_ = false;
    cv_.notify_all();
  }
}

}  // namespace dsarl::store
