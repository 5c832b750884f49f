#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Prometheus metrics: `shmq metrics` of the objects MAKE_OBJECTS leaves (5 records, a live
# subscriber that read 2), and of a live group member, passes `promtool check metrics` and says
# what was done, merged and per subscriber and member; shmqd --metrics serves the same over
# loopback (scraped with python3's urllib), 404 elsewhere, 405 for a POST, from the command line
# and from the config file; a non-loopback address is refused.
# Skipped (77) without promtool (Debian package prometheus).
# test_metrics.sh SHMQ SHMQD MAKE_OBJECTS HIST_TOOL (hist_interop_tool: reads an .hlog back)
set -uo pipefail
shmq=$1 shmqd=$2 make_objects=$3 hist_tool=$4
command -v promtool >/dev/null || { echo "SKIP: no promtool (Debian package prometheus)"; exit 77; }
ns=tmet$$ dir=$(mktemp -d)
holder= daemon= member=
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	[ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
	[ -n "$member" ] && kill "$member" 2>/dev/null && wait "$member" 2>/dev/null
	rm -rf "$dir" /dev/shm/shmq."$ns".* /dev/shm/shmq-daemon."$ns".lock
}
trap cleanup EXIT
fails=0

ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# value FILE SERIES: the value of the sample whose name and labels are SERIES, exactly.
value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }

# expect_value FILE SERIES WANT
expect_value() {
	local got
	got=$(value "$1" "$2")
	[ "$got" = "$3" ] && ok "$2 = $3" || bad "$2 = '$got', want $3 (in $1)"
}

check_promtool() {
	if promtool check metrics <"$1" >"$dir/lint" 2>&1; then
		ok "promtool check metrics: $2"
	else
		bad "promtool check metrics: $2: $(cat "$dir/lint")"
	fi
}

# ---- shmq metrics, without a daemon ----
"$make_objects" "$ns" 5 --hold >"$dir/holder" &
holder=$!
for _ in $(seq 100); do grep -q ready "$dir/holder" && break; sleep 0.05; done
grep -q ready "$dir/holder" || { bad "make_objects never got ready"; exit 1; }

"$shmq" metrics -n "$ns" >"$dir/once" 2>"$dir/err" && ok "shmq metrics exits 0" ||
	bad "shmq metrics: exit $? ($(cat "$dir/err"))"
check_promtool "$dir/once" "shmq metrics"
l="namespace=\"$ns\""
expect_value "$dir/once" "shmq_topic_records_total{$l,topic=\"top\"}" 5
expect_value "$dir/once" "shmq_topic_tail{$l,topic=\"top\"}" 6
expect_value "$dir/once" "shmq_topic_subscribers{$l,topic=\"top\"}" 1
expect_value "$dir/once" "shmq_topic_expired_total{$l,topic=\"top\"}" 0
expect_value "$dir/once" "shmq_topic_info{$l,topic=\"top\",policy=\"reliable\"}" 1
expect_value "$dir/once" "shmq_subscriber_received_total{$l,topic=\"top\",subscriber=\"$holder\"}" 2
expect_value "$dir/once" "shmq_subscriber_lag{$l,topic=\"top\",subscriber=\"$holder\"}" 3
expect_value "$dir/once" "shmq_group_lag{$l,topic=\"top\",group=\"work\"}" 5
expect_value "$dir/once" "shmq_group_members{$l,topic=\"top\",group=\"work\"}" 0
expect_value "$dir/once" "shmq_channel_messages_total{$l,channel=\"chan\"}" 3
expect_value "$dir/once" "shmq_channel_used_bytes{$l,channel=\"chan\"}" 128
expect_value "$dir/once" "shmq_objects{$l,kind=\"topic\"}" 1
expect_value "$dir/once" "shmq_objects_unreadable{$l}" 0
grep -q '^shmq_daemon_' "$dir/once" && bad "shmq metrics has daemon metrics" ||
	ok "no daemon metrics without the daemon"
