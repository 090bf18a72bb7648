#!/usr/bin/env python3
# test/bench/raft.py: the raft benchmark, run by test/bench/raft.sh (which sets
# PGBIN and WORK, and runs it as the user the servers run as).
#
# Three systems on this machine, side by side in one run:
#   - geoshard: a raft group of three PostgreSQL nodes on loopback (fsync and
#     synchronous_commit on, heartbeat 30 ms, election timeout 150 ms: the
#     defaults), proposals with geoshard.raft_set_setting on the leader;
#   - single: one PostgreSQL server, same configuration but in no group, an
#     equivalent upsert (INSERT ... ON CONFLICT DO UPDATE) committed
#     synchronously;
#   - etcd: a three-member etcd 3.4 cluster on loopback (Debian etcd-server,
#     which fsyncs its WAL), heartbeat 30 ms, election timeout 150 ms and
#     pre-vote, like geoshard's; puts with python3-etcd3 to the leader.
# Every client is Python, one call at a time, timed with perf_counter around
# the call (psycopg2 for PostgreSQL, etcd3's gRPC client for etcd).
#
# 1. Commit latency: BENCH_RAFT_OPS calls per system, in 10 rounds whose order
#    rotates, so that drift of this noisy machine spreads over all of them.
#    geoshard is timed twice: called on the leader, and on a follower, which
#    forwards the call to the leader and returns once it applied the entry.
#    And the floor any majority commit has on this machine, whose three nodes
#    share one disk: the single node's upsert sent to all three nodes at once
#    (a plain table on each, committed synchronously), timed until two of
#    them returned.  And the floor of the transport the issue prescribes,
#    with no Raft: the client calls a procedure on node 1 that sends the
#    upsert to nodes 2 and 3 over libpq (dblink, on loopback TCP like the
#    raft workers), commits its own copy synchronously, and returns once
#    node 2 has answered (dblink cannot wait for either of two, so node 3's
#    answer is read at the start of the next call).
# 2. Failover, BENCH_RAFT_TRIALS trials per system, alternating: with the
#    group settled, the leader is stopped (PostgreSQL: SIGQUIT to the
#    postmaster, i.e. pg_ctl -m immediate; etcd: SIGKILL, since its SIGTERM
#    hands the leadership over first); the time runs from the signal to the
#    first write the new leader accepts.  geoshard: a client per survivor,
#    connected in advance, proposes in a loop (a follower that knows no
#    leader refuses at once, 55000; one that still forwards to the stopped
#    leader fails, 08001, or 08006 when the leader stopped during the
#    forwarded call; geoshard.raft_propose_timeout_ms = 100, 57014).  etcd: a client per
#    survivor polls its Status (100 ms deadline) until the survivor leads in
#    a later term, then puts there.  The stopped member is restarted and the
#    group settles before the next trial.
# 3. Throughput: pgbench for BENCH_RAFT_SECONDS with 1, 16 and 64 clients,
#    each client proposing its own key on the leader (and, for reference,
#    upserting its own row on the single server).  A proposer that finds all
#    of the node's proposal slots taken waits for one; should it still be
#    refused (53400, the slots stayed taken for the proposal timeout), it is
#    retried after 1 ms inside the transaction and the retries are counted.
import os
import re
import select
import signal
import subprocess
import threading
import time

import etcd3
import psycopg2
import psycopg2.extensions
import psycopg2.extras

PGBIN = os.environ["PGBIN"]
WORK = os.environ["WORK"]
OPS = int(os.environ.get("BENCH_RAFT_OPS", "2000"))
TRIALS = int(os.environ.get("BENCH_RAFT_TRIALS", "50"))
SECONDS = int(os.environ.get("BENCH_RAFT_SECONDS", "10"))
PGPORT = int(os.environ.get("BENCH_RAFT_PGPORT", "55530"))
ETCDPORT = int(os.environ.get("BENCH_RAFT_ETCDPORT", "23790"))
ETCD = os.environ.get("BENCH_RAFT_ETCD", "/usr/bin/etcd")
HEARTBEAT_MS = int(os.environ.get("BENCH_RAFT_HEARTBEAT_MS", "30"))
ELECTION_MS = int(os.environ.get("BENCH_RAFT_ELECTION_MS", "150"))
CLIENTS = [1, 16, 64]


