#!/bin/sh
# scripts/bench-matrix.sh [OUT]: runs sockpool's full benchmark matrix
# (go run ./bench -preset full) and writes its results and charts into OUT,
# by default bench/results/full-<YYYYMMDD-HHMMSS>.
#
# What it takes: about 30 minutes on a 2-core machine (every engine,
# including threaded-syscall and the peers gnet and nbio, which are built on
# first use, over five message sizes from 64 B to 64 KiB, read buffers of
# 4 KiB, 64 KiB and auto (the tuner; sockpool's engines only) and 1, 50 and
# 200 connections, 5 s a cell, plus the 1,000- and 10,000-connection idle
# cells), the whole of the
# machine's CPUs while it runs (run nothing else: the figures are CPU
# time), loopback TCP only, about 10,100 open files (it raises the soft
# limit itself when the hard limit allows) and a few MB of disk. Extra bench
# flags can go after OUT; flags given win over the preset's, e.g.
#   scripts/bench-matrix.sh /tmp/run -pipeline 4
#
# The table goes to stdout; progress and the list of charts to stderr. It
# exits with bench's status: 1 when a cell failed.
set -eu
cd "$(dirname "$0")/.."
out=${1:-bench/results/full-$(date +%Y%m%d-%H%M%S)}
[ $# -gt 0 ] && shift
status=0
go run ./bench -preset full -out "$out" "$@" || status=$?
echo "results in $out; charts:" >&2
found=
for f in "$out"/*.png "$out"/*.svg; do
	[ -e "$f" ] || continue
	echo "  $f" >&2
	found=1
done
[ -n "$found" ] || echo "  none (all cells failed, or -charts=false)" >&2
exit "$status"
