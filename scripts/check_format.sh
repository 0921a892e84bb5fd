#!/usr/bin/env bash
# Fails when a C++/CUDA source of ours differs from what clang-format makes of it (the project's
# .clang-format: Google style, 100 columns). Run from anywhere; CTest runs it as `format_check`.
# Fix with: clang-format -i $(git ls-files '*.cc' '*.h' '*.cu')
set -euo pipefail
cd "$(dirname "$0")/.."
# The clang-format the tree was formatted with (Debian 12's); another version may format
# differently, so use it by name when it is installed.
CF=clang-format-14
command -v "$CF" >/dev/null 2>&1 || CF=clang-format
if ! command -v "$CF" >/dev/null 2>&1; then
  echo "check_format: clang-format not found (apt-get install clang-format)"
  if [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; then exit 1; fi
  exit 77  # skipped outside CI
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h' '*.cu')
else
  mapfile -t files < <(find base proto model store envs rewards learner rollout cli tests bench \
                         examples -name '*.cc' -o -name '*.h' -o -name '*.cu' 2>/dev/null)
fi
# --dry-run -Werror: exit status 1 and one "file:line:col: error: code should be clang-formatted"
# per difference, nothing rewritten.
out=$("$CF" --dry-run -Werror "${files[@]}" 2>&1) && rc=0 || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "check_format: these files differ from $("$CF" --version | head -1) output:"
  echo "$out" | grep -o '^[^:]*:[0-9]*:[0-9]*: error' | cut -d: -f1 | sort | uniq -c |
    awk '{printf "  %s (%d places)\n", $2, $1}'
  echo "the first differences:"
  echo "$out" | head -9
  echo "fix with: $CF -i <file>"
  exit 1
fi
echo "check_format: ${#files[@]} files formatted ($("$CF" --version | head -1))"
