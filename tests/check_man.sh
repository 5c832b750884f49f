#!/bin/sh
# SPDX-License-Identifier: MIT
# Lint each man page given (mdoc) with mandoc at the warning level: any warning or error fails.
# Skipped (77) where mandoc is not installed (Debian: apt-get install mandoc).
command -v mandoc >/dev/null 2>&1 || { echo "mandoc not found: skipped"; exit 77; }
[ $# -gt 0 ] || { echo "usage: check_man.sh PAGE..." >&2; exit 2; }
status=0
for page in "$@"; do
	if mandoc -T lint -W warning "$page"; then
		echo "ok: $page"
	else
		echo "FAIL: $page (mandoc -T lint -W warning exit $?)"
		status=1
	fi
done
exit $status
