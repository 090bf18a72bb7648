/*
 * src/raft/raft_transport.c
 *	  One non-blocking libpq connection per peer, over which the raft worker
 *	  sends its messages as calls of geoshard.raft_exchange(bytea), whose
 *	  result is the peer's answer (raft_receive.c), or of
 *	  geoshard.raft_receive(bytea) on a peer without a usable raft_exchange
 *	  (an older release, or the function not granted to our role).
 *
 * Runs in the raft worker.  Messages for a peer accumulate in its outbox (one
 * batch: an envelope, then messages) while it connects or a call is in
 * flight; the next call sends them all.  Nothing here blocks: a peer's host
 * name is looked up first (raft_lookup.c), connections start with
 * PQconnectStartParams to that address and advance with PQconnectPoll when their socket is
 * ready, calls go out with PQsendQueryParams in non-blocking mode and their
 * results come back through PQconsumeInput.  A failed connection or call is
 * closed and retried after a backoff that doubles up to RAFT_BACKOFF_MAX_MS;
 * what was queued is dropped, which Raft tolerates (it retries).
 *
 * A snapshot for a peer (RaftTransportQueueSnapshot) is kept whole and goes
 * one chunk per call, in order, with whatever else is queued: a chunk
 * advances only once the peer queued it (raft_receive returned true), and
 * the snapshot starts again from its first chunk on a new connection, which
 * tells the receiver to start over.  A peer that refuses a chunk loses the
 * snapshot; libraft sends it again after its install-snapshot timeout.
 */
#include "postgres.h"

#include <poll.h>
#include <time.h>

#include "catalog/pg_type.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "raft/raft_lookup.h"
#include "raft/raft_shmem.h"
#include "raft/raft_transport.h"

#define RAFT_BACKOFF_MIN_MS		20
#define RAFT_BACKOFF_MAX_MS		2000
#define RAFT_CONNECT_TIMEOUT_MS	2000
#define RAFT_CALL_TIMEOUT_MS	2000
/* how often a host name lookup in flight is looked at */
#define RAFT_LOOKUP_POLL_MS		5
/* a call gets RAFT_CALL_TIMEOUT_MS more per this many bytes (snapshot chunks, long batches) */
#define RAFT_CALL_TIMEOUT_BYTES	(64 * 1024)
/*
 * Each connection prepares the call once: a peer's backend then neither
 * parses nor plans it again for every batch (two batches per proposal are
 * on its commit path: entries out, acknowledgement back).
 */
#define RAFT_RECEIVE_STATEMENT	"geoshard_raft_receive"
#define RAFT_EXCHANGE_STATEMENT	"geoshard_raft_exchange"

typedef enum PeerState
{
	PEER_DOWN,					/* no connection; next_attempt says when */
	PEER_RESOLVING,				/* its host name is being looked up (raft_lookup.c) */
	PEER_CONNECTING,
	PEER_IDLE,
	PEER_BUSY					/* a raft_receive call is in flight */
} PeerState;

typedef struct Peer
{
	uint64		id;
	char	   *conninfo;
	PGconn	   *conn;
	RaftLookup *lookup;			/* RESOLVING */
	char		hostaddr[64];	/* the looked-up address to connect to; "" for libpq's own */
	PeerState	state;
	PostgresPollingStatusType poll;	/* CONNECTING: what the socket must be ready for */
	bool		flushing;		/* BUSY: the query is not all written yet */
	bool		preparing;		/* BUSY: the call is the new connection's PREPARE */
	bool		exchange;		/* the connection calls raft_exchange, not raft_receive */
	bool		refusal_logged; /* logged that the peer refuses raft_exchange */
	/* BUSY: what the call's results said so far (they may come in several reads) */
	bool		prepare_again;	/* raft_exchange refused: prepare raft_receive */
	char		prepare_error[RAFT_ERROR_BYTES];	/* the PREPARE failed */
	uint64		next_attempt;	/* ms */
	uint64		deadline;		/* ms, CONNECTING and BUSY */
	int			backoff;
	StringInfoData out;			/* envelope + messages; len 0 when empty */
	uint32		out_count;
	uint64		sent_at;
	double		last_rtt_ms;
	TimestampTz last_contact;
	char		last_error[RAFT_ERROR_BYTES];
	/* a snapshot being sent: head's conf and snap_data are ours, or NULL */
	RaftSnapshotChunk snap_head;
	char	   *snap_data;
	uint64		snap_next;		/* offset of the next chunk to send */
	uint64		snap_call_end;	/* offset after the chunk in the call, 0 if none */
	uint64		commit_sent;	/* the highest commit index queued for the peer */
	bool		keep;			/* mark for RaftTransportSync */
	bool		adhoc;			/* not in the configuration: a sender we answer */
} Peer;

