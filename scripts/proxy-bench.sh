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

# free_port FROM: the first port from FROM up on which nothing answers.
free_port() {
	p=$1
	while redis-cli -p "$p" ping >/dev/null 2>&1; do p=$((p + 1)); done
	echo "$p"
}

# wait_ping NAME PORT: waits up to 10 s for a redis PING to answer on PORT.
wait_ping() {
	i=0
	until [ "$(redis-cli -p "$2" ping 2>/dev/null)" = PONG ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "proxy-bench: $1 did not answer on $2" >&2; cat "$tmp/$1.out" >&2 2>/dev/null; exit 1; }
		sleep 0.1
	done
	echo "$2" >"$tmp/$1.port"
}

redis_port=$(free_port 6390)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$tmp/redis.out" 2>&1 &
pids="$pids $!"
wait_ping redis "$redis_port"

go build -o "$tmp/proxy" ./examples/proxy
engines="threaded threaded-syscall evented evented-pool"
for e in $engines; do
	start_server "proxy-$e" "$tmp/proxy" -addr 127.0.0.1:0 -engine "$e" -upstream "127.0.0.1:$redis_port"
	sed 's/.*://' "$tmp/proxy-$e.addr" >"$tmp/proxy-$e.port"
done

haproxy_port=$(free_port $((redis_port + 1)))
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
all=$targets
for r in $(seq 1 "$rounds"); do
	for name in $targets; do
		p=$(cat "$tmp/$name.port")
		redis-benchmark -h 127.0.0.1 -p "$p" -c "$clients" -P "$pipeline" -t get,set -n "$n" -q 2>/dev/null |
			tr '\r' '\n' | sed -n 's/^\([A-Z]*\): \([0-9.]*\) requests per second.*/\1 \2/p' |
			while read -r test rps; do echo "$name $test $rps"; done >>"$tmp/results"
		echo "round $r/$rounds: $name done" >&2
	done
	# Rotate the order: a b c -> b c a.
	set -- $targets
	first=$1
	shift
	targets="$* $first"
done

echo "redis-benchmark -c $clients -P $pipeline -t get,set -n $n, median of $rounds rounds ($(uname -r), $(nproc) cores, $(haproxy -v | sed -n '1s/ - .*//p'), nbthread $(nproc))"
echo
echo "| target | SET req/s | vs HAProxy | GET req/s | vs HAProxy |"
echo "| --- | ---: | ---: | ---: | ---: |"
median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) printf "%.0f\n", v[(NR+1)/2]; else printf "%.0f\n", (v[NR/2]+v[NR/2+1])/2}'; }
for test in SET GET; do
	awk -v t="$test" '$1=="haproxy" && $2==t {print $3}' "$tmp/results" | median >"$tmp/haproxy.$test"
done
for name in $all; do
	row="| $name"
	for test in SET GET; do
		m=$(awk -v s="$name" -v t="$test" '$1==s && $2==t {print $3}' "$tmp/results" | median)
		base=$(cat "$tmp/haproxy.$test")
		ratio=$(awk -v a="$m" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "-"}')
		row="$row | $m | $ratio"
	done
	echo "$row |"
done
