#!/bin/sh
# SPDX-License-Identifier: MIT
# run_hist_interop.sh - cross-check shmq's histograms with hdr-histogram-js (node, from npm).
# Usage: run_hist_interop.sh TOOL WORKDIR. Exits 77 (skip) when node or npm is missing.
set -eu

tool=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "SKIP: node and npm are needed for the hdr-histogram-js interop test" \
		"(Debian: apt-get install nodejs npm)"
	exit 77
fi

mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$work/"
if ! [ -f "$work/node_modules/hdr-histogram-js/package.json" ]; then
	if ! (cd "$work" && timeout 600 npm ci --no-audit --no-fund --loglevel=error </dev/null); then
		if [ "${CI:-}" = true ]; then
			echo "FAIL: npm ci of hdr-histogram-js failed under CI" >&2
			exit 1
		fi
		echo "SKIP: could not install hdr-histogram-js with npm (offline?)"
		exit 77
	fi
fi
export NODE_PATH="$work/node_modules"

# 1. shmq writes an .hlog; hdr-histogram-js reads it and must find the same figures.
"$tool" write "$work/shmq.hlog" "$work/shmq.expect" "$work/shmq.dist"
node "$here/hist_interop.js" read-hlog "$work/shmq.hlog" "$work/shmq.expect" "$work/js.dist"

# 2. Both print the same percentile distribution table.
node "$here/hist_interop.js" compare-dist "$work/shmq.dist" "$work/js.dist"

# 3. hdr-histogram-js encodes; shmq decodes and must find the same figures.
node "$here/hist_interop.js" write "$work/js.encoded"
"$tool" check "$work/js.encoded"
