#!/usr/bin/env python3
# test/bench/cdc_publish.py: the cdc publisher's benchmark, run by
# test/bench/cdc_publish.sh (which sets PGBIN, WORK and SRC).
#
# 1. Throughput: a backlog of events is written while the sink is disabled,
#    then the sink is enabled and the time until Redis holds all of them is
#    measured (events/s), for 10-row and for single-row transactions.
# 2. Freshness: pgbench writes single-row transactions at a fixed rate
#    (5000/s by default) with the sink streaming; a consumer blocked in XREAD
#    stamps every entry when it arrives; the delay is that stamp minus the
#    event's commit timestamp (same clock).  p50, p99 and max.
# Both run against a private PostgreSQL and a loopback redis-server with
# appendonly no (the publisher's own cost, not the disk's).
import datetime
import json
import os
import socket
import subprocess
import sys
import time

PGBIN = os.environ["PGBIN"]
WORK = os.environ["WORK"]
BACKLOG = int(os.environ.get("BENCH_CDC_EVENTS", "200000"))
RATE = int(os.environ.get("BENCH_CDC_RATE", "5000"))
SECONDS = int(os.environ.get("BENCH_CDC_SECONDS", "20"))
PGPORT = int(os.environ.get("BENCH_CDC_PGPORT", "55491"))
REDISPORT = int(os.environ.get("BENCH_CDC_REDISPORT", "56491"))
DATA = os.path.join(WORK, "data")


def run(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw).stdout


def psql(sql):
    return run(os.path.join(PGBIN, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
               "-h", WORK, "-p", str(PGPORT), "-d", "postgres", "-c", sql).strip()


class Redis:
    """A minimal RESP client: enough for XLEN, XREAD and DEL."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line)

    def cmd(self, *args):
        req = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            req += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(req)
        return self.read()


def wait_for(sql, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if psql(sql) == "t":
            return
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for: " + sql)


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def throughput(redis, rows_per_txn, events):
    key = "bench:tp%d" % rows_per_txn
    psql("SELECT geoshard.add_cdc_sink('tp%d', '%s', '{\"include-tables\": \"public.pins\"}')" % (rows_per_txn, key))
    wait_for("SELECT state = 'streaming' FROM geoshard.cdc_status WHERE sink = 'tp%d'" % rows_per_txn)
    psql("SELECT geoshard.disable_cdc_sink('tp%d')" % rows_per_txn)
    wait_for("SELECT state = 'disabled' FROM geoshard.cdc_status WHERE sink = 'tp%d'" % rows_per_txn)
    psql("CALL write_pins(%d, %d)" % (events // rows_per_txn, rows_per_txn))
    start = time.time()
    psql("SELECT geoshard.enable_cdc_sink('tp%d')" % rows_per_txn)
    while int(redis.cmd("XLEN", key)) < events:
        time.sleep(0.01)
    elapsed = time.time() - start
    n = int(redis.cmd("XLEN", key))
    psql("SELECT geoshard.drop_cdc_sink('tp%d')" % rows_per_txn)
    redis.cmd("DEL", key)
    return n, elapsed


def freshness(redis):
    key = "bench:fresh"
    psql("SELECT geoshard.add_cdc_sink('fresh', '%s', '{\"include-tables\": \"public.pins\"}')" % key)
    wait_for("SELECT state = 'streaming' AND lag_bytes = 0 FROM geoshard.cdc_status WHERE sink = 'fresh'")
    script = os.path.join(WORK, "insert.sql")
    with open(script, "w") as f:
        f.write("INSERT INTO pins (name) VALUES ('fresh');\n")
    bench = subprocess.Popen([os.path.join(PGBIN, "pgbench"), "-n", "-c", "4", "-j", "2", "-R", str(RATE),
                              "-T", str(SECONDS), "-f", script, "-h", WORK, "-p", str(PGPORT), "postgres"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    delays = []
    last = "$"
    idle_since = None
    while True:
        reply = redis.cmd("XREAD", "COUNT", "10000", "BLOCK", "1000", "STREAMS", key, last)
        now = time.time()
        if reply is None:
            if bench.poll() is not None:
                if idle_since is None:
                    idle_since = now
                elif now - idle_since > 2:
                    break
            continue
        idle_since = None
        for entry_id, fields in reply[0][1]:
            last = entry_id
            f = dict(zip(fields[::2], fields[1::2]))
            event = json.loads(f[b"data"])
            commit = datetime.datetime.fromisoformat(event["timestamp"]).timestamp()
            delays.append((now - commit) * 1000.0)
    out = bench.communicate()[0]
    tps = [l for l in out.splitlines() if l.startswith("tps")]
    psql("SELECT geoshard.drop_cdc_sink('fresh')")
    return delays, tps[0] if tps else "tps unknown"


def main():
    redis = Redis(REDISPORT)
    print("## CDC: publishing (make bench-cdc)\n")
    print("Loopback redis-server (appendonly no), geoshard.cdc_batch_size = %s, cdc_poll_interval = %s.\n"
          % (psql("SHOW geoshard.cdc_batch_size"), psql("SHOW geoshard.cdc_poll_interval")))
    print("| workload | events | seconds | events/s |")
    print("|---|---:|---:|---:|")
    for rows in (10, 1):
        n, s = throughput(redis, rows, BACKLOG if rows > 1 else BACKLOG // 2)
        print("| backlog of %d-row transactions | %d | %.2f | %.0f |" % (rows, n, s, n / s))
    sys.stdout.flush()
    delays, tps = freshness(redis)
    print("\nFreshness: commit to arrival in the stream (XREAD BLOCK consumer), pgbench -R %d for %d s, "
          "single-row transactions (%s):\n" % (RATE, SECONDS, tps))
    print("| events | p50 ms | p90 ms | p99 ms | max ms |")
    print("|---:|---:|---:|---:|---:|")
    print("| %d | %.1f | %.1f | %.1f | %.1f |" % (len(delays), percentile(delays, 50), percentile(delays, 90),
                                                 percentile(delays, 99), max(delays)))


if __name__ == "__main__":
    main()
