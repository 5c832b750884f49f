#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The library and its tests on an emulated aarch64 (a weakly ordered CPU: an acquire/release
# mistake that x86 hides can show there). Cross-builds with scripts/cross/aarch64-linux-gnu.ini,
# packs the test programs, their arm64 libraries and a busybox init into an initramfs, boots
# a Debian arm64 kernel under qemu-system-aarch64 (a whole machine: Debian 12's qemu-user hangs
# here as soon as a program creates a thread or forks), runs every compiled test there and
# exits non-zero when one fails or the guest does not finish.
#
#   test-aarch64.sh [--list]    (--list: what would run on the guest and what would not)
#
# Environment: SHMQ_AARCH64_BUILD (build dir, default build-aarch64), SHMQ_STRESS_SCALE
# (percent of the stress tests' full size, default 2), SHMQ_AARCH64_TIMEOUT (seconds for the
# whole guest run, default 1800), SHMQ_AARCH64_ONLY (a regular expression: run only the tests
# whose names match), SHMQ_AARCH64_SMP (guest CPUs, default 2).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${SHMQ_AARCH64_BUILD:-$root/build-aarch64}
scale=${SHMQ_STRESS_SCALE:-2}
limit=${SHMQ_AARCH64_TIMEOUT:-1800}
only=${SHMQ_AARCH64_ONLY:-}
smp=${SHMQ_AARCH64_SMP:-2}
list_only=false
[ "${1:-}" = "--list" ] && list_only=true

bash "$root/scripts/deps.sh" --aarch64
opts=(--cross-file "$root/scripts/cross/aarch64-linux-gnu.ini" -Dtests=true -Dbench=false)
if [ -f "$dir/build.ninja" ]; then
	meson setup --reconfigure "$dir" "${opts[@]}" >/dev/null
else
	meson setup "$dir" "$root" "${opts[@]}" >/dev/null
fi
ninja -C "$dir" >/dev/null

# What runs on the guest: each meson test whose program is an arm64 executable of this build.
# The shell and python tests stay behind (the guest has no bash, python, mandoc, promtool,
# node or nats-server), and so do their tools' tests.
guest=$dir/aarch64-guest
rm -rf "$guest"
mkdir -p "$guest/rootfs" "$dir/aarch64-cache"
meson introspect --tests "$dir" | python3 -c '
import json, os, re, shlex, sys
build, src, only, out = sys.argv[1:5]
def elf(p):
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False
run, files, srcs, dirs = [], set(), set(), set()
def guest_path(a, cwd):
    # meson runs a test in its workdir (the build dir unless set), so a relative argument
    # is a path from there: tests get shmqd as "daemon/shmqd". Each path into the build dir
    # or the source tree becomes its guest twin, and what it names goes into the initramfs
    # (an arm64 program, a source file), or, where it does not exist yet (an output file
    # such as the --json of chaos), its directory does.
    p = a if os.path.isabs(a) else os.path.normpath(os.path.join(cwd, a))
    if not os.path.isabs(a) and not os.path.exists(p):
        return a
    if p.startswith(build + "/"):
        r = os.path.relpath(p, build)
        if elf(p):
            files.add(r)
        elif not os.path.exists(p):
            dirs.add(os.path.dirname(r))
        else:
            return a
        return "/b/" + r
    if p.startswith(src + "/") and os.path.exists(p):
        srcs.add(os.path.relpath(p, src)) # the corpora of the fuzz replays
        return "/s/" + os.path.relpath(p, src)
    return a
for t in json.load(sys.stdin):
    cmd = t["cmd"]
    if not elf(cmd[0]) or not cmd[0].startswith(build + "/"):
        print("skip %-26s %s (not an arm64 program of the build)" % (t["name"], os.path.basename(cmd[0])))
        continue
    if only and not re.search(only, t["name"]):
        continue
    cwd = t.get("workdir") or build
    args = [guest_path(a, cwd) for a in cmd]
    env = ["%s=%s" % (k, guest_path(v, cwd)) for k, v in sorted(t["env"].items())]
    # the working directory: the twin of the build dir (or of a dir under it), else /tmp
    gcwd = "/tmp"
    if cwd == build or cwd.startswith(build + "/"):
        gcwd = os.path.normpath("/b/" + os.path.relpath(cwd, build))
        dirs.add(os.path.relpath(cwd, build))
    run.append("run_test %s %d %s %s" % (shlex.quote(t["name"]), t["timeout"], shlex.quote(gcwd),
        " ".join(shlex.quote(x) for x in env + ["--"] + args)))
    print("run  %-26s %s" % (t["name"], " ".join(os.path.basename(x) for x in cmd)))
with open(out + "/tests.sh", "w") as f:
    f.write("\n".join(run) + "\n")
with open(out + "/files", "w") as f:
    f.write("\n".join(sorted(files)) + "\n")
with open(out + "/srcs", "w") as f:
    f.write("\n".join(sorted(srcs)) + "\n")
with open(out + "/dirs", "w") as f:
    f.write("\n".join(sorted(dirs)) + "\n")
' "$dir" "$root" "$only" "$guest" | tee "$guest/list"
$list_only && exit 0

