#!/usr/bin/env bash
# Runs the dsarl binary as a user would: help on every command, config check on good and bad files,
# doctor. Usage: cli_smoke_test.sh DSARL_BINARY SOURCE_DIR
set -u
DSARL="$1"
SRC="$2"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
fail=0
check() {  # check NAME CONDITION-RESULT
  if [ "$2" -ne 0 ]; then echo "FAIL: $1"; fail=1; else echo "ok: $1"; fi
}

"$DSARL" --help >"$TMP/help.txt"; check "dsarl --help exits 0" $?
# Every listed command answers --help.
while read -r cmd; do
  # shellcheck disable=SC2086
  "$DSARL" $cmd --help >/dev/null; check "dsarl $cmd --help" $?
done < <(sed -n 's/^  \([a-z][a-z -]*[a-z]\)  .*/\1/p' "$TMP/help.txt" | sed 's/ *$//')

"$DSARL" config check "$SRC/configs/quickstart.textproto" >/dev/null; check "quickstart config is valid" $?

printf 'name: "x"\nlearner {\n  eps_lwo: 0.2\n}\n' >"$TMP/bad.textproto"
"$DSARL" config check "$TMP/bad.textproto" 2>"$TMP/err.txt"; rc=$?
[ $rc -ne 0 ]; check "misspelled field exits non-zero" $?
grep -q "bad.textproto:3:3" "$TMP/err.txt"; rc=$?  # read $? before $(cat) below resets it
check "error names file:LINE:COL ($(cat "$TMP/err.txt"))" $rc

"$DSARL" config print "$SRC/configs/quickstart.textproto" --set learner.eps_high=0.28 >"$TMP/p.txt"
check "config print runs" $?
grep -q "eps_high: 0.28" "$TMP/p.txt"; check "config print shows the override" $?
grep -q "adam_beta2: 0.95" "$TMP/p.txt"; check "config print shows defaults" $?

"$DSARL" doctor >"$TMP/doctor.txt"; check "doctor exits 0" $?
grep -q "gpu " "$TMP/doctor.txt"; check "doctor reports GPU status" $?
grep -q "rocksdb" "$TMP/doctor.txt"; check "doctor reports RocksDB" $?

"$DSARL" no-such-command 2>/dev/null; [ $? -eq 2 ]; check "unknown command exits 2" $?
exit $fail
