#!/usr/bin/env python3
"""test/bench/health.py: the health benchmark's driver (test/bench/health.sh runs it).

Measures, on a throwaway preloaded PostgreSQL cluster, how fast the health
worker notices a dead region and how fast route_region stops sending clients
there, against HAProxy health-checking the same HTTP endpoints with the same
interval, fall count and timeout, in the same trials:

  - detection: the endpoint's process is killed (SIGKILL) or frozen
    (SIGSTOP: the kernel still accepts connections, nothing answers) at t0;
    geoshard's detection is the first poll that sees region_health.state =
    'open', HAProxy's the first `show stat` that says DOWN;
  - failover: the first poll at which route_region(lat, lon) at the victim's
    own coordinates answers another region;
  - the bound: interval x failures + timeout; the goal is p99 <= bound + 10%
    and geoshard's median <= 1.0x HAProxy's;
  - the worker's CPU time while it probes 256 regions every interval.

Polls run every --poll-ms (5 ms) in one loop, geoshard and HAProxy
alternately, so both are read with the same resolution.  Prints Markdown.
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Psql:
    """One long-lived psql session: queries without a connection per poll."""

    def __init__(self, pgbin, host, port, db):
        self.proc = subprocess.Popen(
            [os.path.join(pgbin, "psql"), "-X", "-q", "-A", "-t", "-h", host, "-p", str(port), "-d", db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)

    def query(self, sql):
        self.proc.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo __done__\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if line == "":
                raise RuntimeError("psql ended while running: " + sql)
            line = line.rstrip("\n")
            if line == "__done__":
                break
            if line.startswith(("ERROR:", "psql:")):
                raise RuntimeError(line + " (in: " + sql + ")")
            lines.append(line)
        return lines

    def value(self, sql):
        rows = self.query(sql)
        return rows[0] if rows else None

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class Endpoint:
    """A small HTTP server on a loopback port: GET / answers 200."""

    def __init__(self, name, port, workdir, lat, lon):
        self.name, self.port, self.lat, self.lon = name, port, lat, lon
        self.dir = os.path.join(workdir, "www-" + name)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "index.html"), "w") as f:
            f.write("ok\n")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1",
             "--directory", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("endpoint %s did not start" % self.name)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def freeze(self):
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()


class Haproxy:
    def __init__(self, workdir, endpoints, interval_ms, fall, rise, timeout_ms, listen_port):
        self.sock = os.path.join(workdir, "haproxy.sock")
        cfg = os.path.join(workdir, "haproxy.cfg")
        servers = "\n".join(
            "    server %s 127.0.0.1:%d check" % (e.name, e.port) for e in endpoints)
        with open(cfg, "w") as f:
            f.write("""global
    stats socket %(sock)s mode 600 level admin
defaults
    mode http
    timeout connect %(timeout)dms
    timeout check %(timeout)dms
    timeout client 5s
    timeout server 5s
listen regions
    bind 127.0.0.1:%(port)d
    option httpchk GET /
    default-server inter %(interval)dms fastinter %(interval)dms downinter %(interval)dms fall %(fall)d rise %(rise)d
