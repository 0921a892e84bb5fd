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

const std::vector<uint64_t>& PromptScheduler::EpochOrder(uint64_t epoch) {
  // Epoch e visits the prompts in a Fisher-Yates shuffle seeded by (seed, e). It is computed once
  // per epoch and kept: O(N) per epoch, where computing it per lease call cost O(N^2) (seconds
  // per call for a store of 87,000 prompts).
  if (epoch == order_epoch_ && !order_.empty()) return order_;
  const uint64_t n = prompts_.size();
  order_ = prompts_;
  uint64_t s = Mix(seed_ ^ Mix(epoch));
  for (uint64_t i = n - 1; i > 0; --i) {
    s = Mix(s);
    std::swap(order_[i], order_[s % (i + 1)]);
  }
  order_epoch_ = epoch;
  return order_;
}

std::vector<LeaseInfo> PromptScheduler::Lease(const std::string& worker, int n, int64_t now_ms) {
  ExpireLeases(now_ms);
  std::vector<LeaseInfo> out;
  if (prompts_.empty()) return out;
  while (static_cast<int>(out.size()) < n) {
    uint64_t prompt;
    if (!retry_.empty()) {
      prompt = retry_.front();
      retry_.pop_front();
    } else {
      const uint64_t slot = state_.cursor++;
      prompt = EpochOrder(slot / prompts_.size())[slot % prompts_.size()];
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

int PromptScheduler::ReturnAll(const std::string& worker) {
  int n = 0;
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second.worker != worker) {
      ++it;
      continue;
    }
    retry_.push_back(it->second.prompt_id);
    it = leases_.erase(it);
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
