#!/bin/sh
# SPDX-License-Identifier: MIT
# Build an instrumented libjansson.so.4 (coverage, ASan, UBSan) from jansson's source, so that
# the fuzzer sees inside the JSON parser: Debian's library gives it no coverage feedback.
# Usage: build-jansson.sh JANSSON_SRC_DIR OUT_DIR; then run a target with
# LD_LIBRARY_PATH=OUT_DIR. The source: 'apt-get source jansson' (needs a deb-src line).
set -eu
src=${1:?usage: build-jansson.sh JANSSON_SRC_DIR OUT_DIR}/src
out=${2:?usage: build-jansson.sh JANSSON_SRC_DIR OUT_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
# The installed jansson_config.h is the configured one; the private config names what
# glibc has (what jansson's configure would find here).
cp /usr/include/jansson_config.h "$tmp/"
cat >"$tmp/jansson_private_config.h" <<'CFG'
#define HAVE_STDINT_H 1
#define HAVE_INTTYPES_H 1
#define HAVE_UNISTD_H 1
#define HAVE_FCNTL_H 1
#define HAVE_SCHED_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_LOCALECONV 1
#define HAVE_OPEN 1
#define HAVE_READ 1
#define HAVE_CLOSE 1
#define HAVE_GETPID 1
#define HAVE_GETTIMEOFDAY 1
#define HAVE_SCHED_YIELD 1
#define HAVE_SYNC_BUILTINS 1
#define HAVE_ATOMIC_BUILTINS 1
#define USE_URANDOM 1
#define INITIAL_HASHTABLE_ORDER 3
CFG
# Debian's library names its one version node after its soname: keep it, so that the targets
# built against it bind to this one.
echo 'libjansson.so.4 { global: *; };' >"$tmp/jansson.map"
${CC:-clang} -O1 -g -fPIC -shared -DHAVE_CONFIG_H -I"$tmp" -I"$src" \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	-Wl,-soname,libjansson.so.4 -Wl,--version-script="$tmp/jansson.map" \
	"$src"/*.c -o "$out/libjansson.so.4"
echo "built $out/libjansson.so.4"