static MemoryContext transport_cxt = NULL;
static Peer *peers = NULL;
static int	npeers = 0;
static pg_uuid_t cluster;
static uint64 self_id;
static char *self_address = NULL;
static RaftEntryLookup entry_lookup;
/* a peer whose messages wait to go as the answer to its call (RaftTransportHold) */
static uint64 held_peer = 0;
/* answers that came back as raft_exchange results: RaftInboxRecords */
static StringInfoData answers;
/* bumped whenever a connection opens or closes (RaftTransportWaitSockets) */
static uint64 conn_epoch = 0;

void
RaftTransportInit(const pg_uuid_t *cluster_id, uint64 self, RaftEntryLookup lookup)
{
	if (transport_cxt == NULL)
		transport_cxt = AllocSetContextCreate(TopMemoryContext, "geoshard raft transport",
											  ALLOCSET_DEFAULT_SIZES);
	cluster = *cluster_id;
	self_id = self;
	entry_lookup = lookup;
	if (peers == NULL)
		peers = MemoryContextAllocZero(transport_cxt, sizeof(Peer) * RAFT_MAX_PEERS);
	if (answers.data == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(transport_cxt);

		initStringInfo(&answers);
		MemoryContextSwitchTo(old);
	}
}

/*
 * Record a peer's error; true when it differs from the last one, so that
 * each change is logged once.  libpq's messages end with a newline.
 */
static bool
set_error(Peer *p, const char *msg)
{
	char		clean[RAFT_ERROR_BYTES];
	char	   *nl;
	bool		changed;

	strlcpy(clean, msg, RAFT_ERROR_BYTES);
	nl = strchr(clean, '\n');
	if (nl)
		*nl = '\0';
	changed = strcmp(clean, p->last_error) != 0;
	strlcpy(p->last_error, clean, RAFT_ERROR_BYTES);
	return changed;
}

static void
drop_snapshot(Peer *p)
{
	if (p->snap_data)
	{
		pfree(p->snap_data);
		pfree((char *) p->snap_head.conf);
	}
	p->snap_data = NULL;
	p->snap_next = 0;
	p->snap_call_end = 0;
}

static void
disconnect(Peer *p, uint64 now, const char *why)
{
	bool		was_up = p->state == PEER_IDLE || p->state == PEER_BUSY;

	if (why && (set_error(p, why) || was_up))
		ereport(LOG,
				(errmsg("geoshard raft lost or could not reach node %llu: %s",
						(unsigned long long) p->id, p->last_error)));
	if (p->conn)
	{
		PQfinish(p->conn);
		conn_epoch++;
	}
	p->conn = NULL;
	if (p->lookup)
		RaftLookupAbandon(p->lookup);
	p->lookup = NULL;
	p->state = PEER_DOWN;
	p->preparing = false;
	p->prepare_again = false;
	p->prepare_error[0] = '\0';
	p->exchange = true;			/* each new connection tries raft_exchange first */
	p->next_attempt = now + p->backoff;
	p->backoff = Min(p->backoff * 2, RAFT_BACKOFF_MAX_MS);
	resetStringInfo(&p->out);
	p->out_count = 0;
	p->commit_sent = 0;			/* what was queued is lost */
	/* the next connection sends the snapshot from its start */
	p->snap_next = 0;
	p->snap_call_end = 0;
}

