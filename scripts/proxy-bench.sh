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
for e in $engines; do
	start_server "proxy-$e" "$tmp/proxy" -addr 127.0.0.1:0 -engine "$e" -upstream "127.0.0.1:$redis_port"
	sed 's/.*://' "$tmp/proxy-$e.addr" >"$tmp/proxy-$e.port"
done

haproxy_port=$((redis_port + 1))
while redis-cli -p "$haproxy_port" ping >/dev/null 2>&1; do haproxy_port=$((haproxy_port + 1)); done
cat >"$tmp/haproxy.cfg" <<CFG
global
	nbthread $(nproc)
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
haproxy -f "$tmp/haproxy.cfg" -db >"$tmp/haproxy.out" 2>&1 &
pids="$pids $!"
wait_ping haproxy "$haproxy_port"

targets="redis"
for e in $engines; do targets="$targets proxy-$e"; done
targets="$targets haproxy"
bench_rounds "$rounds" $targets

echo "redis-benchmark -c $clients -P $pipeline -t get,set -n $n, median of $rounds rounds ($(uname -r), $(nproc) cores, $(haproxy -v | sed -n '1s/ - .*//p'), nbthread $(nproc))"
echo
ratio_table haproxy HAProxy $targets
