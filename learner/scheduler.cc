#include "learner/scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "proto/rpc_security.h"

namespace dsarl::learner {
namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

PromptScheduler::PromptScheduler(std::vector<uint64_t> prompts, uint64_t seed,
                                 int64_t lease_timeout_ms)
    : prompts_(std::move(prompts)), seed_(seed), timeout_ms_(lease_timeout_ms) {}

uint64_t PromptScheduler::PromptAt(uint64_t slot) const {
  // Slot k is position k % N of epoch k / N's permutation. The permutation is a Fisher-Yates
  // shuffle seeded by (seed, epoch), recomputed on demand (N is small enough).
  const uint64_t n = prompts_.size(), epoch = slot / n, pos = slot % n;
  std::vector<uint64_t> order(prompts_);
  uint64_t s = Mix(seed_ ^ Mix(epoch));
  for (uint64_t i = n - 1; i > 0; --i) {
    s = Mix(s);
    std::swap(order[i], order[s % (i + 1)]);
  }
  return order[pos];
}

std::vector<LeaseInfo> PromptScheduler::Lease(const std::string& worker, int n, int64_t now_ms) {
  ExpireLeases(now_ms);
  std::vector<LeaseInfo> out;
  if (prompts_.empty()) return out;
  // Draw new slots a whole epoch's permutation at a time would be cheaper; slots are few per call.
  std::vector<uint64_t> epoch_order;
  uint64_t epoch_of_order = UINT64_MAX;
  while (static_cast<int>(out.size()) < n) {
    uint64_t prompt;
    if (!retry_.empty()) {
      prompt = retry_.front();
      retry_.pop_front();
    } else {
      const uint64_t slot = state_.cursor++;
      const uint64_t epoch = slot / prompts_.size();
      if (epoch != epoch_of_order) {
        epoch_order.clear();
        for (uint64_t k = 0; k < prompts_.size(); ++k) {
          epoch_order.push_back(PromptAt(epoch * prompts_.size() + k));
        }
        epoch_of_order = epoch;
      }
      prompt = epoch_order[slot % prompts_.size()];
    }
    LeaseInfo l;
    l.lease_id = rpc::RandomHex(16);
    l.prompt_id = prompt;
    l.attempt = state_.next_attempt[prompt]++;
    l.worker = worker;
    l.deadline_ms = now_ms + timeout_ms_;
    leases_[l.lease_id] = l;
    out.push_back(l);
  }
  return out;
}

absl::StatusOr<LeaseInfo> PromptScheduler::Complete(const std::string& lease_id,
                                                    const std::string& worker, uint64_t prompt_id,
                                                    uint32_t attempt) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) return absl::NotFoundError(absl::StrCat("unknown lease ", lease_id));
  if (it->second.worker != worker) {
    return absl::PermissionDeniedError(
        absl::StrCat("lease ", lease_id, " is held by another worker, not ", worker));
  }
  if (prompt_id != it->second.prompt_id || attempt != it->second.attempt) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group for prompt ", prompt_id, " attempt ", attempt, " does not match lease ", lease_id,
        " (prompt ", it->second.prompt_id, " attempt ", it->second.attempt, ")"));
  }
  LeaseInfo l = it->second;
  leases_.erase(it);
  return l;
}

int PromptScheduler::Return(const std::string& worker, const std::vector<std::string>& ids) {
  int n = 0;
  for (const std::string& id : ids) {
    auto it = leases_.find(id);
    if (it == leases_.end() || it->second.worker != worker) continue;
    retry_.push_back(it->second.prompt_id);
    leases_.erase(it);
    ++n;
  }
  return n;
}

int PromptScheduler::leased_by(const std::string& worker) const {
  int n = 0;
  for (const auto& [id, l] : leases_) n += l.worker == worker;
  return n;
}

void PromptScheduler::Requeue(uint64_t prompt_id) { retry_.push_back(prompt_id); }

int PromptScheduler::ExpireLeases(int64_t now_ms) {
  int n = 0;
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second.deadline_ms <= now_ms) {
      retry_.push_back(it->second.prompt_id);
      it = leases_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

void PromptScheduler::Restore(const SchedulerState& state) {
  state_ = state;
  leases_.clear();
  retry_.clear();
}

}  // namespace dsarl::learner