static Peer *
add_peer(uint64 id, const char *conninfo)
{
	Peer	   *p;

	if (npeers >= RAFT_MAX_PEERS)
	{
		ereport(LOG,
				(errmsg("geoshard raft talks to at most %d peers; node %llu is left out",
						RAFT_MAX_PEERS, (unsigned long long) id)));
		return NULL;
	}
	p = &peers[npeers++];
	memset(p, 0, sizeof(Peer));
	p->id = id;
	p->conninfo = MemoryContextStrdup(transport_cxt, conninfo);
	p->backoff = RAFT_BACKOFF_MIN_MS;
	p->exchange = true;
	p->out.data = NULL;
	initStringInfo(&p->out);
	return p;
}

/*
 * Keep the peers of conf (other than this node), and those we answer
 * without their being in it: a joining node learns its leader's address
 * from the leader's messages before any configuration names it.
 */
void
RaftTransportSync(const struct raft_configuration *conf)
{
	MemoryContext old = MemoryContextSwitchTo(transport_cxt);

	for (int i = 0; i < npeers; i++)
		peers[i].keep = peers[i].adhoc;
	if (self_address)
		pfree(self_address);
	self_address = pstrdup("");
	for (unsigned k = 0; k < conf->n; k++)
		if (conf->servers[k].id == self_id)
		{
			pfree(self_address);
			self_address = pstrdup(conf->servers[k].address);
		}
	for (unsigned k = 0; k < conf->n; k++)
	{
		const struct raft_server *s = &conf->servers[k];
		Peer	   *p = NULL;

		if (s->id == self_id || s->role == RAFT_SPARE)
			continue;
		for (int i = 0; i < npeers; i++)
			if (peers[i].id == s->id)
				p = &peers[i];
		if (p && strcmp(p->conninfo, s->address) != 0)
		{
			disconnect(p, 0, NULL);
			pfree(p->conninfo);
			p->conninfo = pstrdup(s->address);
		}
		if (p == NULL)
			p = add_peer(s->id, s->address);
		if (p)
		{
			p->keep = true;
			p->adhoc = false;
		}
	}
	for (int i = npeers - 1; i >= 0; i--)
	{
		if (peers[i].keep)
			continue;
		disconnect(&peers[i], 0, NULL);
		drop_snapshot(&peers[i]);
		pfree(peers[i].conninfo);
		pfree(peers[i].out.data);
		peers[i] = peers[npeers - 1];
		npeers--;
	}
	MemoryContextSwitchTo(old);
}

/* The peer a message goes to; a sender we answer is added on the fly. */
static Peer *
peer_for(uint64 id, const char *address)
{
	Peer	   *p = NULL;

	for (int i = 0; i < npeers; i++)
		if (peers[i].id == id)
			p = &peers[i];
	if (p == NULL && address != NULL && address[0] != '\0' && id != self_id)
	{
		MemoryContext old = MemoryContextSwitchTo(transport_cxt);

		p = add_peer(id, address);
		if (p)
			p->adhoc = true;
		MemoryContextSwitchTo(old);
	}
	return p;
}

/* Start the peer's next batch when its outbox is empty. */
static void
begin_outbox(Peer *p)
{
	RaftEnvelope env;

	if (p->out_count > 0)
		return;
	env.cluster_id = cluster;
	env.from = self_id;
	env.to = p->id;
	env.from_address = self_address ? self_address : "";
	env.count = 0;
	resetStringInfo(&p->out);
	RaftEnvelopeBegin(&p->out, &env);
}

