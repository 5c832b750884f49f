#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The shmq tool on priority and partitioned topics through the built binary: pub --priority,
# a group member and a subscriber served highest level first (and --weighted), stat of the
# levels; pub --key and --partition, a group member's {partition} (one per key, keys in order),
# stat --group's owners and lag, as a table and as JSON; and the usage errors (2).
# test_cli_keyed.sh SHMQ
set -uo pipefail
. "$(dirname "$0")/cli_common.sh" "$1" tcky

# same WANT: stdout is exactly WANT (lines as given).
same() {
	if [ "$(cat "$out")" != "$1" ]; then
		fail "want '$1'"
	fi
}

# wait_for COUNT PATTERN ARGS...: until "shmq ARGS" prints COUNT lines with PATTERN (10 s).
wait_for() {
	local n=$1 want=$2 i
	shift 2
	for i in $(seq 200); do
		[ "$("$shmq" "$@" 2>/dev/null | grep -cF -- "$want")" -eq "$n" ] && return 0
		sleep 0.05
	done
	echo "FAIL: shmq $* never printed '$want' $n times: $("$shmq" "$@" 2>&1)"
	fails=$((fails + 1))
}

# ---- priorities ----

# low, then high, then low again: a group member (made now, from the earliest) takes high first
expect 0 '' '' -- pub --create --priority 0 --levels 3 jobs low1
expect 0 '' '' -- pub --priority 2 jobs high1
expect 0 '' '' -- pub --priority 0 jobs low2
expect 0 '' '' -- pub -p 1 jobs mid1
expect 0 '' '' -- sub --group w --from earliest -c 4 -t 10s -F '{level} {payload}' jobs
same $'2 high1\n1 mid1\n0 low1\n0 low2'
# its acks stuck: nothing more for the group
expect 4 '' '' -- sub --group w -c 1 -t 200ms jobs
# a subscriber of every level, highest first too; JSON says the level
expect 0 '' '' -- sub --from earliest -c 4 -t 10s -F '{level} {payload}' jobs
same $'2 high1\n1 mid1\n0 low1\n0 low2'
expect 0 '"level":2' '' -- sub --from earliest -c 1 -t 10s -j jobs
grep -qF '"payload":"high1"' "$out" || fail "sub -j: not high1 first"
# {level} and {partition} on a plain topic: "-"
expect 0 '' '' -- pub --create plain x
expect 0 '' '' -- sub --from earliest -c 1 -t 10s -F '{level}{partition} {payload}' plain
same '-- x'

# strict against weighted, both levels busy: 1 1 1 and 1 0 1 (weights 2:1)
expect 0 '' '' -- pub --create --levels 2 -p 0 -c 6 busy
expect 0 '' '' -- pub -p 1 -c 6 busy
expect 0 '' '' -- sub --group strict --from earliest -c 3 -t 10s -F '{level}' busy
same $'1\n1\n1'
expect 0 '' '' -- sub --group fair --weighted --from earliest -c 3 -t 10s -F '{level}' busy
same $'1\n0\n1'

# stat: each level, highest first, with a live subscriber on every one
"$shmq" sub jobs >/dev/null 2>&1 &
pids+=("$!")
wait_for 3 'subscribers 1' stat jobs
expect 0 'priority topic jobs: 3 levels' '' -- stat jobs
grep -qF 'level 0 (jobs.p0): tail 3,' "$out" || fail "stat jobs: level 0's tail"
expect 0 '' '' -- stat -o json jobs
python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["kind"] == "priority" and o["levels"] == 3, o
assert [l["tail"] for l in o["level_list"]] == [3, 2, 2], o
assert all(l["subscribers"] == 1 for l in o["level_list"]), o
' "$out" || fail "stat -o json jobs"

# ---- partitions ----

# each key from a process of its own, in turns; then one named partition
for i in 1 2 3; do
	for k in alice bob carol dave erin; do
		"$shmq" pub --create --partitions 4 --key "$k" orders "$k/$i" ||
			fail "pub --key $k orders $k/$i"
	done
