#!/usr/bin/env python3
"""test/bench/health.py: the health benchmark (make bench-health).

Measures, on a throwaway cluster, how fast geoshard's health worker detects a
dead endpoint (breaker open) and how fast route_region fails over, against
the bound interval x failures + timeout, side by side with HAProxy checking
the same endpoints with the same interval, fall and timeout; then the
worker's CPU cost at 256 regions.  Prints a Markdown summary.

- K HTTP servers (python3 -m http.server) on loopback, each a region of
  geoshard and a server of one HAProxy backend (option httpchk, inter,
  fall, rise, timeout check equal to geoshard's settings).
- Each trial takes the next server round-robin (so that a server's breaker
  is not damped by its previous trial), fails it -- "killed" (SIGKILL) or
  "frozen" (SIGSTOP: connections accepted, never answered) -- and records:
    ours:    detection = the transition's `at` in geoshard.health_events
             minus the failure time; failover = the first route_region
             answer (polled every POLL_MS through one connection) that is
             not the failed region;
    HAProxy: detection = the first "show stat" (polled every POLL_MS on its
             stats socket) where the server is DOWN.
  Then the server comes back and the trial waits until both see it up.
  Each failure comes at a random phase (seed 1) within an interval.
- CPU: 256 regions, all answered by HAProxy itself (http-request return:
  keep-alive, no Python server in the way), probed every interval for
  CPU_SECONDS; utime + stime of the worker from /proc.

Runs as the user who owns the cluster directory (health.sh takes care).
Environment: PGBIN (required), WORK (required, an empty directory),
BENCH_HEALTH_TRIALS (30 per mode), BENCH_HEALTH_SERVERS (8),
BENCH_HEALTH_CPU_SECONDS (30).
"""
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time

PGBIN = os.environ["PGBIN"]
WORK = os.environ["WORK"]
TRIALS = int(os.environ.get("BENCH_HEALTH_TRIALS", "30"))
SERVERS = int(os.environ.get("BENCH_HEALTH_SERVERS", "8"))
CPU_SECONDS = int(os.environ.get("BENCH_HEALTH_CPU_SECONDS", "30"))
INTERVAL_MS, TIMEOUT_MS, FAILURES, SUCCESSES = 500, 250, 3, 2
BOUND_MS = INTERVAL_MS * FAILURES + TIMEOUT_MS
POLL_MS = 5
SOCKDIR = WORK


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PGPORT = free_port()


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


class Psql:
    """One psql session; query() sends a statement and reads one line."""

    def __init__(self):
        self.p = subprocess.Popen(
            [f"{PGBIN}/psql", "-X", "-A", "-t", "-q", "-h", SOCKDIR, "-p", str(PGPORT), "postgres"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def query(self, sql):
        """The first line of the statement's output ("" when none)."""
        self.p.stdin.write(sql.rstrip(";") + ";\n\\echo __end__\n")
        self.p.stdin.flush()
        lines = []
        while True:
            line = self.p.stdout.readline()
            if line == "":
                raise RuntimeError(f"psql ended during: {sql}")
            if line.rstrip("\n") == "__end__":
                return lines[0] if lines else ""
            lines.append(line.rstrip("\n"))

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def start_http(port):
    return subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", WORK],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_listening(port):
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"server on port {port} did not start")


def haproxy_status(sock_path):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock_path)
        s.sendall(b"show stat\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = {}
    lines = data.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    col = header.index("status")
    for line in lines[1:]:
        f = line.split(",")
        if len(f) > col and f[0] == "be" and f[1].startswith("s"):
            status[f[1]] = f[col]
    return status


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))]


