// The process crash_test.cc SIGKILLs: opens the store in DIR and appends groups FIRST, FIRST+1, ...
// forever, moving every third one to a learner step right after. It prints one line per write,
// after the write returned OK, so every printed line is an acknowledged write:
//   a <prompt_id>          group (prompt_id, 0) appended
//   m <prompt_id> <step>   that group moved to <step>
// Before appending it re-appends FIRST-1, which the store already has, and checks the store
// refuses it (idempotency across crashes). Exits 2 on any error, with the message on stderr.
//
// Usage: store_crash_child DIR FIRST [COUNT]   (COUNT: stop after that many groups and exit 0)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "store/store.h"
#include "tests/store/test_util.h"

namespace {

int Fail(const absl::Status& s) {
  fprintf(stderr, "store_crash_child: %s\n", s.ToString().c_str());
  return 2;
}

// Writes `line` with one write(2): no stdio buffer may hold an acknowledgement back.
void Ack(const std::string& line) {
  if (write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    _exit(3);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: store_crash_child DIR FIRST [COUNT]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t first = std::strtoull(argv[2], nullptr, 10);
  const uint64_t count = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0;
  dsarl::store::OpenOptions options;
  options.create_if_missing = true;
  auto store = dsarl::store::Store::Open(dir, options);
  if (!store.ok()) return Fail(store.status());
  if (first > 1) {
    auto again =
        (*store)->AppendGroup(dsarl::store::testing::MakeGroup(first - 1, 0, 1, -1, 8, 64));
    if (!again.ok()) return Fail(again.status());
    if (*again) return Fail(absl::InternalError(absl::StrCat("group ", first - 1, " was missing")));
  }
  for (uint64_t id = first; count == 0 || id < first + count; ++id) {
    auto written = (*store)->AppendGroup(dsarl::store::testing::MakeGroup(id, 0, 1, -1, 8, 64));
    if (!written.ok()) return Fail(written.status());
    if (!*written) return Fail(absl::InternalError(absl::StrCat("group ", id, " already there")));
    Ack(absl::StrCat("a ", id, "\n"));
    if (id % 3 == 0) {
      const int64_t step = static_cast<int64_t>(id / 3);
      absl::Status moved = (*store)->SetGroupStep(id, 0, step);
      if (!moved.ok()) return Fail(moved);
      Ack(absl::StrCat("m ", id, " ", step, "\n"));
    }
  }
  absl::Status closed = (*store)->Close();
  return closed.ok() ? 0 : Fail(closed);
}
