# Sourced by the shell tests: `require COMMAND WHAT` for a tool a test needs. A missing tool skips
# the test (exit 77, which CTest reports as skipped) outside CI and fails it in CI (CI=true), as
# tests/prerequisite.h does for the C++ tests.
require() {
  command -v "$1" >/dev/null 2>&1 && return 0
  case "${CI:-}" in
    true | 1) echo "FAIL: missing prerequisite (CI=true makes this a failure): $2"; exit 1 ;;
  esac
  echo "SKIP: missing prerequisite: $2"; exit 77
}
# `wait_for SECONDS WHAT COMMAND...`: polls COMMAND every 0.2 s until it succeeds; after SECONDS
# calls the sourcing script's `fail` with WHAT.
wait_for() {
  local limit="$1" what="$2" deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what (waited $limit s)"
    sleep 0.2
  done
}
