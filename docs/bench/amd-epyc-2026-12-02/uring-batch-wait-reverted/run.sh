#!/bin/sh
# A/B: main proxy (7300) vs batch-wait probe (7301), alternating order
pkill -f redis-server; pkill -f proxy-main; pkill -f proxy-probe; sleep 0.5
redis-server --port 6390 --daemonize yes --save '' --appendonly no >/dev/null
sleep 0.5
/tmp/h/proxy-main -addr 127.0.0.1:7300 -upstream 127.0.0.1:6390 -engine uring >/dev/null 2>&1 &
P0=$!
/tmp/h/proxy-probe -addr 127.0.0.1:7301 -upstream 127.0.0.1:6390 -engine uring >/dev/null 2>&1 &
P1=$!
sleep 1
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
one() { # round port pid test
  a=$(cpu $3)
  r=$(redis-benchmark -p $2 -c 50 -P 16 -t $4 -n 1000000 -q | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | awk '{print $1}')
  b=$(cpu $3)
  echo "$1 $2 $4 $r $((b-a))"
}
for i in $(seq 1 ${ROUNDS:-6}); do
  if [ $((i%2)) = 1 ]; then o="7300:$P0 7301:$P1"; else o="7301:$P1 7300:$P0"; fi
  for t in set get; do for pp in $o; do one $i ${pp%%:*} ${pp##*:} $t; done; done
done
kill $P0 $P1; redis-cli -p 6390 shutdown nosave >/dev/null 2>&1