# A Debian arm64 kernel and a static arm64 busybox, downloaded once into the build dir (beside
# the guest dir, which each run starts again) and unpacked there (not installed into the host).
cd "$dir/aarch64-cache"
kpkg=$(apt-cache depends linux-image-cloud-arm64:arm64 | awk '/Depends: linux-image-/ { print $2; exit }')
ls "${kpkg%%:*}"_*.deb >/dev/null 2>&1 || apt-get download -q "$kpkg" >/dev/null 2>&1
ls busybox-static_*.deb >/dev/null 2>&1 || apt-get download -q busybox-static:arm64 >/dev/null 2>&1
dpkg-deb -x "${kpkg%%:*}"_*.deb kernel
dpkg-deb -x busybox-static_*.deb busybox
# this package's kernel: the cache may still hold an older one unpacked
kver=${kpkg%%:*}
kver=${kver#linux-image-}
kernel=kernel/boot/vmlinuz-$kver

# The initramfs: busybox, the test programs under /b (the build's own layout, so their
# $ORIGIN run paths hold), the source files they read under /s, libshmq and every arm64
# library they need.
rfs=$guest/rootfs
mkdir -p "$rfs"/{bin,dev,proc,sys,tmp,lib/aarch64-linux-gnu,b}
cp busybox/bin/busybox "$rfs/bin/busybox"
for a in sh mount mkdir timeout date env poweroff echo cat sleep uname; do
	ln -s busybox "$rfs/bin/$a"
done
while read -r f; do
	[ -n "$f" ] || continue
	mkdir -p "$rfs/b/$(dirname "$f")"
	cp "$dir/$f" "$rfs/b/$f"
done <"$guest/files"
while read -r f; do
	[ -n "$f" ] || continue
	mkdir -p "$rfs/s/$(dirname "$f")"
	cp -r "$root/$f" "$rfs/s/$f"
done <"$guest/srcs"
while read -r d; do
	[ -n "$d" ] && mkdir -p "$rfs/b/$d"
done <"$guest/dirs"
mkdir -p "$rfs/b/libshmq"
for l in "$dir"/libshmq/libshmq.so*; do
	[ -d "$l" ] || cp -P "$l" "$rfs/b/libshmq/"
done
search=("$dir/libshmq" /lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu)
needed() { aarch64-linux-gnu-readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
queue=$(find "$rfs/b" -type f)
declare -A seen=()
while [ -n "$queue" ]; do
	next=
	for f in $queue; do
		for n in $(needed "$f"); do
			[ -z "${seen[$n]:-}" ] || continue
			seen[$n]=1
			[ "${n#libshmq}" = "$n" ] || continue
			for d in "${search[@]}"; do
				if [ -e "$d/$n" ]; then
					cp -L "$d/$n" "$rfs/lib/aarch64-linux-gnu/$n"
					next="$next $rfs/lib/aarch64-linux-gnu/$n"
					break
				fi
			done
			[ -e "$rfs/lib/aarch64-linux-gnu/$n" ] || { echo "aarch64: no arm64 $n" >&2; exit 1; }
		done
	done
	queue=$next
done
cp -L /lib/ld-linux-aarch64.so.1 "$rfs/lib/ld-linux-aarch64.so.1"
# glibc dlopen()s libgcc_s for pthread_exit() and cancellation: no NEEDED names it
cp -L /lib/aarch64-linux-gnu/libgcc_s.so.1 "$rfs/lib/aarch64-linux-gnu/"
cp "$guest/tests.sh" "$rfs/tests.sh"
cat >"$rfs/init" <<EOF
#!/bin/sh
# The guest's init: mounts, then each test with its meson timeout, one result line each.
export PATH=/bin LD_LIBRARY_PATH=/b/libshmq:/lib/aarch64-linux-gnu
export SHMQ_STRESS_SCALE=$scale HOME=/tmp TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm
mount -t tmpfs -o size=512m shm /dev/shm
mount -t tmpfs tmp /tmp
echo "@@ BOOT \$(uname -r) \$(uname -m) cpus=\$(grep -c ^processor /proc/cpuinfo)"
run_test() {
	name=\$1 to=\$2 wd=\$3
	shift 3
	envs=
	while [ "\$1" != "--" ]; do envs="\$envs \$1"; shift; done
	shift
	t0=\$(date +%s)
	echo "@@ START \$name"
	# meson's working directory: the build dir (its twin /b) unless the test names one
	cd "\$wd"
	# the stress scale of this run replaces the rows' own (CI's 20 % of the full size)
	timeout "\$to" env \$envs SHMQ_STRESS_SCALE=$scale "\$@" </dev/null
	rc=\$?
	t1=\$(date +%s)
	if [ \$rc -eq 0 ]; then r=PASS; else r=FAIL; fi
	echo "@@ RESULT \$name \$r rc=\$rc \$((t1 - t0))s"
}
. /tests.sh
echo "@@ DONE"
poweroff -f
EOF
chmod +x "$rfs/init"
(cd "$rfs" && find . | cpio -o -H newc --quiet | gzip -1) >"$guest/initramfs.cpio.gz"

echo "aarch64: kernel $kver, initramfs $(du -h "$guest/initramfs.cpio.gz" | cut -f1)," \
	"stress scale $scale %, guest limit ${limit}s"
log=$guest/console.log
t0=$(date +%s)
set +e
timeout "$limit" qemu-system-aarch64 -M virt -cpu max -smp "$smp" -m 1024 -nographic -net none \
	-no-reboot -kernel "$kernel" -initrd "$guest/initramfs.cpio.gz" \
	-append "console=ttyAMA0 rdinit=/init panic=-1 quiet" </dev/null >"$log" 2>&1
qrc=$?
set -e
t1=$(date +%s)
tr -d '\r' <"$log" | grep '^@@ ' || true
pass=$(tr -d '\r' <"$log" | grep -c '^@@ RESULT .* PASS ' || true)
fail=$(tr -d '\r' <"$log" | grep -c '^@@ RESULT .* FAIL ' || true)
echo "aarch64: $pass passed, $fail failed, $((t1 - t0))s (console: $log)"
if ! tr -d '\r' <"$log" | grep -q '^@@ DONE'; then
	echo "aarch64: the guest did not finish (qemu status $qrc)" >&2
	exit 1
fi
[ "$fail" -eq 0 ]
