#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configure (or reconfigure) and build one meson build directory: build.sh DIR [meson options...]
set -euo pipefail
dir=$1
shift
if [ -f "$dir/build.ninja" ]; then
	meson setup --reconfigure "$dir" "$@" >/dev/null
else
	meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir"
