#!/bin/sh
# scripts/proxy-bench.sh [ROUNDS]: redis-benchmark against a redis-server
# directly, through examples/proxy on each engine, and through HAProxy in
# mode tcp, in the same run.
#
# Each round runs `redis-benchmark -c 50 -P 16 -t get,set -n N -q` against
# every target in turn, the order rotating per round so that none always
# gets the machine's quiet or busy moment. The report is each target's
# median requests/s over ROUNDS (default 5) with its ratio to HAProxy.
# Fairness: HAProxy gets nbthread = the number of cores, which is what
# examples/proxy's evented engines take by default (a loop per GOMAXPROCS)
# and what its threaded engines can use; neither is pinned. On a machine
# with 2 cores, redis-server and redis-benchmark take one each and the
# proxies share them, which is the point: a proxy's cost per request.
# uring gets a row where the proxy answers a PING on it.
# Everything listens on loopback; every process started is stopped on
# exit. Needs redis-server, redis-benchmark and haproxy (Debian: apt-get
# install -y redis-server redis-tools haproxy). Environment: N (requests
# per test, default 1000000), PIPELINE (default 16), CLIENTS (default 50).
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-5}
n=${N:-1000000}
pipeline=${PIPELINE:-16}
clients=${CLIENTS:-50}
PATH=$PATH:/usr/sbin
for tool in redis-server redis-benchmark redis-cli haproxy; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "proxy-bench: $tool is missing (apt-get install -y redis-server redis-tools haproxy)" >&2
		exit 1
	}
done

prog=proxy-bench
. scripts/servers.sh

start_redis redis 6390
redis_port=$(cat "$tmp/redis.port")

go build -o "$tmp/proxy" ./examples/proxy
engines="threaded threaded-syscall evented evented-pool"
# uring where it runs: a proxy that answers a PING through it (Serve fails
# without io_uring, after the listening line). Skipped with the reason.
"$tmp/proxy" -addr 127.0.0.1:0 -engine uring -upstream "127.0.0.1:$redis_port" -log error >"$tmp/uring-probe.out" 2>&1 &
probe=$!
i=0
until grep -q '^listening ' "$tmp/uring-probe.out" 2>/dev/null || ! kill -0 "$probe" 2>/dev/null || [ $i -ge 50 ]; do i=$((i + 1)); sleep 0.1; done
probe_port=$(sed -n 's/^listening [a-z0-9]* .*:\([0-9]*\)$/\1/p' "$tmp/uring-probe.out")
if [ -n "$probe_port" ] && [ "$(redis-cli -p "$probe_port" ping 2>/dev/null)" = PONG ]; then
	engines="$engines uring"
else
	echo "proxy-bench: no uring row: the proxy on uring did not answer a PING ($(grep -v '^listening' "$tmp/uring-probe.out" | head -1 | cut -c1-200))" >&2
fi
kill "$probe" 2>/dev/null || true
wait "$probe" 2>/dev/null || true
for e in $engines; do
	start_server "proxy-$e" "$tmp/proxy" -addr 127.0.0.1:0 -engine "$e" -upstream "127.0.0.1:$redis_port"
	sed 's/.*://' "$tmp/proxy-$e.addr" >"$tmp/proxy-$e.port"
done

# start_haproxy NAME NBTHREAD: HAProxy in mode tcp in front of redis on
# the first free port after redis's, its port recorded in $tmp/NAME.port.
haproxy_port=$redis_port
start_haproxy() {
	haproxy_port=$((haproxy_port + 1))
	while redis-cli -p "$haproxy_port" ping >/dev/null 2>&1; do haproxy_port=$((haproxy_port + 1)); done
	cat >"$tmp/$1.cfg" <<CFG
global
	nbthread $2
	maxconn 4096
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend fe
	bind 127.0.0.1:$haproxy_port
	default_backend be
backend be
	server redis 127.0.0.1:$redis_port
CFG
	haproxy -f "$tmp/$1.cfg" -db >"$tmp/$1.out" 2>&1 &
	pids="$pids $!"
	wait_ping "$1" "$haproxy_port"
}
start_haproxy haproxy "$(nproc)"

targets="redis"
for e in $engines; do targets="$targets proxy-$e"; done
targets="$targets haproxy"
bench_rounds "$rounds" $targets

echo "redis-benchmark -c $clients -P $pipeline -t get,set -n $n, median of $rounds rounds"
echo "($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, Linux $(uname -r), $(go version | cut -d' ' -f3), $(haproxy -v | sed -n '1s/ - .*//p'): nbthread $(nproc))"
echo
ratio_table haproxy HAProxy $targets