/* Queue one outgoing message for its peer; dropped when it cannot go. */
void
RaftTransportQueue(const struct raft_message *msg)
{
	Peer	   *p = peer_for(msg->server_id, msg->server_address);
	StringInfoData one;
	MemoryContext old;

	/* a peer still connecting gets its messages once connected */
	if (p == NULL || p->out_count >= RAFT_MESSAGES_MAX - 1)
		return;

	old = MemoryContextSwitchTo(transport_cxt);
	initStringInfo(&one);
	if (RaftMessageEncode(&one, msg, entry_lookup) &&
		(p->out_count == 0 || p->out.len + one.len <= RAFT_BATCH_MAX_BYTES))
	{
		begin_outbox(p);
		appendBinaryStringInfo(&p->out, one.data, one.len);
		p->out_count++;
		if (msg->type == RAFT_APPEND_ENTRIES)
			p->commit_sent = Max(p->commit_sent, msg->append_entries.leader_commit);
	}
	pfree(one.data);
	MemoryContextSwitchTo(old);
}

/*
 * Send a snapshot to a peer: head gives the InstallSnapshot's metadata and
 * the data's total size.  Both are copied; another snapshot still being sent
 * to that peer is replaced.  The same one goes on where it is: libraft asks
 * again whenever the peer rejects a heartbeat while it still lacks the
 * snapshot, and starting over each time would never finish a large one.
 * Returns false when the snapshot was already on its way.
 */
bool
RaftTransportQueueSnapshot(uint64 to, const char *address, const RaftSnapshotChunk *head,
						   const char *data)
{
	Peer	   *p = peer_for(to, address);
	MemoryContext old;
	char	   *conf;

	if (p == NULL)
		return false;
	if (p->snap_data != NULL && p->snap_head.term == head->term &&
		p->snap_head.last_index == head->last_index && p->snap_head.last_term == head->last_term &&
		p->snap_head.total == head->total)
		return false;
	drop_snapshot(p);
	old = MemoryContextSwitchTo(transport_cxt);
	conf = palloc(Max(head->conf_len, 1));
	memcpy(conf, head->conf, head->conf_len);
	p->snap_head = *head;
	p->snap_head.conf = conf;
	p->snap_data = MemoryContextAllocHuge(transport_cxt, Max(head->total, 1));
	memcpy(p->snap_data, data, head->total);
	MemoryContextSwitchTo(old);
	return true;
}

/* Add the snapshot's next chunk to the outbox, when there is room. */
static void
add_snapshot_chunk(Peer *p)
{
	RaftSnapshotChunk c = p->snap_head;

	if (p->snap_data == NULL || p->snap_call_end != 0)
		return;
	c.offset = p->snap_next;
	c.len = (uint32) Min(c.total - c.offset, RAFT_SNAPSHOT_CHUNK_BYTES);
	c.data = p->snap_data + c.offset;
	/* the chunk, its metadata and configuration, and the other messages */
	if (p->out_count > 0 &&
		(p->out.len + c.len + c.conf_len + 64 > RAFT_BATCH_MAX_BYTES || p->out_count >= RAFT_MESSAGES_MAX))
		return;
	begin_outbox(p);
	RaftSnapshotChunkEncode(&p->out, &c);
	p->out_count++;
	p->snap_call_end = c.offset + c.len;
}

/*
 * Open the connection; to the looked-up address when there is one (libpq
 * would otherwise resolve the host name itself, blocking).
 */
static void
open_connection(Peer *p, uint64 now)
{
	const char *keys[] = {"dbname", "application_name", "hostaddr", NULL};
	const char *values[] = {p->conninfo, "geoshard raft", p->hostaddr, NULL};

	if (p->hostaddr[0] == '\0')
		keys[2] = NULL;
	p->conn = PQconnectStartParams(keys, values, 1);
	conn_epoch++;
	if (p->conn == NULL || PQstatus(p->conn) == CONNECTION_BAD)
	{
		disconnect(p, now, p->conn ? PQerrorMessage(p->conn) : "out of memory");
		return;
	}
	p->state = PEER_CONNECTING;
	p->poll = PGRES_POLLING_WRITING;
	p->deadline = now + RAFT_CONNECT_TIMEOUT_MS;
}

