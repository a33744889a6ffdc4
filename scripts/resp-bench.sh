#!/bin/sh
# scripts/resp-bench.sh [ROUNDS]: redis-benchmark against examples/resp on
# each engine and against a real redis-server, in the same run.
#
# Each round runs `redis-benchmark -c 50 -P 16 -t get,set -n N -q` against
# four servers in turn: threaded; evented with its default loop per core;
# evented with one loop, which on a small machine leaves a core to
# redis-benchmark, as the single-threaded redis-server does; and
# redis-server. The order rotates per round, so that none always gets the
# machine's quiet or busy moment. The report is each server's median
# requests/s over ROUNDS (default 5) with its ratio to redis-server. Everything listens on loopback ports picked free; every
# process started is stopped on exit. Needs redis-server and
# redis-benchmark (Debian: apt-get install -y redis-server redis-tools).
# Environment: N (requests per test, default 1000000: about a second per
# test at a million requests per second), PIPELINE (default 16),
# CLIENTS (default 50).
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-5}
n=${N:-1000000}
pipeline=${PIPELINE:-16}
clients=${CLIENTS:-50}
for tool in redis-server redis-benchmark; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "resp-bench: $tool is missing (apt-get install -y redis-server redis-tools)" >&2
		exit 1
	}
done

prog=resp-bench
. scripts/servers.sh

go build -o "$tmp/resp" ./examples/resp

# start_resp NAME ARGS...: examples/resp with ARGS, on a port picked free,
# recorded in $tmp/NAME.port.
start_resp() {
	name=$1
	shift
	start_server "$name" "$tmp/resp" -addr 127.0.0.1:0 "$@"
	sed 's/.*://' "$tmp/$name.addr" >"$tmp/$name.port"
}

start_resp threaded -engine threaded
start_resp evented -engine evented
start_resp evented-1loop -engine evented -loops 1
# redis-server takes a port, not :0: pick one nobody listens on.
port=6390
while redis-cli -p "$port" ping >/dev/null 2>&1; do port=$((port + 1)); done
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$tmp/redis.out" 2>&1 &
pids="$pids $!"
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "resp-bench: redis-server did not start" >&2; cat "$tmp/redis.out" >&2; exit 1; }
	sleep 0.1
done
echo "$port" >"$tmp/redis-server.port"

servers="threaded evented evented-1loop redis-server"
for r in $(seq 1 "$rounds"); do
	for name in $servers; do
		p=$(cat "$tmp/$name.port")
		redis-benchmark -h 127.0.0.1 -p "$p" -c "$clients" -P "$pipeline" -t get,set -n "$n" -q 2>/dev/null |
			tr '\r' '\n' | sed -n 's/^\([A-Z]*\): \([0-9.]*\) requests per second.*/\1 \2/p' |
			while read -r test rps; do echo "$name $test $rps"; done >>"$tmp/results"
		echo "round $r/$rounds: $name done" >&2
	done
	# Rotate the order: a b c d -> b c d a.
	set -- $servers
	first=$1
	shift
	servers="$* $first"
done

echo "redis-benchmark -c $clients -P $pipeline -t get,set -n $n, median of $rounds rounds ($(uname -r), $(nproc) cores, redis-server $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p'))"
echo
echo "| server | SET req/s | vs redis | GET req/s | vs redis |"
echo "| --- | ---: | ---: | ---: | ---: |"
median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) printf "%.0f\n", v[(NR+1)/2]; else printf "%.0f\n", (v[NR/2]+v[NR/2+1])/2}'; }
for test in SET GET; do
	awk -v t="$test" '$1=="redis-server" && $2==t {print $3}' "$tmp/results" | median >"$tmp/redis.$test"
done
for name in threaded evented evented-1loop redis-server; do
	row="| $name"
	for test in SET GET; do
		m=$(awk -v s="$name" -v t="$test" '$1==s && $2==t {print $3}' "$tmp/results" | median)
		base=$(cat "$tmp/redis.$test")
		ratio=$(awk -v a="$m" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "-"}')
		row="$row | $m | $ratio"
	done
	echo "$row |"
done