%(servers)s
""" % {"sock": self.sock, "timeout": timeout_ms, "port": listen_port, "interval": interval_ms,
       "fall": fall, "rise": rise, "servers": servers})
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", cfg],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("haproxy did not start")
            time.sleep(0.02)

    def status(self):
        """server name -> UP / DOWN / ... from the stats socket"""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        s.sendall(b"show stat\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        name_i, status_i = header.index("svname"), header.index("status")
        out = {}
        for line in lines[1:]:
            fields = line.split(",")
            if len(fields) > status_i and fields[name_i] not in ("FRONTEND", "BACKEND"):
                out[fields[name_i]] = fields[status_i].split(" ")[0]
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def percentile(values, p):
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def wait_healthy(db, haproxy, endpoints, limit_s):
    names = ",".join("'%s'" % e.name for e in endpoints)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        closed = db.value("SELECT count(*) FROM geoshard.region_health WHERE region IN (%s) "
                          "AND state = 'closed' AND last_error IS NULL" % names)
        up = haproxy.status()
        if int(closed) == len(endpoints) and all(up.get(e.name) == "UP" for e in endpoints):
            return
        time.sleep(0.05)
    raise RuntimeError("regions did not all become healthy within %d s" % limit_s)


def trial(db, haproxy, victim, mode, poll_s, limit_s):
    t0 = time.monotonic()
    if mode == "killed":
        victim.kill()
    else:
        victim.freeze()
    det_g = det_h = fail_g = None
    while time.monotonic() - t0 < limit_s and None in (det_g, det_h, fail_g):
        if det_g is None and db.value(
                "SELECT state FROM geoshard.region_health WHERE region = '%s'" % victim.name) == "open":
            det_g = time.monotonic() - t0
        if fail_g is None and db.value(
                "SELECT route_region(%f, %f)" % (victim.lat, victim.lon)) != victim.name:
            fail_g = time.monotonic() - t0
        if det_h is None and haproxy.status().get(victim.name) == "DOWN":
            det_h = time.monotonic() - t0
        time.sleep(poll_s)
    if mode == "killed":
        victim.start()
    else:
        victim.thaw()
    if None in (det_g, det_h, fail_g):
        raise RuntimeError("a trial saw no detection within %d s (%s, %s)" % (limit_s, victim.name, mode))
    return det_g * 1000, fail_g * 1000, det_h * 1000


def worker_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pgbin", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", default="bench")
    ap.add_argument("--work", required=True)
    ap.add_argument("--ports", required=True, help="comma-separated free ports: endpoints, then haproxy")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--interval-ms", type=int, default=500)
    ap.add_argument("--timeout-ms", type=int, default=250)
    ap.add_argument("--failures", type=int, default=3)
    ap.add_argument("--successes", type=int, default=2)
    ap.add_argument("--poll-ms", type=int, default=5)
    ap.add_argument("--cpu-regions", type=int, default=256)
    ap.add_argument("--cpu-seconds", type=int, default=20)
    args = ap.parse_args()

    ports = [int(p) for p in args.ports.split(",")]
    coords = [(47.6, -122.3), (50.1, 8.7), (1.35, 103.8), (-33.9, 151.2)]
    endpoints = [Endpoint("region%d" % i, ports[i], args.work, *coords[i]) for i in range(len(coords))]
    for e in endpoints:
        e.start()
    haproxy = Haproxy(args.work, endpoints, args.interval_ms, args.failures, args.successes,
                      args.timeout_ms, ports[len(coords)])
    db = Psql(args.pgbin, args.host, args.port, args.db)
    results = {}
    try:
        for e in endpoints:
            db.query("SELECT geoshard.add_region('%s', %f, %f, endpoint => 'http://127.0.0.1:%d/')"
                     % (e.name, e.lat, e.lon, e.port))
        bound = args.interval_ms * args.failures + args.timeout_ms
        for mode in ("killed", "frozen"):
            rows = []
            for i in range(args.trials):
                wait_healthy(db, haproxy, endpoints, 120)
                victim = endpoints[i % len(endpoints)]
                rows.append(trial(db, haproxy, victim, mode, args.poll_ms / 1000.0, 15))
                log("%s trial %d (%s): geoshard detection %.0f ms, failover %.0f ms; haproxy %.0f ms"
                    % (mode, i + 1, victim.name, *rows[-1]))
            results[mode] = rows

        # CPU: the worker probing --cpu-regions regions (spread over the endpoints)
        wait_healthy(db, haproxy, endpoints, 120)
        for i in range(args.cpu_regions - len(endpoints)):
            e = endpoints[i % len(endpoints)]
            db.query("SELECT geoshard.add_region('extra%d', %f, %f, endpoint => 'http://127.0.0.1:%d/')"
                     % (i, e.lat, e.lon, e.port))
        pid = int(db.value("SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard health'"))
        time.sleep(2 * args.interval_ms / 1000.0)
        probed0 = int(db.value("SELECT count(*) FROM geoshard.region_health WHERE last_probe IS NOT NULL"))
        c0, w0 = worker_cpu_seconds(pid), time.monotonic()
        time.sleep(args.cpu_seconds)
        c1, w1 = worker_cpu_seconds(pid), time.monotonic()
        probed = int(db.value("SELECT count(*) FROM geoshard.region_health "
                              "WHERE last_probe > now() - interval '%d ms'" % (2 * args.interval_ms)))
        cpu_share = (c1 - c0) / (w1 - w0)
    finally:
        db.close()
        haproxy.stop()
        for e in endpoints:
            e.stop()

    print("## Health: detection and failover (`make bench-health`)\n")
    print("interval %d ms, timeout %d ms, failures %d (HAProxy: inter %d ms, timeout check/connect %d ms, "
          "fall %d, rise %d); %d trials per failure mode, victims rotating over %d regions; polls every %d ms; "
          "bound = interval x failures + timeout = %d ms\n"
          % (args.interval_ms, args.timeout_ms, args.failures, args.interval_ms, args.timeout_ms,
             args.failures, args.successes, args.trials, len(endpoints), args.poll_ms, bound))
    print("| failure | measure | median ms | p99 ms | max ms | p99 within bound + 10%? |")
    print("|---|---|---|---|---|---|")
    summary = []
    for mode, rows in results.items():
        for col, label in ((0, "geoshard detection (breaker open)"), (1, "geoshard failover (route_region moves)"),
                           (2, "HAProxy detection (DOWN)")):
            vals = [r[col] for r in rows]
            p99 = percentile(vals, 99)
            print("| %s | %s | %.0f | %.0f | %.0f | %s |" % (
                mode, label, statistics.median(vals), p99, max(vals),
                "yes" if p99 <= bound * 1.1 else "**no**"))
        ratio = statistics.median(r[0] for r in rows) / statistics.median(r[2] for r in rows)
        summary.append((mode, ratio))
    print()
    print("| failure | geoshard median detection / HAProxy median | goal <= 1.0x |")
    print("|---|---|---|")
    for mode, ratio in summary:
        print("| %s | %.2fx | %s |" % (mode, ratio, "met" if ratio <= 1.0 else "**not met**"))
    print()
    print("Worker CPU while probing %d regions every %d ms: %.1f%% of one core over %d s "
          "(%d of them probed in the last two intervals at the end; %d before)."
          % (args.cpu_regions, args.interval_ms, 100 * cpu_share, args.cpu_seconds, probed, probed0))


if __name__ == "__main__":
    main()