/* Start a connection attempt: a lookup of the peer's host name first, if it has one. */
static void
start_connect(Peer *p, uint64 now)
{
	char	   *host = RaftLookupHostOf(p->conninfo);
	char		error[RAFT_ERROR_BYTES];

	p->hostaddr[0] = '\0';
	if (host == NULL)
	{
		open_connection(p, now);
		return;
	}
	p->lookup = RaftLookupStart(host, error, sizeof(error));
	pfree(host);
	if (p->lookup == NULL)
	{
		disconnect(p, now, error);
		return;
	}
	p->state = PEER_RESOLVING;
	p->deadline = now + RAFT_CONNECT_TIMEOUT_MS;
}

/* Go on once the lookup is over, or give it up at the deadline. */
static void
poll_lookup(Peer *p, uint64 now)
{
	char		error[RAFT_ERROR_BYTES];
	int			rc = RaftLookupPoll(p->lookup, p->hostaddr, sizeof(p->hostaddr), error, sizeof(error));

	if (rc != 0)
		p->lookup = NULL;		/* freed by the poll */
	if (rc > 0)
		open_connection(p, now);
	else if (rc < 0)
		disconnect(p, now, error);
	else if (now >= p->deadline)
		disconnect(p, now, "host name lookup timed out");
}

/* A call is on its way (sent with PQsend*): wait for its answer until deadline. */
static void
call_sent(Peer *p, uint64 now, uint64 deadline)
{
	int			rc;

	p->state = PEER_BUSY;
	p->sent_at = now;
	p->deadline = deadline;
	rc = PQflush(p->conn);
	if (rc < 0)
		disconnect(p, now, PQerrorMessage(p->conn));
	else
		p->flushing = rc == 1;
}

/*
 * Start a new connection's PREPARE of its call: raft_exchange, unless the
 * peer just refused it on this connection (read_results).
 */
static void
send_prepare(Peer *p, uint64 now)
{
	Oid			types[1] = {BYTEAOID};
	bool		ok;

	if (p->exchange)
		ok = PQsendPrepare(p->conn, RAFT_EXCHANGE_STATEMENT, "SELECT geoshard.raft_exchange($1)", 1, types);
	else
		ok = PQsendPrepare(p->conn, RAFT_RECEIVE_STATEMENT, "SELECT geoshard.raft_receive($1)", 1, types);
	if (!ok)
	{
		disconnect(p, now, PQerrorMessage(p->conn));
		return;
	}
	p->preparing = true;
	p->prepare_error[0] = '\0';
	call_sent(p, now, now + RAFT_CALL_TIMEOUT_MS);
}

static void
send_outbox(Peer *p, uint64 now)
{
	const char *values[1];
	int			lengths[1];
	int			formats[1] = {1};

	add_snapshot_chunk(p);
	RaftEnvelopeSetCount(&p->out, p->out_count);
	values[0] = p->out.data;
	lengths[0] = p->out.len;
	/* raft_exchange's answer comes as binary: the bytea's own bytes */
	if (!PQsendQueryPrepared(p->conn, p->exchange ? RAFT_EXCHANGE_STATEMENT : RAFT_RECEIVE_STATEMENT,
							 1, values, lengths, formats, p->exchange ? 1 : 0))
	{
		disconnect(p, now, PQerrorMessage(p->conn));
		return;
	}
	resetStringInfo(&p->out);
	p->out_count = 0;
	/* a slow link must not time out a large call for ever: allow ~32 kB/s */
	call_sent(p, now, now + RAFT_CALL_TIMEOUT_MS * (1 + (uint64) lengths[0] / RAFT_CALL_TIMEOUT_BYTES));
}

/*
 * Keep the answer a raft_exchange call returned, for the worker
 * (RaftTransportTakeAnswers), once it is seen to be a batch from that peer
 * to us; anything else is dropped (and logged).
 */
