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
start_redis redis-server 6390

servers="threaded evented evented-1loop redis-server"
bench_rounds "$rounds" $servers

echo "redis-benchmark -c $clients -P $pipeline -t get,set -n $n, median of $rounds rounds ($(uname -r), $(nproc) cores, redis-server $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p'))"
echo
ratio_table redis-server redis $servers
