#!/bin/sh
# scripts/http-bench.sh [ROUNDS]: wrk against net/http on a plain
# net.Listener and against net/http on sockpool's drop-in listener
# (server.Server.Listener), in the same run.
#
# Both servers are examples/http, on the same handler and the same small
# response (GET /hello, about 40 bytes of text): "net" runs it with
# -net-listener, without sockpool; "sockpool" runs it with its defaults
# (MaxConns, the accept loop, the connection wrapper), plus
# -max-conns-per-ip when PER_IP is set. Each round runs
# `wrk -t THREADS -c CONNS -d DURATION` against both, in an order that
# alternates per round, so that neither always gets the machine's quiet
# or busy moment. The report is each server's median requests/s over
# ROUNDS (default 5) and sockpool's ratio to net. Everything listens on
# loopback ports picked free; every process started is stopped on exit.
# Needs wrk (Debian: apt-get install -y wrk).
# Environment: DURATION (per run, default 10s), CONNS (default 50),
# THREADS (wrk's, default 2), PER_IP (default unset: no per-IP limit).
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-5}
duration=${DURATION:-10s}
conns=${CONNS:-50}
threads=${THREADS:-2}
command -v wrk >/dev/null 2>&1 || {
	echo "http-bench: wrk is missing (apt-get install -y wrk)" >&2
	exit 1
}

prog=http-bench
. scripts/servers.sh

go build -o "$tmp/http" ./examples/http

# start NAME ARGS...: examples/http with ARGS, on a port picked free.
start() {
	name=$1
	shift
	start_server "$name" "$tmp/http" -addr 127.0.0.1:0 "$@"
}

start net -net-listener
if [ -n "${PER_IP:-}" ]; then
	start sockpool -max-conns-per-ip "$PER_IP"
else
	start sockpool
fi

servers="net sockpool"
for r in $(seq 1 "$rounds"); do
	for name in $servers; do
		addr=$(cat "$tmp/$name.addr")
		out=$(wrk -t "$threads" -c "$conns" -d "$duration" "http://$addr/hello")
		rps=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
		errors=$(echo "$out" | sed -n 's/^ *Socket errors: *\(.*\)$/\1/p; s/^ *Non-2xx or 3xx responses: *\(.*\)$/non-2xx \1/p')
		[ -n "$rps" ] || { echo "http-bench: no result from wrk against $name:" >&2; echo "$out" >&2; exit 1; }
		[ -z "$errors" ] || echo "http-bench: round $r, $name: $errors" >&2
		echo "$name $rps" >>"$tmp/results"
		echo "round $r/$rounds: $name $rps req/s" >&2
	done
	# Alternate the order: net sockpool -> sockpool net.
	set -- $servers
	servers="$2 $1"
done

echo "wrk -t $threads -c $conns -d $duration GET /hello, median of $rounds rounds ($(uname -r), $(nproc) cores, $(go version | cut -d' ' -f3))"
echo
echo "| listener | req/s | vs net |"
echo "| --- | ---: | ---: |"
median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) printf "%.0f\n", v[(NR+1)/2]; else printf "%.0f\n", (v[NR/2]+v[NR/2+1])/2}'; }
base=$(awk '$1=="net" {print $2}' "$tmp/results" | median)
for name in net sockpool; do
	m=$(awk -v s="$name" '$1==s {print $2}' "$tmp/results" | median)
	ratio=$(awk -v a="$m" -v b="$base" 'BEGIN {if (b > 0) printf "%.3f", a/b; else print "-"}')
	echo "| $name | $m | $ratio |"
done