static void
keep_answer(Peer *p, const char *data, int len)
{
	RaftEnvelope env;
	RaftInboxRecord rec;
	char		error[128];
	bool		ok;

	if (len == 0)
		return;
	ok = RaftBatchCheck(data, len, &env, error, sizeof(error));
	if (ok && (memcmp(env.cluster_id.data, cluster.data, UUID_LEN) != 0 ||
			   env.from != p->id || env.to != self_id))
	{
		strlcpy(error, "not from that node of our group to this node", sizeof(error));
		ok = false;
	}
	if (!ok)
	{
		ereport(LOG,
				(errmsg("geoshard raft dropped an invalid answer from node %llu: %s",
						(unsigned long long) p->id, error)));
		return;
	}
	rec.len = (uint32) len;
	rec.slot = -1;
	rec.gen = 0;
	appendBinaryStringInfo(&answers, (const char *) &rec, sizeof(rec));
	appendBinaryStringInfo(&answers, data, len);
}

/*
 * Did the peer refuse raft_exchange for want of it (PREPARE: no such
 * function) or of the right to call it (its call)?  Then this connection
 * prepares and calls raft_receive instead.
 */
static bool
exchange_refused(Peer *p, PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (!p->exchange || state == NULL ||
		(strcmp(state, "42883") != 0 && strcmp(state, "42501") != 0))
		return false;
	if (!p->refusal_logged)
		ereport(LOG,
				(errmsg("geoshard raft calls raft_receive on node %llu: it refuses raft_exchange: %s",
						(unsigned long long) p->id, PQresultErrorMessage(res)),
				 errhint("Update the extension there (ALTER EXTENSION geoshard UPDATE) and grant EXECUTE on geoshard.raft_exchange(bytea) to the role the peers connect as; each round trip then takes one call instead of two.")));
	p->refusal_logged = true;
	p->exchange = false;
	return true;
}

/* Read what the peer answered; false when the connection failed. */
static bool
read_results(Peer *p, uint64 now)
{
	if (!PQconsumeInput(p->conn))
	{
		disconnect(p, now, PQerrorMessage(p->conn));
		return false;
	}
	while (!PQisBusy(p->conn))
	{
		PGresult   *res = PQgetResult(p->conn);

		if (res == NULL)
		{
			if (p->prepare_again)
			{
				p->prepare_again = false;
				send_prepare(p, now);
				return p->state != PEER_DOWN;
			}
			/* a peer that cannot prepare (no extension yet) is tried again later */
			if (p->preparing && p->prepare_error[0] != '\0')
			{
				disconnect(p, now, p->prepare_error);
				return false;
			}
			p->preparing = false;
			p->state = PEER_IDLE;
			p->last_rtt_ms = (double) (now - p->sent_at);
			return true;
		}
		if (p->preparing)
		{
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
			{
				if (exchange_refused(p, res))
					p->prepare_again = true;
				else if (p->prepare_error[0] == '\0')
					strlcpy(p->prepare_error, PQresultErrorMessage(res), RAFT_ERROR_BYTES);
			}
		}
		else if (PQresultStatus(res) != PGRES_TUPLES_OK && exchange_refused(p, res))
			p->prepare_again = true;	/* the batch is lost: Raft resends */
		else if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			if (set_error(p, PQresultErrorMessage(res)))
				ereport(LOG,
						(errmsg("geoshard raft node %llu refused our messages: %s",
								(unsigned long long) p->id, p->last_error)));
			if (p->snap_call_end != 0)
				drop_snapshot(p);
		}
		else
		{
			/* raft_receive says true, raft_exchange answers non-NULL, when queued */
			bool		queued = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
				(p->exchange || strcmp(PQgetvalue(res, 0, 0), "t") == 0);

			if (queued && p->exchange)
				keep_answer(p, PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0));
			/* a chunk the peer queued is sent; one it dropped goes again */
			if (p->snap_call_end != 0 && queued)
			{
				p->snap_next = p->snap_call_end;
				if (p->snap_next >= p->snap_head.total)
					drop_snapshot(p);
			}
			p->snap_call_end = 0;
			p->last_contact = GetCurrentTimestamp();
			p->backoff = RAFT_BACKOFF_MIN_MS;
			if (p->last_error[0] != '\0')
				p->last_error[0] = '\0';
		}
		PQclear(res);
	}
	return true;
}

