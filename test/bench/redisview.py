#!/usr/bin/env python3
# test/bench/redisview.py: the Redis views benchmark, run by
# test/bench/redisview.sh (which sets PGBIN, WORK and SRC).
#
# 1. Reads: BENCH_RV_PINS pins spread uniformly over a 50 km x 50 km square
#    around Seattle, a geo view of them (shard_level 12), and a 500 m radius
#    read from random centres in the square:
#      - Redis: the GEOSEARCH ... WITHCOORD WITHDIST commands that
#        geoshard.redis_view_search names for the centre (computed in advance
#        for 5000 centres), sent in one pipeline; the read's latency is from
#        sending to the last reply, measured in the client (Python);
#      - PostgreSQL: the exact radius query of docs/geo.md (quadkey_dwithin +
#        haversine, returning id, lat, lon) with the covering GiST index, run
#        by pgbench -M prepared with per-transaction latency logs.
#    Each for BENCH_RV_SECONDS with 1 reader, then with 16.
# 2. Freshness: pgbench inserts single-row transactions at BENCH_RV_RATE rows/s
#    into a table with a presence view; a Redis client subscribed to
#    keyspace events stamps each key's SET when it arrives; the delay is that
#    stamp minus the row's clock_timestamp() at insert (same clock, just
#    before the commit).
import glob
import multiprocessing
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdc_publish import Redis, percentile  # noqa: E402  (the RESP client of the cdc benchmark)

PGBIN = os.environ["PGBIN"]
WORK = os.environ["WORK"]
PINS = int(os.environ.get("BENCH_RV_PINS", "1000000"))
RADIUS = float(os.environ.get("BENCH_RV_RADIUS", "500"))
SECONDS = int(os.environ.get("BENCH_RV_SECONDS", "10"))
RATE = int(os.environ.get("BENCH_RV_RATE", "5000"))
FRESH_SECONDS = int(os.environ.get("BENCH_RV_FRESH_SECONDS", "20"))
ONLY = os.environ.get("BENCH_RV_ONLY", "")          # freshness: skip the read tests
RETURN = os.environ.get("BENCH_RV_RETURN", "coords")    # coords: id, lat, lon (and distance); ids: the ids alone
PGPORT = int(os.environ.get("BENCH_RV_PGPORT", "55492"))
REDISPORT = int(os.environ.get("BENCH_RV_REDISPORT", "56492"))
LAT0, LON0, SPAN_LAT, SPAN_LON = 47.40, -122.55, 0.45, 0.66   # about 50 km x 50 km


def run(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw).stdout


def psql(sql):
    return run(os.path.join(PGBIN, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
               "-h", WORK, "-p", str(PGPORT), "-d", "postgres", "-c", sql).strip()


def wait_for(sql, timeout=1800):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if psql(sql) == "t":
            return
        time.sleep(0.2)
    raise RuntimeError("timed out waiting for: " + sql)


def setup():
    psql("CREATE EXTENSION geoshard")
    psql("CREATE TABLE pins (id bigint PRIMARY KEY, lat float8 NOT NULL, lon float8 NOT NULL,"
         " qk quadkey GENERATED ALWAYS AS (quadkey(lat, lon, 23)) STORED)")
    psql("INSERT INTO pins SELECT g, %f + random() * %f, %f + random() * %f FROM generate_series(1, %d) g"
         % (LAT0, SPAN_LAT, LON0, SPAN_LON, PINS))
    psql("CREATE INDEX pins_qk_covering ON pins USING gist (qk) INCLUDE (lat, lon, id)")
    psql("VACUUM ANALYZE pins")
    start = time.time()
    psql("SELECT geoshard.add_redis_view('pins', 'pins', 'geo', '{\"shard_level\": 12}')")
    wait_for("SELECT state = 'streaming' AND generation IS NOT NULL FROM geoshard.redisview_status WHERE view = 'pins'")
    return time.time() - start


def centres(n):
    rows = psql("SELECT c.i, string_agg(s.command, '|') FROM"
                " (SELECT i, %f + random() * %f AS lat, %f + random() * %f AS lon FROM generate_series(1, %d) i) c,"
                " LATERAL geoshard.redis_view_search('pins', c.lat, c.lon, %f) s GROUP BY c.i ORDER BY c.i"
                % (LAT0 + 0.05, SPAN_LAT - 0.1, LON0 + 0.07, SPAN_LON - 0.14, n, RADIUS))
    cmds = [line.split("|", 1)[1].split("|") for line in rows.splitlines()]
    if RETURN == "ids":
        cmds = [[c.replace(" WITHCOORD WITHDIST", "") for c in read] for read in cmds]
    return cmds


def redis_reader(args):
    cmds, seconds, seed = args
    rnd = random.Random(seed)
    r = Redis(REDISPORT)
    lat = []
    hits = 0
    end = time.time() + seconds
    while time.time() < end:
        read = cmds[rnd.randrange(len(cmds))]
        req = b""
        for c in read:
            parts = c.split(" ")
            req += b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p.encode()) for p in parts)
        t0 = time.perf_counter()
        r.sock.sendall(req)
        for _ in read:
            hits += len(r.read())
        lat.append((time.perf_counter() - t0) * 1000.0)
    return lat, hits


