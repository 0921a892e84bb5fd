// The merge table of a BPE model, over token ids, and the loop that applies it to one pre-token.
// Two implementations that must agree (tests compare them): MergeReference, the textbook loop
// that rescans every pair after each merge, and Merge, which keeps the pair ranks of short words
// in an array and uses a heap for long ones (a 100 KB run of one letter is one pre-token for
// DeepSeek's pattern, and the textbook loop is quadratic in it).
#ifndef DSARL_MODEL_BPE_MERGES_H_
#define DSARL_MODEL_BPE_MERGES_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace dsarl::model::bpe {

class MergeTable {
 public:
  // Adds the merge (left, right) -> merged; lower ranks merge first. A pair added again keeps the
  // later rank and result, as Hugging Face's table (a hash map filled in file order) does.
  void Add(int32_t left, int32_t right, int32_t merged, int32_t rank);
  size_t size() const { return table_.size(); }

  // Merges `ids` (the byte tokens of one pre-token) in place: while some adjacent pair has a
  // merge, the pair with the lowest rank (the leftmost among equals) becomes its merged id.
  void Merge(std::vector<int32_t>* ids) const;
  // The same result by the plain O(n^2) loop; the reference for tests.
  void MergeReference(std::vector<int32_t>* ids) const;

 private:
  struct Entry {
    int32_t rank;
    int32_t merged;
  };
  static uint64_t Key(int32_t left, int32_t right) {
    return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
  }
  const Entry* Find(int32_t left, int32_t right) const {
    auto it = table_.find(Key(left, right));
    return it == table_.end() ? nullptr : &it->second;
  }
  void MergeShort(std::vector<int32_t>* ids) const;
  void MergeLong(std::vector<int32_t>* ids) const;

  absl::flat_hash_map<uint64_t, Entry> table_;
};

}  // namespace dsarl::model::bpe

#endif  // DSARL_MODEL_BPE_MERGES_H_