# the holder records its delivery latency: a histogram of its 2 records
expect_value "$dir/once" "shmq_delivery_latency_seconds_count{$l,topic=\"top\"}" 2
expect_value "$dir/once" "shmq_delivery_latency_seconds_bucket{$l,topic=\"top\",le=\"+Inf\"}" 2
expect_value "$dir/once" "shmq_delivery_latency_seconds_bucket{$l,topic=\"top\",le=\"1e-06\"}" 0
grep -q '^shmq_processing_seconds' "$dir/once" && bad "processing time without a member" ||
	ok "no processing time without a recording member"
# shmq stat and shmq hist read the same histogram
"$shmq" stat -n "$ns" top | grep -q "subscriber pid $holder delivery latency: 2 records" &&
	ok "stat shows the delivery latency" || bad "stat: $("$shmq" stat -n "$ns" top)"
"$shmq" hist -n "$ns" top | grep -q 'Total count *= *2\]' && ok "hist: the distribution" ||
	bad "hist: $("$shmq" hist -n "$ns" top 2>&1)"
"$shmq" hist -n "$ns" -i 50ms -c 2 -o "$dir/top.hlog" top &&
	[ "$(grep -c '^Tag=delivery,' "$dir/top.hlog")" = 2 ] &&
	grep -q '^#\[Histogram log format version 1.3\]' "$dir/top.hlog" &&
	ok "hist -o FILE.hlog: two intervals" || bad "hist .hlog: $(cat "$dir/top.hlog")"
got=$("$hist_tool" read "$dir/top.hlog")
[ "$got" = "2 0" ] && ok "the .hlog reads back: 2 intervals, nothing new in them" ||
	bad "hist_interop_tool read: '$got'"
"$shmq" hist -n "$ns" -p top 2>"$dir/err"
[ $? = 2 ] && ok "hist -p without a group: 2" || bad "hist -p: $(cat "$dir/err")"
"$shmq" hist -n "$ns" chan 2>"$dir/err"
[ $? = 1 ] && ok "hist of an object without latency: 1" || bad "hist chan: $(cat "$dir/err")"
n=$(grep -c '^# TYPE shmq_topic_records_total counter$' "$dir/once")
[ "$n" = 1 ] && ok "one TYPE line per family" || bad "$n TYPE lines of shmq_topic_records_total"

# each subscriber and each live group member on its own, beside the merged series
lh="$l,topic=\"top\",pid=\"$holder\",index=\"0\""
expect_value "$dir/once" "shmq_subscription_received_total{$lh}" 2
expect_value "$dir/once" "shmq_subscription_lag{$lh}" 3
expect_value "$dir/once" "shmq_subscription_lost_total{$lh}" 0
grep -q '^shmq_group_member_' "$dir/once" && bad "member series without a live member" ||
	ok "no member series without a live member"
"$shmq" sub -n "$ns" --group w2 --from earliest --timeout 20s top >/dev/null 2>&1 &
member=$!
for _ in $(seq 200); do
	"$shmq" group -n "$ns" top w2 2>/dev/null | grep -q 'acked 5,' && break
	sleep 0.05
done
"$shmq" metrics -n "$ns" >"$dir/members"
check_promtool "$dir/members" "with a live member"
lm="$l,topic=\"top\",group=\"w2\",pid=\"$member\",index=\"0\""
expect_value "$dir/members" "shmq_group_member_acked_total{$lm}" 5
expect_value "$dir/members" "shmq_group_member_delivered_total{$lm}" 5
expect_value "$dir/members" "shmq_group_member_in_flight{$lm}" 0
expect_value "$dir/members" "shmq_group_acked_total{$l,topic=\"top\",group=\"w2\"}" 5
expect_value "$dir/members" "shmq_group_members{$l,topic=\"top\",group=\"w2\"}" 1
n=$(grep -c '^# TYPE shmq_group_member_acked_total counter$' "$dir/members")
[ "$n" = 1 ] && ok "one TYPE line of the member family" || bad "$n TYPE lines of shmq_group_member_acked_total"
kill "$member"
wait "$member" 2>/dev/null
member=
"$shmq" rm -n "$ns" top@w2 || bad "rm top@w2"