def redis_reads(cmds, clients):
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(redis_reader, [(cmds, SECONDS, i) for i in range(clients)])
    lat = [x for res in results for x in res[0]]
    hits = sum(res[1] for res in results)
    return lat, hits / max(len(lat), 1), len(lat) / SECONDS


def redis_benchmark(cmd, clients):
    """redis-benchmark (C) running one GEOSEARCH: the server's side without a Python client."""
    out = run("redis-benchmark", "-h", "127.0.0.1", "-p", str(REDISPORT), "-c", str(clients),
              "-n", str(20000 * min(clients, 4)), "--csv", *cmd.split(" "))
    line = out.strip().splitlines()[-1].replace('"', "").split(",")
    # test, rps, avg, min, p50, p95, p99, max
    return float(line[1]), float(line[4]), float(line[5]), float(line[6])


def pg_reads(clients):
    script = os.path.join(WORK, "radius.sql")
    with open(script, "w") as f:
        columns = "id" if RETURN == "ids" else "id, lat, lon"
        f.write(("\\set a random(0, 1000000)\n\\set b random(0, 1000000)\n"
                 "\\set lat %.9f + :a * %.12g\n\\set lon %.9f + :b * %.12g\n"
                 "SELECT %s FROM pins WHERE quadkey_dwithin(qk, :lat, :lon, %f)"
                 " AND haversine(lat, lon, :lat, :lon) <= %f;\n")
                % (LAT0 + 0.05, (SPAN_LAT - 0.1) / 1e6, LON0 + 0.07, (SPAN_LON - 0.14) / 1e6, columns, RADIUS, RADIUS))
    logdir = os.path.join(WORK, "pglog%d" % clients)
    os.makedirs(logdir, exist_ok=True)
    run(os.path.join(PGBIN, "pgbench"), "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
        "-T", str(SECONDS), "-l", "--log-prefix", os.path.join(logdir, "log"), "-f", script,
        "-h", WORK, "-p", str(PGPORT), "postgres")
    lat = []
    for path in glob.glob(os.path.join(logdir, "log*")):
        with open(path) as f:
            lat += [int(line.split()[2]) / 1000.0 for line in f if line.strip()]
    return lat, len(lat) / SECONDS


