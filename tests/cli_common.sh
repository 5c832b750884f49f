# SPDX-License-Identifier: MIT
# cli_common.sh - what shell tests of the shmq tool share; sourced with "SHMQ-BINARY NS-TAG":
# a namespace of their own (NS-TAG and the pid) without the daemon, a scratch directory ($dir,
# $out, $err), the background pids to end at exit ($pids), fail() and expect().
shmq=$1
export SHMQ_NAMESPACE=$2$$ SHMQ_DAEMON=off
dir=$(mktemp -d)
out=$dir/out err=$dir/err
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir" /dev/shm/shmq."$SHMQ_NAMESPACE".*
}
trap cleanup EXIT
fails=0

fail() {
	echo "FAIL: $*"
	echo "  stdout: $(head -c 2000 "$out")"
	echo "  stderr: $(head -c 2000 "$err")"
	fails=$((fails + 1))
}

# expect RC STDOUT-PATTERN STDERR-PATTERN -- ARGS...: an empty pattern means any output.
expect() { expect_run "" "$shmq" "$@"; }

# expect_run LABEL RUNNER RC STDOUT-PATTERN STDERR-PATTERN -- ARGS...: expect(), with the
# tool run as RUNNER ARGS... (a function that runs it another way), its lines led by LABEL.
expect_run() {
	local label=$1 runner=$2 rc=$3 want_out=$4 want_err=$5 got
	shift 6
	"$runner" "$@" >"$out" 2>"$err" </dev/null
	got=$?
	if [ "$got" -ne "$rc" ] || { [ -n "$want_out" ] && ! grep -qF -- "$want_out" "$out"; } ||
		{ [ -n "$want_err" ] && ! grep -qF -- "$want_err" "$err"; }; then
		fail "${label}shmq $* -> exit $got (want $rc)"
	else
		echo "ok: ${label}shmq $*"
	fi
}
