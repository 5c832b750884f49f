#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# check_headers.py: every public header compiles on its own (twice in one file, as C11 and, when
# a C++ compiler is given, as C++), shmq.h includes every shmq/*.h, and no two headers, public
# or internal, share an include guard.
import argparse
import pathlib
import re
import shlex
import subprocess
import sys

C_FLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic', '-fsyntax-only', '-x', 'c']
CXX_FLAGS = ['-std=c++11', '-Wall', '-Wextra', '-Werror', '-pedantic', '-fsyntax-only', '-x',
             'c++']


def public_headers(src_inc, build_inc):
    """{'shmq.h' or 'shmq/X.h': path}, the generated ones from the build tree."""
    found = {'shmq.h': src_inc / 'shmq.h'}
    for top in (src_inc, build_inc):
        for path in sorted((top / 'shmq').glob('*.h')):
            found['shmq/' + path.name] = path
    return found


def compile_alone(compiler, flags, incs, name):
    """None when a file that includes @name twice compiles, else the compiler's output."""
    src = f'#include "{name}"\n#include "{name}"\ntypedef int shmq_header_check;\n'
    r = subprocess.run(compiler + flags + incs + ['-'], input=src, capture_output=True,
                       text=True)
    return None if r.returncode == 0 else (r.stdout + r.stderr).strip()


def umbrella_misses(compiler, incs, headers):
    """The shmq/*.h that shmq.h does not include, directly or through another header."""
    r = subprocess.run(compiler + ['-std=c11', '-MM'] + incs + [str(headers['shmq.h'])],
                       capture_output=True, text=True, check=True)
    deps = {pathlib.Path(d).resolve() for d in r.stdout.replace('\\\n', ' ').split()[1:]}
    return [n for n, p in headers.items() if n != 'shmq.h' and p.resolve() not in deps]


def guard_clashes(dirs):
    """Include guards defined by more than one header under @dirs."""
    seen, clashes = {}, []
    for d in dirs:
        for path in sorted(d.rglob('*.h')):
            m = re.search(r'^#ifndef\s+(\w+)\s*\n#define\s+\1\b', path.read_text(), re.M)
            if not m:
                clashes.append(f'{path}: no include guard')
            elif m.group(1) in seen:
                clashes.append(f'{path}: guard {m.group(1)} is also {seen[m.group(1)]}\'s')
            else:
                seen[m.group(1)] = path
    return clashes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cc', required=True, help='C compiler command')
    ap.add_argument('--cxx', default='', help='C++ compiler command, empty for none')
    ap.add_argument('--src-include', required=True, type=pathlib.Path)
    ap.add_argument('--build-include', required=True, type=pathlib.Path)
    ap.add_argument('--internal', required=True, type=pathlib.Path,
                    help='the directory of the internal headers')
    a = ap.parse_args()

    incs = ['-I' + str(a.src_include), '-I' + str(a.build_include)]
    headers = public_headers(a.src_include, a.build_include)
    compilers = [('C11', shlex.split(a.cc), C_FLAGS)]
    if a.cxx:
        compilers.append(('C++11', shlex.split(a.cxx), CXX_FLAGS))
    failed = []
    for name in headers:
        for lang, compiler, flags in compilers:
            err = compile_alone(compiler, flags, incs, name)
            print(f'{name} alone, {lang}: {"ok" if err is None else "FAILED"}')
            if err is not None:
                print(err)
                failed.append(f'{name} ({lang})')
    for name in umbrella_misses(shlex.split(a.cc), incs, headers):
        failed.append(f'{name}: not included by shmq.h')
    failed += guard_clashes([a.src_include, a.build_include, a.internal])
    for f in failed:
        print('FAILED: ' + f)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