def run(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw).stdout


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def ms(seconds):
    return "%.2f ms" % (seconds * 1000.0)


class Pg:
    """One PostgreSQL server in WORK, on loopback and a Unix socket."""

    def __init__(self, name, port, node_id):
        self.name, self.port, self.node_id = name, port, node_id
        self.data = os.path.join(WORK, name)
        self.conninfo = "host=127.0.0.1 port=%d dbname=postgres user=geoshard_raft" % port

    def init(self):
        run(os.path.join(PGBIN, "initdb"), "-D", self.data, "-A", "trust", "--no-sync")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("port = %d\nunix_socket_directories = '%s'\nlisten_addresses = '127.0.0.1'\n"
                    "shared_preload_libraries = 'geoshard'\ngeoshard.node_id = %d\n"
                    "geoshard.database = 'postgres'\ngeoshard.health_enabled = off\n"
                    "geoshard.raft_heartbeat_ms = %d\ngeoshard.raft_election_timeout_ms = %d\n"
                    "fsync = on\nsynchronous_commit = on\njit = off\nmax_connections = 120\n"
                    % (self.port, WORK, self.node_id, HEARTBEAT_MS, ELECTION_MS))

    def start(self):
        # after an immediate stop the old postmaster may still be exiting
        deadline = time.time() + 60
        while os.path.exists(os.path.join(self.data, "postmaster.pid")):
            if time.time() > deadline:
                raise RuntimeError("%s: postmaster.pid stays" % self.name)
            time.sleep(0.02)
        run(os.path.join(PGBIN, "pg_ctl"), "-D", self.data, "-l", os.path.join(WORK, self.name + ".log"),
            "-w", "start")

    def pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def stop(self):
        subprocess.run([os.path.join(PGBIN, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def connect(self):
        c = psycopg2.connect(host=WORK, port=self.port, dbname="postgres")
        c.autocommit = True
        return c

    def query(self, sql, args=None):
        c = self.connect()
        try:
            cur = c.cursor()
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None
        finally:
            c.close()

    def try_query(self, sql):
        try:
            return self.query(sql)
        except psycopg2.Error:
            return None


class Etcd:
    """One member of a three-member etcd cluster on loopback."""

    def __init__(self, i):
        self.name = "e%d" % i
        self.client_port = ETCDPORT + i
        self.peer_port = ETCDPORT + 10 + i
        self.data = os.path.join(WORK, "etcd-" + self.name)
        self.proc = None

    def start(self, members):
        cluster = ",".join("%s=http://127.0.0.1:%d" % (m.name, m.peer_port) for m in members)
        log = open(os.path.join(WORK, self.name + ".log"), "a")
        self.proc = subprocess.Popen(
            [ETCD, "--name", self.name, "--data-dir", self.data,
             "--listen-client-urls", "http://127.0.0.1:%d" % self.client_port,
             "--advertise-client-urls", "http://127.0.0.1:%d" % self.client_port,
             "--listen-peer-urls", "http://127.0.0.1:%d" % self.peer_port,
             "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.peer_port,
             "--initial-cluster", cluster, "--initial-cluster-state", "new",
             "--initial-cluster-token", "geoshard-bench",
             "--heartbeat-interval", str(HEARTBEAT_MS), "--election-timeout", str(ELECTION_MS),
             "--pre-vote", "--logger", "zap", "--log-level", "warn", "--log-outputs", "stderr"],
            stdout=log, stderr=log)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def client(self, timeout=None):
        return etcd3.client(host="127.0.0.1", port=self.client_port, timeout=timeout)


nodes = [Pg("raft%d" % i, PGPORT + i, i) for i in (1, 2, 3)]
single = Pg("single", PGPORT + 9, 9)
etcds = [Etcd(i) for i in (1, 2, 3)]


def raft_status(n):
    r = n.try_query("SELECT role, leader, term, applied_index = commit_index AND commit_index = last_index"
                    " FROM geoshard.raft_status")
    return r[0] if r else None


def raft_leader(members, timeout=60):
    """The node every member agrees leads, once all have applied their whole log."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = [raft_status(n) for n in members]
        if all(s is not None and s[1] is not None and s[3] for s in st):
            leaders = {s[1] for s in st}
            if len(leaders) == 1:
                leader = leaders.pop()
                lead = [n for n in members if n.node_id == leader]
                if lead and raft_status(lead[0])[0] == "leader":
                    return lead[0]
        time.sleep(0.02)
    raise RuntimeError("the raft group settles on no leader")


def etcd_status(client, timeout):
    """(leader id, term, own member id) of the member a client talks to, or None.
    The raw Status call: etcd3's status() also lists the members, which needs
    more than the member itself."""
    try:
        r = client.maintenancestub.Status(etcd3.etcdrpc.StatusRequest(), timeout)
        return r.leader, r.raftTerm, r.header.member_id
    except Exception:
        return None


def etcd_leader(timeout=60):
    """The member every member agrees leads, and its term."""
    clients = [m.client() for m in etcds]
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            st = [etcd_status(c, 0.5) for c in clients]
            if all(s is not None and s[0] != 0 for s in st) and len({s[0] for s in st}) == 1:
                lead = [m for m, s in zip(etcds, st) if s[2] == s[0]]
                if lead:
                    return lead[0], st[0][1]
            time.sleep(0.02)
    finally:
        for c in clients:
            c.close()
    raise RuntimeError("the etcd cluster settles on no leader")


def setup():
    for n in nodes + [single]:
        n.init()
        n.start()
        n.query("CREATE EXTENSION geoshard; CREATE ROLE geoshard_raft LOGIN;"
                " GRANT USAGE ON SCHEMA geoshard TO geoshard_raft;"
                " GRANT EXECUTE ON FUNCTION geoshard.raft_receive(bytea) TO geoshard_raft;"
                " DO $$ BEGIN IF to_regprocedure('geoshard.raft_forward(bytea)') IS NOT NULL THEN"
                " GRANT EXECUTE ON FUNCTION geoshard.raft_forward(bytea) TO geoshard_raft; END IF;"
                " IF to_regprocedure('geoshard.raft_exchange(bytea)') IS NOT NULL THEN"
                " GRANT EXECUTE ON FUNCTION geoshard.raft_exchange(bytea) TO geoshard_raft; END IF; END $$")
    cluster_id = nodes[0].query("SELECT geoshard.raft_bootstrap('n1', %s)", (nodes[0].conninfo,))[0][0]
    raft_leader(nodes[:1])
    for n in nodes[1:]:
        n.query("SELECT geoshard.raft_join(%s)", (cluster_id,))
        nodes[0].query("SELECT geoshard.raft_add_node(%s, %s, %s)", (n.node_id, n.name, n.conninfo))
    raft_leader(nodes)
    for n in nodes + [single]:
        n.query("CREATE TABLE bench_kv (key text PRIMARY KEY, value text NOT NULL, raft_index bigint NOT NULL DEFAULT 0)")
        n.query("CREATE SEQUENCE bench_retries")
        n.query("""CREATE FUNCTION bench_propose(k text) RETURNS bigint LANGUAGE plpgsql AS $$
            BEGIN
                LOOP
                    BEGIN
                        RETURN geoshard.raft_set_setting(k, clock_timestamp()::text);
                    EXCEPTION WHEN configuration_limit_exceeded THEN
                        PERFORM nextval('bench_retries');
                        PERFORM pg_sleep(0.001);
                    END;
                END LOOP;
            END $$""")
    # the transport's floor (see latency()): node 1 relays over libpq, as the raft workers talk
    nodes[0].query("CREATE EXTENSION dblink")
    nodes[0].query("""CREATE PROCEDURE bench_relay(k text, v text) LANGUAGE plpgsql AS $$
        DECLARE
            upsert CONSTANT text := format('INSERT INTO bench_kv (key, value) VALUES (%L, %L)'
                                           ' ON CONFLICT (key) DO UPDATE SET value = excluded.value', k, v);
        BEGIN
            -- the previous call's answer from the far node, then the end of its results
            PERFORM * FROM dblink_get_result('far') AS r(status text);
            PERFORM * FROM dblink_get_result('far') AS r(status text);
            PERFORM dblink_send_query('near', upsert);
            PERFORM dblink_send_query('far', upsert);
            INSERT INTO bench_kv (key, value) VALUES (k, v) ON CONFLICT (key) DO UPDATE SET value = excluded.value;
            COMMIT;
            PERFORM * FROM dblink_get_result('near') AS r(status text);
            PERFORM * FROM dblink_get_result('near') AS r(status text);
        END $$""")
    for m in etcds:
        m.start(etcds)
    etcd_leader()


def latency():
    lead = raft_leader(nodes)
    follower = [n for n in nodes if n is not lead][0]
    conns = {"geoshard": lead.connect(), "follower": follower.connect(), "single": single.connect()}
    etcd_lead, _ = etcd_leader()
    etcd_client = etcd_lead.client(5)
    upsert = "INSERT INTO bench_kv (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    propose = "SELECT geoshard.raft_set_setting(%s, %s)"
    relay = nodes[0].connect()
    for name, n in (("near", nodes[1]), ("far", nodes[2])):
        relay.cursor().execute("SELECT dblink_connect(%s, %s)", (name, "host=127.0.0.1 port=%d dbname=postgres" % n.port))
    conns["relay"] = relay
    majority = []
    for n in nodes:
        c = psycopg2.connect(host=WORK, port=n.port, dbname="postgres", async_=1)
        psycopg2.extras.wait_select(c)
        majority.append(c)

    def two_of_three(args):
        t = time.perf_counter()
        cursors = [c.cursor() for c in majority]    # alive until answered
        for cur in cursors:
            cur.execute(upsert, args)
        pending = {c.fileno(): c for c in majority}
        writing = set()
        done = None
        while pending:
            ready, writable, _ = select.select([fd for fd in pending if fd not in writing], list(writing), [], 60)
            if not ready and not writable:
                raise RuntimeError("no answer to the floor's upsert within 60 s")
            for fd in ready + writable:
                state = pending[fd].poll()
                writing.discard(fd)
                if state == psycopg2.extensions.POLL_OK:
                    del pending[fd]
                    if len(pending) == 1:
                        done = time.perf_counter() - t
                elif state == psycopg2.extensions.POLL_WRITE:
                    writing.add(fd)
        assert done is not None
        return done

    def one(system, i):
        args = ("bench.lat%d" % (i % 64), str(i))
        if system == "etcd":
            t = time.perf_counter()
            etcd_client.put("bench/lat%d" % (i % 64), str(i))
            return time.perf_counter() - t
        if system == "majority":
            return two_of_three(args)
        cur = conns[system].cursor()
        sql = {"geoshard": propose, "follower": propose, "relay": "CALL bench_relay(%s, %s)"}.get(system, upsert)
        t = time.perf_counter()
        cur.execute(sql, args)
        cur.fetchall() if cur.description else None
        return time.perf_counter() - t

    systems = ["geoshard", "follower", "single", "majority", "relay", "etcd"]
    samples = {s: [] for s in systems}
    per_round = max(1, OPS // 10)
    for s in systems:             # warm-up
        for i in range(20):
            one(s, i)
    for r in range(10):
        order = systems[r % len(systems):] + systems[:r % len(systems)]
        for s in order:
            for i in range(per_round):
                samples[s].append(one(s, i))
    for c in list(conns.values()) + majority:
        c.close()
    etcd_client.close()
    return samples


def first_write(workers):
    """Run one thread per worker; the time the first one succeeds."""
    done = threading.Event()
    result = {}

    def loop(w):
        while not done.is_set():
            t = w()
            if t is not None:
                result.setdefault("t", t)
                done.set()

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for th in threads:
        th.start()
    done.wait(30)
    done.set()
    for th in threads:
        th.join()
    return result.get("t")


def raft_failover(trial):
    lead = raft_leader(nodes)
    survivors = [n for n in nodes if n is not lead]
    conns = []
    for n in survivors:
        c = n.connect()
        c.cursor().execute("SET geoshard.raft_propose_timeout_ms = 100")
        conns.append(c)

    def worker(c):
        def attempt():
            try:
                c.cursor().execute("SELECT geoshard.raft_set_setting('bench.failover', %s)", (str(trial),))
                return time.perf_counter()
            except psycopg2.Error as e:
                if e.pgcode not in ("55000", "57014", "08001", "08006"):
                    raise
                time.sleep(0.001)
                return None
        return attempt

    pid = lead.pid()
    t0 = time.perf_counter()
    os.kill(pid, signal.SIGQUIT)
    t1 = first_write([worker(c) for c in conns])
    for c in conns:
        c.close()
    lead.start()
    raft_leader(nodes)
    return None if t1 is None else t1 - t0


def etcd_failover(trial):
    lead, term = etcd_leader()
    survivors = [m for m in etcds if m is not lead]

    def worker(m):
        poll = m.client()
        put = m.client(1)

        def attempt():
            s = etcd_status(poll, 0.1)
            if s is None or s[0] != s[2] or s[1] <= term:
                time.sleep(0.001)
                return None
            try:
                put.put("bench/failover", str(trial))
                return time.perf_counter()
            except Exception:
                return None
        return attempt

    workers = [worker(m) for m in survivors]
    t0 = time.perf_counter()
    lead.kill()
    t1 = first_write(workers)
    lead.start(etcds)
    etcd_leader()
    return None if t1 is None else t1 - t0


def pgbench(server, script, clients):
    path = os.path.join(WORK, "bench-%s.sql" % server.name)
    with open(path, "w") as f:
        f.write(script + "\n")
    out = run(os.path.join(PGBIN, "pgbench"), "-n", "-h", WORK, "-p", str(server.port), "-c", str(clients),
              "-j", str(min(clients, 4)), "-T", str(SECONDS), "-f", path, "postgres")
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
    lat = float(re.search(r"latency average = ([0-9.]+) ms", out).group(1))
    failed = re.search(r"number of failed transactions: ([0-9]+)", out)
    return tps, lat, int(failed.group(1)) if failed else 0


def retries(server):
    return int(server.query("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bench_retries")[0][0])


def main():
    load0 = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    setup()
    pgversion = single.query("SHOW server_version")[0][0]
    etcdversion = run(ETCD, "--version").splitlines()[0]

    samples = latency()
    load1 = os.getloadavg()

    fo = {"geoshard": [], "etcd": []}
    lost = {"geoshard": 0, "etcd": 0}
    for t in range(TRIALS):
        for system in ("geoshard", "etcd") if t % 2 == 0 else ("etcd", "geoshard"):
            d = raft_failover(t) if system == "geoshard" else etcd_failover(t)
            if d is None:
                lost[system] += 1
            else:
                fo[system].append(d)
    load2 = os.getloadavg()

    tput = []
    for c in CLIENTS:
        lead = raft_leader(nodes)
        r0 = retries(lead)
        g = pgbench(lead, "SELECT bench_propose('bench.t' || :client_id);", c)
        r = retries(lead) - r0
        s = pgbench(single, "INSERT INTO bench_kv (key, value) VALUES ('bench.t' || :client_id, 'v')"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value;", c)
        tput.append((c, g, r, s))
    load3 = os.getloadavg()

    print("### Raft run of %s" % started)
    print()
    print("%d cores; PostgreSQL %s, %s, libraft %s; load average (1 min) %.2f at the start, %.2f after"
          " the latency runs, %.2f after the failovers, %.2f at the end."
          % (os.cpu_count(), pgversion, etcdversion,
             run("dpkg-query", "-W", "-f=${Version}", "libraft-dev").strip() or "?",
             load0[0], load1[0], load2[0], load3[0]))
    print()
    print("Commit latency, one call at a time (%d per system, in 10 rotating rounds):" % (len(samples["geoshard"])))
    print()
    print("| system | p50 | p99 | mean |")
    print("|---|---|---|---|")
    for s, label in (("geoshard", "geoshard raft_set_setting, 3 nodes"),
                     ("follower", "the same, called on a follower (forwarded)"),
                     ("single", "single-node synchronous upsert"),
                     ("majority", "that upsert on all 3 nodes at once, until 2 returned (the disk's floor)"),
                     ("relay", "that upsert relayed by a node to the 2 others over libpq, until it and 1 are done"
                      " (the transport's floor)"),
                     ("etcd", "etcd put, 3 members")):
        v = samples[s]
        print("| %s | %s | %s | %s |" % (label, ms(percentile(v, 50)), ms(percentile(v, 99)), ms(sum(v) / len(v))))
    g50, s50, m50, r50, e50 = (percentile(samples[s], 50) for s in ("geoshard", "single", "majority", "relay", "etcd"))
    print()
    print("p50 ratios: geoshard / single %.2f (goal <= 3: %s); geoshard / etcd %.2f (goal <= 1: %s);"
          " the disk's floor for a majority / single %.2f; the transport's floor / single %.2f;"
          " geoshard / the transport's floor %.2f."
          % (g50 / s50, "met" if g50 <= 3 * s50 else "not met", g50 / e50, "met" if g50 <= e50 else "not met",
             m50 / s50, r50 / s50, g50 / r50))
    print()
    print("Leader stopped -> first write accepted by the new leader (%d trials each, alternating):" % TRIALS)
    print()
    print("| system | median | p99 | max | no new leader within 30 s |")
    print("|---|---|---|---|---|")
    for s, label in (("geoshard", "geoshard (SIGQUIT = pg_ctl -m immediate)"), ("etcd", "etcd (SIGKILL)")):
        v = fo[s]
        if v:
            print("| %s | %s | %s | %s | %d |" % (label, ms(percentile(v, 50)), ms(percentile(v, 99)), ms(max(v)), lost[s]))
        else:
            print("| %s | - | - | - | %d |" % (label, lost[s]))
    if fo["geoshard"]:
        m, p = percentile(fo["geoshard"], 50), percentile(fo["geoshard"], 99)
        print()
        print("geoshard goals: median <= 300 ms %s, p99 <= 1 s %s." % ("met" if m <= 0.3 else "not met",
                                                                       "met" if p <= 1.0 else "not met"))
    print()
    print("Throughput, %d s per run, each client its own key (pgbench):" % SECONDS)
    print()
    print("| proposers | geoshard proposals/s | mean latency | slot-full retries | single upserts/s | mean latency |")
    print("|---|---|---|---|---|---|")
    for c, g, r, s in tput:
        print("| %d | %.0f | %.2f ms | %d | %.0f | %.2f ms |" % (c, g[0], g[1], r, s[0], s[1]))


try:
    main()
finally:
    for m in etcds:
        m.kill()
    for n in nodes + [single]:
        n.stop()