/*
 * Is a connecting peer's socket ready for what PQconnectPoll last asked for?
 * libpq must be polled only then: polled while connect() is still in
 * progress, it takes the connection for made and blocks in its startup
 * packet's send until the connection completes or fails (seconds when the
 * peer's host does not answer ARP).  An error or hang-up counts as ready, so
 * that PQconnectPoll reports it.
 */
static bool
connect_ready(Peer *p)
{
	struct pollfd pfd;

	pfd.fd = PQsocket(p->conn);
	if (pfd.fd < 0)
		return true;
	pfd.events = p->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) != 0;
}

/*
 * Advance every connection: connect, send what is queued and, with read,
 * read answers and notice closed connections.  Reading costs a system call
 * per connection even when nothing came; the worker reads once after each
 * wait, and any answer that arrives later wakes its next wait.
 */
void
RaftTransportPump(uint64 now, bool read)
{
	for (int i = 0; i < npeers; i++)
	{
		Peer	   *p = &peers[i];

		if (p->state == PEER_DOWN && now >= p->next_attempt)
			start_connect(p, now);
		if (p->state == PEER_RESOLVING)
			poll_lookup(p, now);
		if (p->state == PEER_CONNECTING)
		{
			if (connect_ready(p))
				p->poll = PQconnectPoll(p->conn);
			if (p->poll == PGRES_POLLING_OK)
			{
				if (PQsetnonblocking(p->conn, 1) != 0)
				{
					disconnect(p, now, PQerrorMessage(p->conn));
					continue;
				}
				if (p->last_error[0] != '\0' || p->backoff > RAFT_BACKOFF_MIN_MS)
					ereport(LOG,
							(errmsg("geoshard raft connected to node %llu", (unsigned long long) p->id)));
				p->last_error[0] = '\0';
				send_prepare(p, now);
			}
			else if (p->poll == PGRES_POLLING_FAILED)
				disconnect(p, now, PQerrorMessage(p->conn));
			else if (now >= p->deadline)
				disconnect(p, now, "connection timed out");
		}
		if (p->state == PEER_BUSY)
		{
			if (p->flushing)
			{
				int			rc = PQflush(p->conn);

				if (rc < 0)
				{
					disconnect(p, now, PQerrorMessage(p->conn));
					continue;
				}
				p->flushing = rc == 1;
			}
			/* without read, an answer may be waiting unread: no deadline */
			if (read && !read_results(p, now))
				continue;
			if (read && p->state == PEER_BUSY && now >= p->deadline)
			{
				disconnect(p, now, "raft_receive call timed out");
				continue;
			}
		}
		/* an idle connection's socket turns readable when the peer closes it */
		if (read && p->state == PEER_IDLE &&
			(!PQconsumeInput(p->conn) || PQstatus(p->conn) == CONNECTION_BAD))
		{
			disconnect(p, now, PQerrorMessage(p->conn));
			continue;
		}
		if (p->state == PEER_IDLE && (p->out_count > 0 || p->snap_data != NULL) && p->id != held_peer)
			send_outbox(p, now);
	}
}

/*
 * The sockets the connections wait on and what for, at most max; returns
 * how many.  *epoch changes whenever a connection opened or closed, so that
 * a wait set built for a closed socket is never kept for a new one that got
 * the same number.
 */
int
RaftTransportWaitSockets(pgsocket *socks, uint32 *events_out, int max, uint64 *epoch)
{
	int			added = 0;

	*epoch = conn_epoch;

	for (int i = 0; i < npeers; i++)
	{
		Peer	   *p = &peers[i];
		uint32		events = 0;

		if (p->conn == NULL || PQsocket(p->conn) < 0)
			continue;
		if (p->state == PEER_CONNECTING)
			events = p->poll == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
		else if (p->state == PEER_BUSY)
			events = WL_SOCKET_READABLE | (p->flushing ? WL_SOCKET_WRITEABLE : 0);
		else
			events = WL_SOCKET_READABLE;	/* notice a closed connection */
		if (added == max)
			break;
		socks[added] = PQsocket(p->conn);
		events_out[added] = events;
		added++;
	}
	return added;
}