# a file of the namespace that is no segment: counted, not an error
echo junk >/dev/shm/shmq."$ns".junk
"$shmq" metrics -n "$ns" >"$dir/junk" && ok "shmq metrics with a foreign file exits 0" ||
	bad "shmq metrics with a foreign file: exit $?"
expect_value "$dir/junk" "shmq_objects_unreadable{$l}" 1
check_promtool "$dir/junk" "with a foreign file"
rm -f /dev/shm/shmq."$ns".junk

"$shmq" metrics -h | grep -q '^usage: shmq metrics' && ok "metrics -h" || bad "metrics -h"
"$shmq" metrics -x 2>"$dir/err"
[ $? = 2 ] && grep -qF "shmq metrics: unknown option '-x'" "$dir/err" && ok "metrics -x: 2" ||
	bad "metrics -x: $(cat "$dir/err")"
"$shmq" metrics extra 2>"$dir/err"
[ $? = 2 ] && grep -qF "unexpected argument 'extra'" "$dir/err" && ok "metrics extra: 2" ||
	bad "metrics extra: $(cat "$dir/err")"
"$shmq" metrics -n 'bad/ns' 2>"$dir/err"
[ $? = 1 ] && grep -qF "shmq: namespace 'bad/ns'" "$dir/err" && ok "metrics -n bad/ns: 1" ||
	bad "metrics -n bad/ns: $(cat "$dir/err")"

# ---- other processes' files (the NATS bridge's) in the namespace's metrics directory ----
# Two live writers' files merge family by family; a dead writer's file, a temporary file,
# malformed lines and a file that is not NAME.PID.prom are left out.
export SHMQ_METRICS_DIR=$dir/metrics.d
mkdir "$SHMQ_METRICS_DIR"
sleep 60 &
other=$!
printf '# HELP shmq_nats_exported_total Records.\n# TYPE shmq_nats_exported_total counter\nshmq_nats_exported_total{namespace="%s",bridge="%s"} 7\nbad line here\nshmq_nats_conn\x01ected 1\n' \
	"$ns" $$ >"$SHMQ_METRICS_DIR/shmq-nats.$$.prom"
printf '# HELP shmq_nats_exported_total Records.\n# TYPE shmq_nats_exported_total counter\nshmq_nats_exported_total{namespace="%s",bridge="%s"} 9\n' \
	"$ns" "$other" >"$SHMQ_METRICS_DIR/shmq-nats.$other.prom"
printf 'shmq_nats_exported_total{namespace="%s",bridge="dead"} 1\n' "$ns" >"$SHMQ_METRICS_DIR/shmq-nats.999999999.prom"
printf 'shmq_nats_tmp_total 1\n' >"$SHMQ_METRICS_DIR/shmq-nats.$$.prom.tmp"
printf 'shmq_nats_noname_total 1\n' >"$SHMQ_METRICS_DIR/nopid.prom"
"$shmq" metrics -n "$ns" >"$dir/others" 2>"$dir/err" || bad "shmq metrics with others: $(cat "$dir/err")"
check_promtool "$dir/others" "shmq metrics with two other writers"
expect_value "$dir/others" "shmq_nats_exported_total{namespace=\"$ns\",bridge=\"$$\"}" 7
expect_value "$dir/others" "shmq_nats_exported_total{namespace=\"$ns\",bridge=\"$other\"}" 9
[ "$(grep -c '^# TYPE shmq_nats_exported_total ' "$dir/others")" = 1 ] && ok "one TYPE line for both" ||
	bad "TYPE lines: $(grep -c '^# TYPE shmq_nats_exported_total ' "$dir/others")"
grep -q -e 'bridge="dead"' -e 'shmq_nats_tmp' -e 'shmq_nats_noname' -e 'bad line' -e 'shmq_nats_conn' \
	"$dir/others" && bad "left-out lines shown: $(grep shmq_nats "$dir/others")" || ok "left-out files and lines"
kill "$other"
wait "$other" 2>/dev/null
unset SHMQ_METRICS_DIR

