// Command bench is sockpool's throughput benchmark matrix: it tells, with
// numbers, which engine and which read-buffer size serve an echo workload
// best on this machine.
//
//	go run ./bench                                   # quick matrix, about 2 minutes on 2 cores
//	go run ./bench -preset full                      # every engine, size, buffer and the idle cells
//	go run ./bench -engines threaded,evented,net,gnet,nbio -sizes 1k -conns 1,50 -duration 2s
//	go run ./bench -sizes 64,1k -conns 50 -pipeline 8   # 8 messages in flight per connection
//	go run ./bench -sizes '' -idle 1000,10000        # only the idle-connection cells
//	go run ./bench -report bench/results/<run>/results.json   # print an earlier run's table, redraw its charts
//	go run ./bench -pin 0/1 -cpuprofile gen.prof     # server on CPU 0, bench on CPU 1; profile the generator
//	go run ./bench -conns 1 -pin 1/1                 # one connection, server and bench on one CPU: unpinned, placement decides such a cell
//	go run ./bench -tune -sizes 64k -conns 5         # sweep read-buffer sizes for one workload; recommends one
//	go run ./bench -tls=both -sizes 1k,64k -conns 50 -handshakes 8   # TLS against plain, and handshakes/s
//	go run ./bench -engines evented,net -sizes 64 -conns 50,100 -rounds 5   # medians of 5 rounds, with ranges
//	go run ./bench -engines evented,gnet,threaded,net -rounds 5 -compare evented/gnet,threaded/net   # ratios paired by round
//	go run ./bench -engines evented,gnet,c -external c=/tmp/cal/epoll_echo -loops 1   # one loop each, against a C loop
//	go run ./bench -udp -engines packet,net,gnet -sizes 64,1k -conns 1,50   # UDP echo: packet.Server, net and gnet
//	go run ./bench -sizes '' -file 64m -conns 1,8 -engines threaded,evented,net   # file serving: sendfile against read+write
//	scripts/bench-matrix.sh                          # the full matrix and its charts, about 30 minutes
//
// Each cell runs its server in a process of its own, started and stopped
// by bench: its own engines (threaded, threaded-syscall, evented,
// evented-pool, uring, and packet for UDP) and the baseline net (Go's net
// package, a goroutine per connection) are the bench binary re-executed in
// a hidden serve mode; the
// peers gnet and nbio are built from their own modules in bench/peers on
// first use (a peer that does not build is reported unavailable, with the
// reason). A server is ready when it prints "listening tcp <addr>" (a UDP
// server "listening udp <addr>"). An
// -external server (NAME=COMMAND) is started as COMMAND PORT with a free
// port, and is ready once the port accepts. -loops N gives the evented
// engines, gnet and nbio N event loops.
//
// An echo cell opens its connections, runs them for -warmup unmeasured and
// then measures a window of -duration. Each connection is a closed loop:
// it writes a message, reads the echo in full and compares every byte with
// what it sent; messages are pseudo-random, different per connection and
// per message. With -pipeline N (default 1) the loop has depth N: a
// connection writes N messages (one writev), then reads their N echoes in
// order and checks each, and starts again; a message's latency runs from
// its write to the end of its echo. Any mismatch, short read or connection
// error fails the cell: it is reported FAILED with the count and the first
// error, and without any throughput figure.
//
// # Reading the table
//
// msg/s counts messages echoed in the window (round trips when -pipeline
// is 1), MB/s is the payload one
// way (10^6 bytes), and p50/p99/p99.9 are round-trip latencies from an
// HdrHistogram of every message. On a small machine the client and the
// server share the CPUs and every good server saturates them, so the
// figure that tells engines apart is msg/srv-CPU-s: messages per second
// of server CPU (user plus system time from /proc, in 10 ms ticks). client
// CPU is bench's own CPU per wall second (100% is one core): when it is
// near the machine's capacity, the generator, not the server, is the limit.
// srv peak RSS is the server's VmHWM. rt/conn min–max shows fairness: a
// cell in which some connection completed no round trip is flagged
// "STARVED n/N", however good its total looks.
//
// A single cell on a shared machine can move by 10% between runs. -rounds
// N runs the whole matrix N times; within each round the cells of one
// workload run back to back, in an order rotated by one every round, so no
// engine always runs first or last. Each row is then the cell's median
// round (by msg/s, conn/s or RSS per connection; the lower middle one for
// an even N, so all of a row's figures were measured together), and the
// main figure shows its range over the rounds in brackets: 52210
// (49.9k–54.0k). msg/srv-CPU-s is the exception: it is the median of every
// round's own, with its range, since the round with the median msg/s need
// not have the median efficiency. results.json and results.csv keep every
// round's figures. A cell that fails in any round fails; one starved in
// any round is flagged.
//
// When a run has more than one engine, the table is followed by the
// engines side by side: a row per message size and connection count, a
// column per engine, once for msg/s and once for msg/srv-CPU-s, each
// engine at its fastest read buffer for that workload and the best of each
// row in bold; a starved or failed engine says so instead of a number.
//
// -compare A/B (a comma list of pairs) adds a table of ratios for each
// pair and workload, and for the pair's TLS and UDP cells when the run has
// them: A's msg/s and msg/srv-CPU-s over B's, taken within each round and
// then summarised as their median and range, and the rounds in which A was
// at least as efficient as B. A machine whose speed drifts over a run
// moves both engines of a round alike, so these ratios are steadier than a
// ratio of the two medians. Each engine's cell is the one the side-by-side
// table shows.
//
// An idle cell (-idle) opens that many connections, makes each echo one
// checked message so that each is known to be served, and reports the
// growth of the server's VmRSS per connection.
//
// Results go to -out (default bench/results/<YYYYMMDD-HHMMSS>-<host>):
// results.json, results.csv, results.md (the table printed), command.txt
// and machine.txt (CPU, cores, kernel, Go version and TCP congestion
// control, which changes loopback throughput). The table goes to stdout in
// Markdown, progress to stderr.
//
// # TLS
//
// -tls runs every echo cell over TLS (tlsconf's defaults and a self-signed
// ECDSA certificate made for the run; connections handshake before the
// warm-up), and -tls=both runs each cell plain and over TLS side by side;
// TLS cells are reported as "<engine>+tls". The engines with TLS are
// sockpool's own and net (crypto/tls in each connection's goroutine); gnet
// and nbio get no TLS cells. -handshakes 1,16 adds handshake cells: that
// many clients each loop over a new connection, a TLS handshake, one
// checked 64-byte echo and a close, once with full handshakes and once
// with session resumption (a connection that fails to resume fails the
// cell). conn/s counts connections; on a small machine the client's half
// of each handshake costs as much as the server's, so compare engines on
// conn/srv-CPU-s.
//
// # UDP
//
// -udp runs every echo cell over UDP instead, and -udp=both runs each
// workload over TCP and over UDP; UDP cells are reported as
// "<engine>/udp". The engines with a UDP echo server are packet
// (sockpool's packet.Server with its defaults: recvmmsg batches, a worker
// pool), net (one goroutine in a ReadFrom/WriteTo loop, the baseline) and
// gnet (gnet's UDP server, OnTraffic replying with c.Write); any other
// engine's UDP cell is reported unavailable. Each of -conns client
// sockets is connected to the server and is a closed loop: it sends one
// datagram of the message size (at most 65,507 bytes, the largest over
// IPv4), waits for its echo and checks every byte, as a TCP connection
// does. An echo that has not come within a second is given up: the
// datagram is counted lost and the socket sends the next one (an echo that
// comes later is recognised and skipped). Loss is not an error, so a cell
// with losses keeps its figures, and the table gets a lost column: the
// datagrams lost in the window and their share of those sent. A wrong, short
// or long echo fails the cell. UDP cells keep one datagram in flight
// (-pipeline is for TCP), have no TLS, and run at one read buffer, 64k,
// whatever -bufsizes says: every server reads into a buffer that holds
// the largest datagram. Servers and clients keep the kernel's default
// socket buffers (net.core.rmem_default), so large datagrams from many
// clients at once can overflow the server's and be lost.
//
// # Files
//
// -file runs file cells, one per file size, connection count, engine and
// method: each of -conns connections asks for the file (one byte) and reads
// and checks all of it, over and over; files/s are the cell's msg/s and
// MB/srv-CPU-s its efficiency. The method is sendfile (Conn.SendFile,
// which is sendfile(2) on Linux; net's io.Copy from an *os.File, which is
// sendfile(2) too) or copy (ReadAt and Write, 64 KiB at a time; on Evented
// from a goroutine of the handler's, so that the Writes wait for the queue
// to drain as they do on a socket). Cells are reported as
// "<engine>/sendfile" and "<engine>/copy", and the table is followed by
// their ratios. The engines with a file server are sockpool's and net;
// the peers serve none and get no file cells. The file is written once per
// run in a temporary directory, so it is in the page cache: the cells
// measure the network path, not the disk.
//
// # Tuning the read buffer
//
// -bufsizes takes sizes and "auto", which runs sockpool's engines with
// ReadBufferSize 0, the tuner (the peers have no tuner, so they get no auto
// cells). -tune is a preset for one workload: engines threaded,
// threaded-syscall and evented, buffers 1k to 256k and auto, at -sizes 64k
// and -conns 5 unless the command line says otherwise. Whenever a run has
// more than one buffer size, the table is followed by a buffer-tuning table:
// for each message size and connection count, the fastest engine and
// buffer, each engine's best fixed buffer, and auto as a percentage of it.
// Only cells that completed cleanly are recommended.
//
// # Charts
//
// At the end of a run (and with -report, beside the results.json it
// reads) bench draws charts with gonum.org/v1/plot, each as PNG and SVG,
// one line per engine, and lists their files on stderr; -charts=false
// turns them off. Only cells with figures are drawn: a failed or
// unavailable cell is a missing point, never a zero.
//
//   - msgs-vs-size-c<conns>: messages/s against message size, one chart
//     per -conns value, at the largest -bufsizes value.
//   - eff-vs-size-c<conns>: messages per second of server CPU against
//     message size, the same cells: compare engines on this one.
//   - mbps-vs-bufsize-s<size>: MB/s against the server's read-buffer size,
//     the tuning chart, one per message size, at the largest -conns value;
//     drawn when the run has more than one buffer size. An engine's auto
//     cell is a dotted level line across it, labelled "<engine> auto".
//   - p99-vs-conns-s<size>: p99 latency against connections, one per
//     message size, at the largest buffer size; drawn when the run has
//     more than one -conns value.
//
// Sizes, buffer sizes and connections are on log axes labelled as the
// flags spell them (64, 1k, 64k).
//
// bench exits 1 when a cell failed or a chart could not be written.
package main
