/*
 * src/raft/raft_transport.c
 *	  One non-blocking libpq connection per peer, over which the raft worker
 *	  sends its messages as calls of geoshard.raft_receive(bytea).
 *
 * Runs in the raft worker.  Messages for a peer accumulate in its outbox (one
 * batch: an envelope, then messages) while it connects or a call is in
 * flight; the next call sends them all.  Nothing here blocks: connections start with
 * PQconnectStartParams and advance with PQconnectPoll when their socket is
 * ready, calls go out with PQsendQueryParams in non-blocking mode and their
 * results come back through PQconsumeInput.  A failed connection or call is
 * closed and retried after a backoff that doubles up to RAFT_BACKOFF_MAX_MS;
 * what was queued is dropped, which Raft tolerates (it retries).
 */
#include "postgres.h"

#include <poll.h>
#include <time.h>

#include "catalog/pg_type.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "raft/raft_transport.h"

#define RAFT_BACKOFF_MIN_MS		20
#define RAFT_BACKOFF_MAX_MS		2000
#define RAFT_CONNECT_TIMEOUT_MS	2000
#define RAFT_CALL_TIMEOUT_MS	2000

typedef enum PeerState
{
	PEER_DOWN,					/* no connection; next_attempt says when */
	PEER_CONNECTING,
	PEER_IDLE,
	PEER_BUSY					/* a raft_receive call is in flight */
} PeerState;

typedef struct Peer
{
	uint64		id;
	char	   *conninfo;
	PGconn	   *conn;
	PeerState	state;
	PostgresPollingStatusType poll;	/* CONNECTING: what the socket must be ready for */
	bool		flushing;		/* BUSY: the query is not all written yet */
	uint64		next_attempt;	/* ms */
	uint64		deadline;		/* ms, CONNECTING and BUSY */
	int			backoff;
	StringInfoData out;			/* envelope + messages; len 0 when empty */
	uint32		out_count;
	uint64		sent_at;
	double		last_rtt_ms;
	TimestampTz last_contact;
	char		last_error[RAFT_ERROR_BYTES];
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
disconnect(Peer *p, uint64 now, const char *why)
{
	bool		was_up = p->state == PEER_IDLE || p->state == PEER_BUSY;

	if (why && (set_error(p, why) || was_up))
		ereport(LOG,
				(errmsg("geoshard raft lost or could not reach node %llu: %s",
						(unsigned long long) p->id, p->last_error)));
	if (p->conn)
		PQfinish(p->conn);
	p->conn = NULL;
	p->state = PEER_DOWN;
	p->next_attempt = now + p->backoff;
	p->backoff = Min(p->backoff * 2, RAFT_BACKOFF_MAX_MS);
	resetStringInfo(&p->out);
	p->out_count = 0;
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
		pfree(peers[i].conninfo);
		pfree(peers[i].out.data);
		peers[i] = peers[npeers - 1];
		npeers--;
	}
	MemoryContextSwitchTo(old);
}

/* Queue one outgoing message for its peer; dropped when it cannot go. */
void
RaftTransportQueue(const struct raft_message *msg)
{
	Peer	   *p = NULL;
	StringInfoData one;
	MemoryContext old;

	for (int i = 0; i < npeers; i++)
		if (peers[i].id == msg->server_id)
			p = &peers[i];
	if (p == NULL && msg->server_address != NULL && msg->server_address[0] != '\0' &&
		msg->server_id != self_id)
	{
		old = MemoryContextSwitchTo(transport_cxt);
		p = add_peer(msg->server_id, msg->server_address);
		if (p)
			p->adhoc = true;
		MemoryContextSwitchTo(old);
	}
	/* a peer still connecting gets its messages once connected */
	if (p == NULL || p->out_count >= RAFT_MESSAGES_MAX)
		return;

	old = MemoryContextSwitchTo(transport_cxt);
	initStringInfo(&one);
	if (RaftMessageEncode(&one, msg, entry_lookup) &&
		(p->out_count == 0 || p->out.len + one.len <= RAFT_BATCH_MAX_BYTES))
	{
		if (p->out_count == 0)
		{
			RaftEnvelope env;

			env.cluster_id = cluster;
			env.from = self_id;
			env.to = p->id;
			env.from_address = self_address ? self_address : "";
			env.count = 0;
			resetStringInfo(&p->out);
			RaftEnvelopeBegin(&p->out, &env);
		}
		appendBinaryStringInfo(&p->out, one.data, one.len);
		p->out_count++;
	}
	pfree(one.data);
	MemoryContextSwitchTo(old);
}

