#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# check_abi.py NM LIBSHMQ_SO LIBSHMQ_MAP: the library exports exactly the map's symbols, each
# in its node; prints every difference either way and exits 1 on any.
import re
import subprocess
import sys


def read_map(path):
    """{symbol: node} of the version script's global: sections; globs are refused."""
    text = re.sub(r'/\*.*?\*/', ' ', open(path).read(), flags=re.S)
    nodes = re.findall(r'([A-Za-z_][A-Za-z0-9_.]*)\s*\{(.*?)\}\s*([A-Za-z0-9_.]*)\s*;', text,
                       flags=re.S)
    if not nodes:
        sys.exit(f'{path}: no version node found')
    syms, bad = {}, []
    for node, body, _parent in nodes:
        # the body is a sequence of "global:" / "local:" sections of ';'-ended names
        section = None
        for tok in re.findall(r'global:|local:|[^\s;]+', body):
            if tok in ('global:', 'local:'):
                section = tok
            elif section == 'global:':
                if re.search(r'[*?\[]', tok):
                    bad.append(f'{path}: node {node}: "{tok}" is a glob: list each symbol')
                elif tok in syms:
                    bad.append(f'{path}: {tok} is in both {syms[tok]} and {node}')
                else:
                    syms[tok] = node
    return syms, [n for n, _, _ in nodes], bad


def read_dynsyms(nm, lib, nodes):
    """{symbol: version} of the library's defined dynamic symbols."""
    out = subprocess.run([nm, '-D', '--defined-only', lib], check=True, capture_output=True,
                         text=True).stdout
    syms = {}
    for line in out.splitlines():
        fields = line.split()
        if not fields:
            continue
        name = fields[-1]
        if len(fields) >= 2 and fields[-2] == 'A' and name in nodes:
            continue  # the version definitions themselves
        sym, _, version = name.partition('@')
        syms[sym] = version.lstrip('@')
    return syms


def main():
    if len(sys.argv) != 4:
        sys.exit('usage: check_abi.py NM LIBSHMQ_SO LIBSHMQ_MAP')
    nm, lib, map_path = sys.argv[1:]
    want, nodes, problems = read_map(map_path)
    have = read_dynsyms(nm, lib, nodes)
    for sym in sorted(have.keys() - want.keys()):
        problems.append(f'exported but not in the map: {sym}@{have[sym]}')
    for sym in sorted(want.keys() - have.keys()):
        problems.append(f'in the map ({want[sym]}) but not exported: {sym}')
    for sym in sorted(want.keys() & have.keys()):
        if have[sym] != want[sym]:
            problems.append(f'{sym}: exported in node "{have[sym]}", the map has {want[sym]}')
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f'{len(have)} symbols exported, each in its node of {map_path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