def main():
    data = f"{WORK}/data"
    run(f"{PGBIN}/initdb", "-D", data, "-A", "trust", "-E", "UTF8", "--locale=C")
    with open(f"{data}/postgresql.conf", "a") as conf:
        conf.write(f"""
port = {PGPORT}
listen_addresses = ''
unix_socket_directories = '{SOCKDIR}'
shared_preload_libraries = 'geoshard'
geoshard.database = 'postgres'
geoshard.health_interval = '{INTERVAL_MS}ms'
geoshard.health_timeout = '{TIMEOUT_MS}ms'
geoshard.breaker_failures = {FAILURES}
geoshard.breaker_successes = {SUCCESSES}
geoshard.breaker_cooldown = '1s'
geoshard.health_panic_threshold = 0
""")
    run(f"{PGBIN}/pg_ctl", "-D", data, "-l", f"{WORK}/server.log", "-w", "start")
    ports = [free_port() for _ in range(SERVERS)]
    servers = [start_http(p) for p in ports]
    for p in ports:
        wait_listening(p)

    hasock = f"{WORK}/haproxy.sock"
    ok_port = free_port()
    with open(f"{WORK}/haproxy.cfg", "w") as cfg:
        cfg.write(f"""global
    stats socket {hasock} mode 600 level admin
defaults
    mode http
    timeout connect {TIMEOUT_MS}ms
    timeout check {TIMEOUT_MS}ms
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{free_port()}
    default_backend be
frontend ok
    bind 127.0.0.1:{ok_port}
    http-request return status 200 content-type text/plain string ok
backend be
    option httpchk GET /
""")
        for i, p in enumerate(ports):
            cfg.write(f"    server s{i} 127.0.0.1:{p} check inter {INTERVAL_MS} fall {FAILURES} rise {SUCCESSES}\n")
    haproxy = subprocess.Popen(["haproxy", "-f", f"{WORK}/haproxy.cfg", "-db"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    db = Psql()
    db.query("CREATE EXTENSION geoshard")
    for i, p in enumerate(ports):
        db.query(f"SELECT geoshard.add_region('r{i}', {i * 10}, {i * 10}, endpoint => 'http://127.0.0.1:{p}/')")

    def wait_all_up():
        print("geoshard health bench: waiting for every endpoint to be up", file=sys.stderr)
        deadline = time.time() + 120
        while time.time() < deadline:
            ours = db.query("SELECT count(*) FILTER (WHERE state = 'closed' AND last_probe IS NOT NULL) FROM geoshard.region_health")
            try:
                theirs = list(haproxy_status(hasock).values())
            except OSError:
                theirs = []
            if int(ours) == SERVERS and len(theirs) == SERVERS and all(s.startswith("UP") for s in theirs):
                return
            time.sleep(0.05)
        raise RuntimeError("endpoints did not all come up")

    print("geoshard health bench: endpoints up, trials start", file=sys.stderr)
    wait_all_up()
    results = {"killed": [], "frozen": []}
    rng = random.Random(1)
    trial = 0
    for mode in ("killed", "frozen"):
        for _ in range(TRIALS):
            k = trial % SERVERS
            trial += 1
            region = f"r{k}"
            # a random phase: the wait for "all up" ends just after one of
            # our rounds, which would make every trial our worst case
            time.sleep(rng.uniform(0, INTERVAL_MS / 1000.0))
            t0 = time.time()
            if mode == "killed":
                servers[k].kill()
                servers[k].wait()
            else:
                servers[k].send_signal(signal.SIGSTOP)
            failover = ha = None
            deadline = t0 + 30
            while (failover is None or ha is None) and time.time() < deadline:
                now = time.time()
                if failover is None and db.query(f"SELECT route_region({k * 10}, {k * 10})") != region:
                    failover = now - t0
                if ha is None and haproxy_status(hasock).get(f"s{k}", "").startswith("DOWN"):
                    ha = now - t0
                time.sleep(POLL_MS / 1000.0)
            detect = db.query(
                f"SELECT extract(epoch FROM at) FROM geoshard.health_events WHERE region = '{region}'"
                f" AND to_state = 'open' AND at >= to_timestamp({t0}) ORDER BY id LIMIT 1")
            if failover is None or ha is None or detect == "":
                raise RuntimeError(f"trial {trial} ({mode}) did not detect the failure")
            results[mode].append((float(detect) - t0, failover, ha))
            if mode == "killed":
                servers[k] = start_http(ports[k])
            else:
                servers[k].send_signal(signal.SIGCONT)
            wait_all_up()

    # CPU at 256 regions
    db.query("DELETE FROM geoshard.regions")
    for i in range(256):
        db.query(f"SELECT geoshard.add_region('c{i:03d}', {(i % 170) - 85}, {(i * 7) % 360 - 180},"
                 f" endpoint => 'http://127.0.0.1:{ok_port}/c{i:03d}')")
    db.query("SELECT geoshard.probe_now('c000')")
    pid = db.query("SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard health'")
    tick = os.sysconf("SC_CLK_TCK")

    def cpu():
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    c0, w0 = cpu(), time.time()
    time.sleep(CPU_SECONDS)
    c1, w1 = cpu(), time.time()
    healthy = db.query("SELECT count(*) FILTER (WHERE state = 'closed') FROM geoshard.region_health")
    cpu_pct = 100.0 * (c1 - c0) / (w1 - w0)

    db.close()
    haproxy.terminate()
    for s in servers:
        s.kill()
    run(f"{PGBIN}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop")

    print(f"### Health (`make bench-health`), {time.strftime('%Y-%m-%d')}\n")
    print(f"interval {INTERVAL_MS} ms, timeout {TIMEOUT_MS} ms, failures (HAProxy fall) {FAILURES}, "
          f"bound interval x failures + timeout = {BOUND_MS} ms; {TRIALS} trials per mode over {SERVERS} "
          f"HTTP servers; polled every {POLL_MS} ms\n")
    print("| mode | measure | median ms | p99 ms | max ms | p99 vs bound + 10% |")
    print("|---|---|---|---|---|---|")
    goals = []
    for mode, rows in results.items():
        for name, idx in (("geoshard detection", 0), ("geoshard failover (route_region)", 1), ("HAProxy detection", 2)):
            ms = [r[idx] * 1000.0 for r in rows]
            p99 = pct(ms, 99)
            ok = "met" if p99 <= BOUND_MS * 1.1 else "missed"
            print(f"| {mode} | {name} | {statistics.median(ms):.0f} | {p99:.0f} | {max(ms):.0f} | {ok} |")
        ours = statistics.median(r[1] for r in rows)
        theirs = statistics.median(r[2] for r in rows)
        goals.append(f"- {mode}: geoshard failover median / HAProxy detection median = {ours / theirs:.2f}x "
                     f"(goal <= 1.0x: {'met' if ours <= theirs else 'missed'})")
    print()
    print("\n".join(goals))
    print(f"- health worker CPU at 256 regions probed every {INTERVAL_MS} ms: {cpu_pct:.1f}% of one core "
          f"over {CPU_SECONDS} s ({healthy} of 256 closed)")


if __name__ == "__main__":
    main()