static void
start_connect(Peer *p, uint64 now)
{
	const char *keys[] = {"dbname", "application_name", NULL};
	const char *values[] = {p->conninfo, "geoshard raft", NULL};

	p->conn = PQconnectStartParams(keys, values, 1);
	if (p->conn == NULL || PQstatus(p->conn) == CONNECTION_BAD)
	{
		disconnect(p, now, p->conn ? PQerrorMessage(p->conn) : "out of memory");
		return;
	}
	p->state = PEER_CONNECTING;
	p->poll = PGRES_POLLING_WRITING;
	p->deadline = now + RAFT_CONNECT_TIMEOUT_MS;
}

static void
send_outbox(Peer *p, uint64 now)
{
	Oid			types[1] = {BYTEAOID};
	const char *values[1];
	int			lengths[1];
	int			formats[1] = {1};
	int			rc;

	RaftEnvelopeSetCount(&p->out, p->out_count);
	values[0] = p->out.data;
	lengths[0] = p->out.len;
	if (!PQsendQueryParams(p->conn, "SELECT geoshard.raft_receive($1)", 1, types,
						   values, lengths, formats, 0))
	{
		disconnect(p, now, PQerrorMessage(p->conn));
		return;
	}
	resetStringInfo(&p->out);
	p->out_count = 0;
	p->state = PEER_BUSY;
	p->sent_at = now;
	p->deadline = now + RAFT_CALL_TIMEOUT_MS;
	rc = PQflush(p->conn);
	if (rc < 0)
		disconnect(p, now, PQerrorMessage(p->conn));
	else
		p->flushing = rc == 1;
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
			p->state = PEER_IDLE;
			p->last_rtt_ms = (double) (now - p->sent_at);
			return true;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			if (set_error(p, PQresultErrorMessage(res)))
				ereport(LOG,
						(errmsg("geoshard raft node %llu refused our messages: %s",
								(unsigned long long) p->id, p->last_error)));
		}
		else
		{
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

/* Advance every connection: connect, send what is queued, read answers. */
void
RaftTransportPump(uint64 now)
{
	for (int i = 0; i < npeers; i++)
	{
		Peer	   *p = &peers[i];

		if (p->state == PEER_DOWN && now >= p->next_attempt)
			start_connect(p, now);
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
				p->state = PEER_IDLE;
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
			if (!read_results(p, now))
				continue;
			if (p->state == PEER_BUSY && now >= p->deadline)
			{
				disconnect(p, now, "raft_receive call timed out");
				continue;
			}
		}
		/* an idle connection's socket turns readable when the peer closes it */
		if (p->state == PEER_IDLE &&
			(!PQconsumeInput(p->conn) || PQstatus(p->conn) == CONNECTION_BAD))
		{
			disconnect(p, now, PQerrorMessage(p->conn));
			continue;
		}
		if (p->state == PEER_IDLE && p->out_count > 0)
			send_outbox(p, now);
	}
}

/* Add the sockets the connections wait on; returns how many. */
int
RaftTransportAddEvents(WaitEventSet *set)
{
	int			added = 0;

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
		AddWaitEventToSet(set, events, PQsocket(p->conn), NULL, NULL);
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
		else if (p->state == PEER_CONNECTING || p->state == PEER_BUSY)
			at = p->deadline;
		else
			continue;
		wait = Min(wait, at > now ? (long) (at - now) : 0);
	}
	return wait;
}

void
RaftTransportHeard(uint64 id)
{
	for (int i = 0; i < npeers; i++)
		if (peers[i].id == id)
			peers[i].last_contact = GetCurrentTimestamp();
}

int
RaftTransportPublish(RaftPeerStatus *out, int max)
{
	int			n = Min(npeers, max);

	for (int i = 0; i < n; i++)
	{
		out[i].id = peers[i].id;
		out[i].connected = peers[i].state == PEER_IDLE || peers[i].state == PEER_BUSY;
		out[i].last_rtt_ms = peers[i].last_rtt_ms;
		out[i].last_contact = peers[i].last_contact;
		strlcpy(out[i].last_error, peers[i].last_error, RAFT_ERROR_BYTES);
	}
	return n;
}

void
RaftTransportShutdown(void)
{
	for (int i = 0; i < npeers; i++)
	{
		disconnect(&peers[i], 0, NULL);
		pfree(peers[i].conninfo);
		pfree(peers[i].out.data);
	}
	npeers = 0;
}
