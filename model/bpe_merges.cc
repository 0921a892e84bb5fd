// BPE merge loops (see bpe_merges.h). Ranks are unique per pair, so "lowest rank, leftmost first"
// names one pair at every step and all three loops make the same merges in the same order.
#include "model/bpe_merges.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <queue>

namespace dsarl::model::bpe {
namespace {

// Words up to this many byte tokens use the rank array; longer ones the heap.
constexpr size_t kShortWord = 64;

}  // namespace

void MergeTable::Add(int32_t left, int32_t right, int32_t merged, int32_t rank) {
  table_[Key(left, right)] = Entry{rank, merged};
}

void MergeTable::Merge(std::vector<int32_t>* ids) const {
  if (ids->size() < 2) return;
  if (ids->size() <= kShortWord) {
    MergeShort(ids);
  } else {
    MergeLong(ids);
  }
}

void MergeTable::MergeReference(std::vector<int32_t>* ids) const {
  std::vector<int32_t>& w = *ids;
  while (w.size() >= 2) {
    const Entry* best = nullptr;
    size_t best_i = 0;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      const Entry* e = Find(w[i], w[i + 1]);
      if (e != nullptr && (best == nullptr || e->rank < best->rank)) {
        best = e;
        best_i = i;
      }
    }
    if (best == nullptr) return;
    w[best_i] = best->merged;
    w.erase(w.begin() + best_i + 1);
  }
}

// ranks[i] / merged[i] describe the pair (w[i], w[i+1]); after a merge at i only the pairs at
// i-1 and i change, so each step costs one scan of the array and two lookups.
void MergeTable::MergeShort(std::vector<int32_t>* ids) const {
  std::vector<int32_t>& w = *ids;
  int32_t ranks[kShortWord];
  int32_t merged[kShortWord];
  const auto look = [&](size_t i) {
    const Entry* e = Find(w[i], w[i + 1]);
    ranks[i] = e == nullptr ? INT32_MAX : e->rank;
    merged[i] = e == nullptr ? -1 : e->merged;
  };
  size_t n = w.size();
  for (size_t i = 0; i + 1 < n; ++i) look(i);
  while (n >= 2) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == INT32_MAX) break;
    w[best] = merged[best];
    // Remove w[best + 1] and the pair (w[best + 1], w[best + 2]).
    std::memmove(&w[best + 1], &w[best + 2], (n - best - 2) * sizeof(int32_t));
    if (best + 2 < n) {
      std::memmove(&ranks[best + 1], &ranks[best + 2], (n - best - 3) * sizeof(int32_t));
      std::memmove(&merged[best + 1], &merged[best + 2], (n - best - 3) * sizeof(int32_t));
    }
    --n;
    if (best > 0) look(best - 1);
    if (best + 1 < n) look(best);
  }
  w.resize(n);
}

// Hugging Face's Word::merge_all: symbols in a linked list, candidate merges in a min-heap by
// (rank, position); a popped candidate whose pair has changed since it was pushed is stale.
void MergeTable::MergeLong(std::vector<int32_t>* ids) const {
  std::vector<int32_t>& w = *ids;
  const int n = int(w.size());
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t merged;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  const auto push = [&](int left) {
    const int right = next[left];
    if (right < 0) return;
    if (const Entry* e = Find(w[left], w[right]); e != nullptr) {
      heap.push({e->rank, left, e->merged});
    }
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    if (!alive[c.pos] || next[c.pos] < 0) continue;
    const int right = next[c.pos];
    const Entry* e = Find(w[c.pos], w[right]);
    if (e == nullptr || e->merged != c.merged || e->rank != c.rank) continue;  // stale
    w[c.pos] = c.merged;
    alive[right] = false;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    if (prev[c.pos] >= 0) push(prev[c.pos]);
    push(c.pos);
  }
  size_t out = 0;
  for (int i = 0; i < n; ++i) {
    if (alive[i]) w[out++] = w[i];
  }
  w.resize(out);
}

}  // namespace dsarl::model::bpe
