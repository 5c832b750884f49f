#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shmq sub and hz as a user with read permission only (uid 65534, through setpriv; run as
# root, else skipped): a lossy topic of mode 0644 is read read-only, by --read-only or by
# falling back from the refused subscribe (saying so on stderr); a reliable one is refused
# with the reason; --read-only with --group is a usage error.
# test_cli_ro.sh SHMQ
set -uo pipefail
. "$(dirname "$0")/cli_common.sh" "$1" tcro
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	echo "skip: needs root and setpriv (a second user)"
	exit 77
fi
as_other() { setpriv --reuid 65534 --regid 65534 --clear-groups -- "$shmq" "$@"; }
if ! as_other -V >/dev/null 2>&1; then
	echo "skip: uid 65534 cannot run $shmq (a directory above it is not searchable)"
	exit 77
fi
# expect_other RC STDOUT-PATTERN STDERR-PATTERN -- ARGS...: expect() as uid 65534.
expect_other() { expect_run "(uid 65534) " as_other "$@"; }

expect 0 "" "" -- pub --create --lossy --slots 8 -c 3 ro.lossy
expect 0 "" "" -- pub --create --slots 8 -c 3 ro.rel
chmod 0644 /dev/shm/shmq."$SHMQ_NAMESPACE".ro.lossy /dev/shm/shmq."$SHMQ_NAMESPACE".ro.rel

# Refused as a subscriber (no write permission), read read-only instead, and told so.
expect_other 0 "3 3" "reading it read-only" -- sub --from earliest -c 3 -t 5s ro.lossy
[ "$(wc -l <"$out")" -eq 3 ] || fail "fallback: not 3 records"
# Asked for: no note.
expect_other 0 "1 1" "" -- sub --read-only --from earliest -c 3 -t 5s ro.lossy
grep -q "read-only" "$err" && fail "--read-only: a note nobody asked for"
# A record published while it polls, then the end of the wait.
as_other sub -R -c 1 -t 10s ro.lossy >"$dir/late" 2>"$err" </dev/null &
pids+=($!)
sleep 0.3
expect 0 "" "" -- pub ro.lossy late
wait "${pids[-1]}" || fail "--read-only: the late record did not end the wait"
grep -q "late" "$dir/late" || fail "--read-only: no late record: $(cat "$dir/late")"
# The topic removed under it: what it held is printed, then the end says why (exit 1).
as_other sub -R --from earliest -t 10s ro.lossy >"$dir/rm.out" 2>"$dir/rm.err" </dev/null &
pids+=($!)
sleep 0.3
expect 0 "" "" -- rm ro.lossy
wait "${pids[-1]}"
rc=$?
{ [ "$rc" -eq 1 ] && grep -q "removed" "$dir/rm.err" && grep -q "late" "$dir/rm.out"; } ||
	fail "removed: exit $rc, stdout $(cat "$dir/rm.out"), stderr $(cat "$dir/rm.err")"
expect 0 "" "" -- pub --create --lossy --slots 8 -c 3 ro.lossy
chmod 0644 /dev/shm/shmq."$SHMQ_NAMESPACE".ro.lossy
# hz only looks: it falls back too.
expect_other 0 "" "reading it read-only" -- hz -w 100ms -c 1 ro.lossy
# A reliable topic has no read-only reader.
expect_other 1 "" "its subscribers need write permission" -- sub -c 1 -t 1s ro.rel
expect_other 1 "" "lossy" -- sub -R -c 1 -t 1s ro.rel
expect 2 "" "--read-only" -- sub -R -g g ro.lossy
exit $((fails > 0))