def worker_cpu_ms():
    """User + system CPU of the redisview worker so far, from /proc/<pid>/stat."""
    pid = psql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'geoshard redisview'").strip()
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def freshness():
    psql("CREATE TABLE fresh (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at float8 NOT NULL)")
    psql("SELECT geoshard.add_redis_view('fresh', 'fresh', 'presence', '{\"ttl_ms\": 600000, \"value\": \"at\"}')")
    wait_for("SELECT state = 'streaming' AND generation IS NOT NULL FROM geoshard.redisview_status WHERE view = 'fresh'")
    r = Redis(REDISPORT)
    r.cmd("CONFIG", "SET", "notify-keyspace-events", "E$")
    sub = Redis(REDISPORT)
    sub.cmd("SUBSCRIBE", "__keyevent@0__:set")
    script = os.path.join(WORK, "fresh.sql")
    with open(script, "w") as f:
        f.write("INSERT INTO fresh (at) VALUES (extract(epoch FROM clock_timestamp()));\n")
    cpu0 = worker_cpu_ms()
    bench = subprocess.Popen([os.path.join(PGBIN, "pgbench"), "-n", "-c", "4", "-j", "2", "-R", str(RATE),
                              "-T", str(FRESH_SECONDS), "-f", script, "-h", WORK, "-p", str(PGPORT), "postgres"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    arrived = {}
    sub.sock.settimeout(3)
    while True:
        try:
            msg = sub.read()
        except (TimeoutError, OSError):
            if bench.poll() is not None:
                break
            continue
        now = time.time()
        key = msg[2].decode()
        if key.startswith("geoshard:rv:fresh:"):
            arrived[int(key.rsplit(":", 1)[1])] = now
    out = bench.communicate()[0]
    cpu = worker_cpu_ms() - cpu0
    tps = [l for l in out.splitlines() if l.startswith("tps")]
    at = {}
    for line in psql("SELECT id, at FROM fresh").splitlines():
        i, t = line.split("|")
        at[int(i)] = float(t)
    delays = [(arrived[i] - at[i]) * 1000.0 for i in at if i in arrived]
    return delays, len(at), len(arrived), tps[0] if tps else "?", cpu


def row(name, lat, extra):
    return "| %s | %d | %.2f | %.2f | %.2f | %s |" % (name, len(lat), percentile(lat, 50), percentile(lat, 95),
                                                     percentile(lat, 99), extra)


def main():
    build_s = setup()
    print("## Redis views (make bench-redisview)\n")
    print("%d pins uniform over about 50 km x 50 km (about %.0f within %.0f m of a centre), geo view at "
          "shard_level 12, loopback redis-server (appendonly no); the view's first build took %.1f s.\n"
          % (PINS, PINS * 3.14159 * RADIUS * RADIUS / 2.5e9, RADIUS, build_s))
    cmds = centres(5000)
    keys = sum(len(c) for c in cmds) / len(cmds)
    print("Radius read of %.0f m, returning %s: Redis GEOSEARCH%s on the %.2f keys per read (mean) that "
          "redis_view_search names, pipelined, from a Python client; PostgreSQL: the exact query with the covering "
          "GiST index (docs/geo.md), pgbench -M prepared. %d s per line.\n"
          % (RADIUS, "ids alone" if RETURN == "ids" else "ids with coordinates",
             "" if RETURN == "ids" else " WITHCOORD WITHDIST", keys, SECONDS))
    print("| reader | reads | p50 ms | p95 ms | p99 ms | reads/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for clients in (() if ONLY == "freshness" else (1, 16)):
        lat, hits, rps = redis_reads(cmds, clients)
        print(row("Redis GEOSEARCH, %d client%s" % (clients, "s" if clients > 1 else ""), lat,
                  "%.0f (%.0f pins/read)" % (rps, hits)))
        sys.stdout.flush()
        lat, rps = pg_reads(clients)
        print(row("PostgreSQL radius query, %d client%s" % (clients, "s" if clients > 1 else ""), lat, "%.0f" % rps))
        sys.stdout.flush()
    one = next(c[0] for c in cmds if len(c) == 1)
    if ONLY == "freshness":
        one = None
    if one is not None:
        print("\nOne GEOSEARCH (a read whose circle lies in one key), redis-benchmark in C, %s:\n"
              % " ".join(one.split(" ")[2:]))
        print("| clients | p50 ms | p95 ms | p99 ms | reads/s |")
        print("|---:|---:|---:|---:|---:|")
        for clients in (() if one is None else (1, 16)):
            rps, p50, p95, p99 = redis_benchmark(one, clients)
            print("| %d | %.3f | %.3f | %.3f | %.0f |" % (clients, p50, p95, p99, rps))
    sys.stdout.flush()
    delays, written, seen, tps, cpu = freshness()
    print("\nFreshness: row insert (clock_timestamp(), just before commit) to its SET arriving at a keyspace-event "
          "subscriber, pgbench -R %d for %d s, single-row transactions (%s); %d rows written, %d seen.\n"
          % (RATE, FRESH_SECONDS, tps, written, seen))
    print("| rows | p50 ms | p90 ms | p99 ms | max ms | worker CPU ms | CPU per row us | load average |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    if delays:
        print("| %d | %.1f | %.1f | %.1f | %.1f | %.0f | %.1f | %s |"
              % (len(delays), percentile(delays, 50), percentile(delays, 90), percentile(delays, 99), max(delays),
                 cpu, cpu * 1000.0 / max(seen, 1), " ".join(open("/proc/loadavg").read().split()[:3])))


if __name__ == "__main__":
    main()