# ---- shmqd --metrics, over loopback ----
"$shmqd" -n "$ns" -s "$dir/x.sock" -f --metrics 192.0.2.1:9464 2>"$dir/err"
[ $? = 2 ] && grep -qF 'not a loopback address' "$dir/err" && ok "a non-loopback address: 2" ||
	bad "a non-loopback address: $(cat "$dir/err")"
"$shmqd" -n "$ns" -s "$dir/x.sock" -f --metrics 127.0.0.1 2>"$dir/err"
[ $? = 2 ] && grep -qF 'not ADDR:PORT' "$dir/err" && ok "no port: 2" ||
	bad "no port: $(cat "$dir/err")"

# start_daemon ARGS...: shmqd in the foreground, its port (0: the kernel's pick) from its log
start_daemon() {
	: >"$dir/log"
	"$shmqd" -n "$ns" -s "$dir/d.sock" -f "$@" 2>"$dir/log" &
	daemon=$!
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/^shmqd: metrics on 127\.0\.0\.1:\([0-9]*\)\/metrics$/\1/p' "$dir/log")
		[ -n "$port" ] && grep -q "^shmqd: namespace '$ns' on" "$dir/log" && return 0
		kill -0 "$daemon" 2>/dev/null || break
		sleep 0.05
	done
	bad "shmqd $* did not start: $(cat "$dir/log")"
	return 1
}

# SIGTERM: shmqd exits 0
stop_daemon() {
	local rc
	kill "$daemon"
	wait "$daemon"
	rc=$?
	daemon=
	[ "$rc" = 0 ] && ok "shmqd stopped: exit 0" || bad "shmqd exit $rc: $(cat "$dir/log")"
}

# scrape PATH [METHOD]: "STATUS CONTENT-TYPE" on stdout, the body into $dir/body
scrape() {
	python3 - "http://127.0.0.1:$port$1" "${2:-GET}" "$dir/body" <<'EOF'
import sys, urllib.error, urllib.request
url, method, out = sys.argv[1:]
req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
try:
    r = urllib.request.urlopen(req, timeout=10)
except urllib.error.HTTPError as e:
    r = e
open(out, "wb").write(r.read())
print(r.status, r.headers.get("Content-Type"))
EOF
}

scrape_checks() {
	local what=$1 got
	got=$(scrape /metrics)
	[ "$got" = "200 text/plain; version=0.0.4; charset=utf-8" ] && ok "$what: GET /metrics: $got" ||
		bad "$what: GET /metrics: $got"
	cp "$dir/body" "$dir/scraped"
	check_promtool "$dir/scraped" "$what"
	expect_value "$dir/scraped" "shmq_topic_records_total{$l,topic=\"top\"}" 5
	grep -q "^shmq_daemon_processes_watched{$l} [0-9]*$" "$dir/scraped" &&
		ok "$what: processes watched" || bad "$what: no processes watched"
	grep -q "^shmq_daemon_uptime_seconds{$l} [0-9.e+-]*$" "$dir/scraped" &&
		ok "$what: uptime" || bad "$what: no uptime"
	expect_value "$dir/scraped" "shmq_daemon_clients{$l}" 0
	got=$(scrape /other)
	[ "${got%% *}" = 404 ] && ok "$what: GET /other: 404" || bad "$what: GET /other: $got"
	got=$(scrape /metrics POST)
	[ "${got%% *}" = 405 ] && ok "$what: POST /metrics: 405" || bad "$what: POST /metrics: $got"
	got=$(scrape /metrics)
	[ "${got%% *}" = 200 ] && ok "$what: GET /metrics again: 200" || bad "$what: again: $got"
}

if start_daemon --metrics 127.0.0.1:0; then
	scrape_checks "--metrics"
	stop_daemon
fi
printf 'metrics = 127.0.0.1:0\n' >"$dir/shmqd.conf"
if start_daemon -c "$dir/shmqd.conf" --loop epoll; then
	scrape_checks "config file, epoll"
	stop_daemon
fi

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
echo "all passed"
