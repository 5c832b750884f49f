#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian packages shmq needs that are missing (Debian 12); a no-op when all are there.
set -euo pipefail

pkgs=(gcc libc6-dev pkg-config meson ninja-build liburing-dev libcmocka-dev zlib1g-dev libjansson-dev
	libmicrohttpd-dev)
# The peer transports of shmq-bench compare; the benchmark builds without them (not run then).
pkgs+=(libzmq3-dev libnng-dev)
# iceoryx: the C binding to build against, and the iceoryx package's iox-roudi to run it.
pkgs+=(libiceoryx-binding-c-dev iceoryx)
# shmq-nats, the NATS bridge (not built without it).
pkgs+=(libnats-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# The HdrHistogram interoperability test reads our logs with hdr-histogram-js: any node/npm will do.
if [ "${1:-}" = "--test" ]; then
	command -v node >/dev/null || missing+=(nodejs)
	command -v npm >/dev/null || missing+=(npm)
	# The man pages' lint test (tests/check_man.sh; skipped without it).
	command -v mandoc >/dev/null || missing+=(mandoc)
	# The metrics test's promtool (tests/test_metrics.sh; skipped without it).
	command -v promtool >/dev/null || missing+=(prometheus)
	# The NATS bridge's test runs a nats-server of its own (tests/test_nats.sh; skipped without
	# it). Debian puts it in /usr/sbin.
	command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
fi
# The fuzz targets under libFuzzer (scripts/fuzz.sh runs deps.sh --fuzz; the tests' replay
# build needs neither). "clang" is the package of the unversioned /usr/bin/clang.
if [ "${1:-}" = "--fuzz" ]; then
	for p in clang libclang-rt-14-dev; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
fi
# The aarch64 run (scripts/test-aarch64.sh): the cross compiler, the arm64 libraries beside the
# native ones (multiarch) and a whole emulated machine
# (qemu-user hangs on this host as soon as a program creates a thread or forks).
if [ "${1:-}" = "--aarch64" ]; then
	dpkg --print-foreign-architectures | grep -qx arm64 || {
		s=; [ "$(id -u)" -eq 0 ] || s=sudo
		$s dpkg --add-architecture arm64
	}
	for p in gcc-aarch64-linux-gnu qemu-system-arm cpio liburing-dev:arm64 libcmocka-dev:arm64 \
		zlib1g-dev:arm64 libjansson-dev:arm64 libmicrohttpd-dev:arm64; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
fi
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
	sudo=sudo
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q </dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
