# SPDX-License-Identifier: MIT
# nats_common.sh - what the NATS bridge's shell tests share. Sourced with "SHMQ SHMQ-NATS
# NS-TAG": $shmq and $bridge; skips (77) when the bridge was not built; fail() counts into
# $fails; nats_server_or_skip sets $natsd; nats_env makes five namespaces of the tag
# ($ns1..$ns5), a scratch $dir (the bridges' metrics directory in it) and a cleanup at exit
# that ends the $pids, $server and $jserver this test started and removes their segments.
shmq=$1 bridge=$2 nats_tag=$3
if [ ! -x "$bridge" ]; then
	echo "SKIP: shmq-nats not built (no libnats: Debian libnats-dev)"
	exit 77
fi
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

nats_server_or_skip() {
	natsd=$(command -v nats-server || echo /usr/sbin/nats-server) # sbin: not always in PATH
	if [ ! -x "$natsd" ]; then
		echo "SKIP: no nats-server (Debian nats-server)"
		exit 77
	fi
}

nats_cleanup() {
	local p n
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$server" ] && kill "$server" 2>/dev/null
	[ -n "$jserver" ] && kill "$jserver" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$dir"
	for n in "$ns1" "$ns2" "$ns3" "$ns4" "$ns5"; do rm -f /dev/shm/shmq."$n".*; done
}

nats_env() {
	export SHMQ_DAEMON=off
	ns1=${nats_tag}a$$ ns2=${nats_tag}b$$ ns3=${nats_tag}c$$ ns4=${nats_tag}d$$
	ns5=${nats_tag}e$$
	dir=$(mktemp -d)
	export SHMQ_METRICS_DIR=$dir/metrics # where each bridge keeps its counters
	pids=() server= jserver=
	trap nats_cleanup EXIT
}

# free_ports N: N free loopback ports, on one line.
free_ports() {
	python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])' "$1"
}

# wait_port PORT: until something listens on it (5 s at most), else the test fails.
wait_port() {
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "FAIL: nats-server did not listen on $1"
	cat "$dir"/*.log
	exit 1
}
