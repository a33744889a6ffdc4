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