done
expect 0 '' '' -- pub --partition 3 orders direct
expect 0 'partitioned topic orders: 4 partitions' '' -- stat orders
expect 0 '' '' -- sub --group g --from earliest -c 16 -t 10s -F '{partition} {payload}' orders
# one partition per key, every key's records in order, "direct" in partition 3
awk '$2 == "direct" { if ($1 != 3) bad = 1; next }
	{ split($2, kv, "/"); k = kv[1]
	  if ((k in part) && part[k] != $1) bad = 1
	  if (kv[2] != seen[k] + 1) bad = 1
	  part[k] = $1; seen[k] = kv[2]; n++ }
	END { exit bad || n != 15 }' "$out" || fail "sub --group orders: keys split or out of order"
alice=$(awk -F'[ /]' '$2 == "alice" { print $1; exit }' "$out")
expect 0 '' '' -- pub --key alice orders alice/4
expect 0 "\"partition\":$alice," '' -- sub --group g -c 1 -t 10s -j orders

# stat --group: a live member owns all four; once it is gone, none, and the lag is what came since
"$shmq" sub --group g orders >/dev/null 2>&1 &
member=$!
pids+=("$member")
wait_for 4 "owner pid $member," stat --group g orders
expect 0 '' '' -- pub --key bob -c 2 orders
wait_for 1 'group g: lag 0' stat --group g orders
kill "$member"
wait "$member" 2>/dev/null
wait_for 4 'owner none,' stat --group g orders
expect 0 '' '' -- pub --key carol -c 3 orders
expect 0 'group g: lag 3' '' -- stat --group g orders
expect 0 '' '' -- stat -g g -o json orders
python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["kind"] == "partitioned" and o["partitions"] == 4 and o["group"] == "g", o
ps = o["partition_list"]
assert [p["partition"] for p in ps] == [0, 1, 2, 3], o
assert all(p["owner_pid"] == 0 for p in ps), o
assert sum(p["lag"] for p in ps) == 3 and max(p["lag"] for p in ps) == 3, o
assert all(p["lag"] == p["tail"] - p["floor"] for p in ps), o
' "$out" || fail "stat -g g -o json orders"

# ---- errors ----
expect 2 '' '--priority excludes --key and --partition' -- pub --priority 1 --key a jobs x
expect 2 '' '--key and --partition exclude each other' -- pub --key a --partition 1 orders x
expect 2 '' '--levels and --partitions need --create' -- pub --priority 1 --levels 3 jobs x
expect 2 '' '--levels needs --priority' -- pub --create --levels 3 jobs x
expect 2 '' '--create with --priority needs --levels N' -- pub --create --priority 1 jobs x
expect 2 '' '--create with --priority needs --levels N' -- pub --create --key a neworders x
expect 2 '' 'out of range' -- pub --create --priority 1 --levels 9 jobs x
expect 2 '' 'out of range' -- pub --create --priority 3 --levels 3 jobs x
expect 2 '' 'out of range' -- pub --create --partition 0 --partitions 257 orders x
expect 2 '' "--priority 3: the topic has 3 levels: 'jobs'" -- pub --priority 3 jobs x
expect 2 '' "--partition 4: the topic has 4 partitions: 'orders'" -- pub --partition 4 orders x
expect 2 '' '--priority: not a number' -- pub --priority high jobs x
expect 1 '' "open priority topic 'nojobs' in namespace '$SHMQ_NAMESPACE': No such object" -- \
	pub --priority 1 nojobs x
expect 1 '' "open partitioned topic 'noorders'" -- pub --key a noorders x
expect 1 '' "without --group" -- sub -t 1s orders
expect 2 '' "--weighted: not a priority topic: 'orders'" -- sub --weighted --group g orders
expect 2 '' "a pattern takes no" -- sub --weighted 'jobs.*'
expect 2 '' "--group: not a partitioned topic: 'jobs'" -- stat --group w jobs
expect 1 '' "No such object" -- stat --group nog orders

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
echo "all passed"