/* Milliseconds until a connection needs attention without socket activity. */
long
RaftTransportNextWakeup(uint64 now)
{
	long		wait = 1000;

	for (int i = 0; i < npeers; i++)
	{
		Peer	   *p = &peers[i];
		uint64		at = 0;

		if (p->state == PEER_DOWN)
			at = p->next_attempt;
		else if (p->state == PEER_RESOLVING)
			at = Min(now + RAFT_LOOKUP_POLL_MS, p->deadline);	/* no socket to wait on */
		else if (p->state == PEER_CONNECTING || p->state == PEER_BUSY)
			at = p->deadline;
		else
			continue;
		wait = Min(wait, at > now ? (long) (at - now) : 0);
	}
	return wait;
}

/*
 * While the worker handles a batch that node id waits for an answer to
 * (raft_exchange), its messages for that node stay in the outbox, to go as
 * that answer (RaftTransportTakeOutbox) rather than as a call.
 */
void
RaftTransportHold(uint64 id)
{
	held_peer = id;
}

/* Let the held peer's messages go as calls again; send what is left. */
void
RaftTransportRelease(uint64 now)
{
	held_peer = 0;
	RaftTransportPump(now, false);
}

/*
 * Move the messages queued for node id, as one batch, into dst (cap bytes);
 * returns its length, or 0 when there are none or they do not fit (they
 * then stay, and go as a call).
 */
int
RaftTransportTakeOutbox(uint64 id, char *dst, int cap)
{
	int			len;

	for (int i = 0; i < npeers; i++)
	{
		Peer	   *p = &peers[i];

		if (p->id != id || p->out_count == 0 || p->out.len > cap)
			continue;
		RaftEnvelopeSetCount(&p->out, p->out_count);
		memcpy(dst, p->out.data, p->out.len);
		len = p->out.len;
		resetStringInfo(&p->out);
		p->out_count = 0;
		return len;
	}
	return 0;
}

/* Are answers waiting for RaftTransportTakeAnswers? */
bool
RaftTransportHasAnswers(void)
{
	return answers.len > 0;
}

/*
 * The answers raft_exchange calls returned since the last take, as inbox
 * records (palloc'd in the current context), and their length in *len.
 */
char *
RaftTransportTakeAnswers(Size *len)
{
	char	   *copy = NULL;

	*len = answers.len;
	if (answers.len > 0)
	{
		copy = palloc(answers.len);
		memcpy(copy, answers.data, answers.len);
		resetStringInfo(&answers);
	}
	return copy;
}

/* The highest commit index sent (or queued) to a peer since it connected. */
uint64
RaftTransportCommitSent(uint64 id)
{
	for (int i = 0; i < npeers; i++)
		if (peers[i].id == id)
			return peers[i].commit_sent;
	return 0;
}

void
RaftTransportHeard(uint64 id)
{
	for (int i = 0; i < npeers; i++)
		if (peers[i].id == id)
			peers[i].last_contact = GetCurrentTimestamp();
}

/*
 * The members' connections, for raft_peers; not those of senders we only
 * answer (a removed node that still runs asks for votes until it stops).
 */
int
RaftTransportPublish(RaftPeerStatus *out, int max)
{
	int			n = 0;

	for (int i = 0; i < npeers && n < max; i++)
	{
		if (peers[i].adhoc)
			continue;
		out[n].id = peers[i].id;
		out[n].connected = peers[i].state == PEER_IDLE || peers[i].state == PEER_BUSY;
		out[n].last_rtt_ms = peers[i].last_rtt_ms;
		out[n].last_contact = peers[i].last_contact;
		strlcpy(out[n].last_error, peers[i].last_error, RAFT_ERROR_BYTES);
		n++;
	}
	return n;
}

void
RaftTransportShutdown(void)
{
	for (int i = 0; i < npeers; i++)
	{
		disconnect(&peers[i], 0, NULL);
		drop_snapshot(&peers[i]);
		pfree(peers[i].conninfo);
		pfree(peers[i].out.data);
	}
	npeers = 0;
}
