# scripts/servers.sh, sourced by the bench scripts (after `set -eu` and
# prog=<script name>): a temporary directory $tmp, removed on exit with
# every server started by start_server stopped first.
tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# start_server NAME CMD...: runs CMD in the background (its output in
# $tmp/NAME.out), waits up to 10 s for its "listening <network> <address>"
# line and records the address in $tmp/NAME.addr.
start_server() {
	name=$1
	shift
	"$@" >"$tmp/$name.out" 2>&1 &
	pids="$pids $!"
	i=0
	until grep -q '^listening ' "$tmp/$name.out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "$prog: $name did not start" >&2; cat "$tmp/$name.out" >&2; exit 1; }
		sleep 0.1
	done
	sed -n 's/^listening [a-z0-9]* \(.*\)$/\1/p' "$tmp/$name.out" >"$tmp/$name.addr"
}

# The redis-benchmark scripts' helpers; they read $n, $clients and
# $pipeline.

# start_redis NAME FROM: a redis-server without persistence on the first
# port from FROM up on which nothing answers (redis-server takes a port,
# not :0), its port recorded in $tmp/NAME.port once it answers PING.
start_redis() {
	port=$2
	while redis-cli -p "$port" ping >/dev/null 2>&1; do port=$((port + 1)); done
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$tmp/$1.out" 2>&1 &
	pids="$pids $!"
	wait_ping "$1" "$port"
}

# wait_ping NAME PORT: waits up to 10 s for a redis PING to answer on PORT
# and records PORT in $tmp/NAME.port.
wait_ping() {
	i=0
	until [ "$(redis-cli -p "$2" ping 2>/dev/null)" = PONG ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "$prog: $1 did not answer on $2" >&2; cat "$tmp/$1.out" >&2; exit 1; }
		sleep 0.1
	done
	echo "$2" >"$tmp/$1.port"
}

# bench_rounds ROUNDS NAMES...: ROUNDS rounds of `redis-benchmark -t
# get,set` against each NAME's port ($tmp/NAME.port), the order rotating
# per round (a b c, then b c a) so that none always gets the machine's
# quiet or busy moment; lines "NAME TEST REQ/S" go to $tmp/results.
bench_rounds() {
	rounds=$1
	shift
	for r in $(seq 1 "$rounds"); do
		for name in "$@"; do
			redis-benchmark -h 127.0.0.1 -p "$(cat "$tmp/$name.port")" -c "$clients" -P "$pipeline" -t get,set -n "$n" -q 2>/dev/null |
				tr '\r' '\n' | sed -n 's/^\([A-Z]*\): \([0-9.]*\) requests per second.*/\1 \2/p' |
				while read -r test rps; do echo "$name $test $rps"; done >>"$tmp/results"
			echo "round $r/$rounds: $name done" >&2
		done
		first=$1
		shift
		set -- "$@" "$first"
	done
}

# median: the median of the numbers on stdin, one a line.
median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) printf "%.0f\n", v[(NR+1)/2]; else printf "%.0f\n", (v[NR/2]+v[NR/2+1])/2}'; }

# ratio_table BASE LABEL NAMES...: a Markdown table of each NAME's median
# SET and GET requests/s in $tmp/results and its ratio to BASE's, in
# columns headed "vs LABEL".
ratio_table() {
	base=$1
	label=$2
	shift 2
	echo "| server | SET req/s | vs $label | GET req/s | vs $label |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	for name in "$@"; do
		row="| $name"
		for test in SET GET; do
			m=$(awk -v s="$name" -v t="$test" '$1==s && $2==t {print $3}' "$tmp/results" | median)
			b=$(awk -v s="$base" -v t="$test" '$1==s && $2==t {print $3}' "$tmp/results" | median)
			ratio=$(awk -v a="$m" -v b="$b" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "-"}')
			row="$row | $m | $ratio"
		done
		echo "$row |"
	done
}
