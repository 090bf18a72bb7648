/*
 * src/raft/raft_propose.c
 *	  Proposals made in backends, and their forwarding from a follower to
 *	  the leader: the client side (libpq, in the proposing backend) and the
 *	  leader's side, geoshard.raft_forward(bytea).
 *
 * On the leader a proposal goes into a slot of shared memory; the raft
 * worker submits it, and the backend waits on its latch until the worker
 * reports the entry committed and applied here.  On a follower the backend
 * connects to the leader with the leader's conninfo from geoshard.nodes
 * (non-blocking, bounded by geoshard.raft_propose_timeout_ms), calls
 * raft_forward there, which proposes as above and answers with the entry's
 * index and the error its apply raised, if any; the follower then waits
 * until its own worker applied that index (read-your-writes on the node
 * that was called) and returns, or raises that same error.  The connection
 * is kept for the backend's next forward to the same leader, for a second
 * (kept_connection below).
 *
 * Nothing is proposed twice behind the caller's back: a forward is retried
 * (until the deadline) only when the leader certainly did not take it (no
 * connection, or "not the leader" in its answer).  Once the request may
 * have reached a leader, a lost answer is an error saying the proposal may
 * have committed (docs/raft.md).
 */
#include "postgres.h"

#include <sys/socket.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include <raft.h>

#include "core/guc.h"
#include "raft/raft_call.h"
#include "raft/raft_message.h"
#include "raft/raft_propose.h"
#include "raft/raft_shmem.h"

#define FORWARD_VERSION			1
#define FORWARD_PROPOSE			1	/* kind, node id, data */
#define FORWARD_ADD_NODE		2	/* id, name, conninfo: all of raft_add_node */

/* What a follower asks its leader to do. */
typedef struct ForwardRequest
{
	int			op;				/* FORWARD_* */
	RaftProposalKind kind;
	uint64		node_id;
	uint64		origin;			/* on the leader: the follower that forwarded it */
	const char *data;			/* PROPOSE: the payload; ADD_NODE: the name */
	uint32		len;
	const char *conninfo;		/* ADD_NODE */
} ForwardRequest;

typedef enum ForwardResult
{
	FORWARD_DONE,				/* committed at index; error set if refused */
	FORWARD_NOT_LEADER,			/* nothing submitted; leader names another */
	FORWARD_UNREACHABLE			/* nothing sent */
} ForwardResult;

typedef enum LocalResult
{
	LOCAL_DONE,
	LOCAL_NOT_LEADER,
	LOCAL_NOT_TAKEN				/* the deadline came before the worker took it */
} LocalResult;

/* Has this node stored a group's state (which the worker may not run yet)? */
bool
RaftStateStored(void)
{
	bool		stored;
	bool		isnull;
	Oid			save_userid;
	int			save_sec_context;

	/*
	 * Read as the bootstrap superuser: the guard trigger runs for roles
	 * that may write a replicated table but not read geoshard.raft_state.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT EXISTS (SELECT FROM geoshard.raft_state)", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading geoshard.raft_state failed");
	stored = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return stored;
}

static TimestampTz
propose_deadline(void)
{
	return TimestampTzPlusMilliseconds(GetCurrentTimestamp(), geoshard_raft_propose_timeout_ms);
}

static void
raise_timeout(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("raft proposal not committed within %d ms", geoshard_raft_propose_timeout_ms),
			 errdetail("The entry may still commit later."),
			 errhint("See geoshard.raft_status: a majority of the group must be reachable.")));
}

/* The deadline came before this node's raft worker took the proposal. */
static void
raise_not_taken(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("raft proposal not submitted within %d ms", geoshard_raft_propose_timeout_ms),
			 errdetail("Nothing was proposed: the leader's raft worker did not take it in time, e.g. while another membership change was in flight."),
			 errhint("Retry; see geoshard.raft_status: a majority of the group must be reachable for a change to commit.")));
}

/*
 * Hand a proposal to this node's raft worker and wait until it is committed
 * and applied here (*index) or the worker says this node does not lead
 * (*leader: the leader it knows, 0 if none).  Other failures raise.  origin
 * is the follower that forwarded it (0: made here), which waits to apply it
 * too: the worker sends that follower the commit index at once.
 */
static LocalResult
propose_local(RaftProposalKind kind, uint64 node_id, const char *data, uint32 len,
			  uint64 origin, TimestampTz deadline, uint64 *index, uint64 *leader)
{
	RaftProposal *volatile slot = NULL;
	RaftProposal result;
	bool		in_group;

	RaftCheckShmem();
	if (len > RAFT_PROPOSAL_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("raft proposal of %u bytes exceeds the limit of %d", len, RAFT_PROPOSAL_BYTES)));

	/*
	 * Right after raft_bootstrap or raft_join commit, the worker may not have
	 * loaded the new state yet: wait for it while raft_state has a row.
	 */
	for (;;)
	{
		LWLockAcquire(raft_shared->lock, LW_SHARED);
		in_group = raft_shared->in_group;
		LWLockRelease(raft_shared->lock);
		if (in_group || !RaftStateStored() ||
			TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline) <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	/* all slots taken: wait for one (within the deadline) rather than fail */
	for (;;)
	{
		long		remaining;

		LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
		in_group = raft_shared->in_group;
		for (int i = 0; in_group && i < RAFT_PROPOSAL_SLOTS; i++)
			if (raft_shared->proposals[i].state == RAFT_SLOT_FREE)
			{
				slot = &raft_shared->proposals[i];
				memset(slot, 0, offsetof(RaftProposal, data));
				slot->state = RAFT_SLOT_PENDING;
				slot->kind = kind;
				slot->node_id = node_id;
				slot->origin = origin;
				slot->latch = MyLatch;
				slot->len = len;
				memcpy(slot->data, data, len);
				break;
			}
		LWLockRelease(raft_shared->lock);
		if (!in_group || slot != NULL)
			break;
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
			break;
		/* a signal lost to a waiter that left costs at most 100 ms */
		(void) ConditionVariableTimedSleep(&raft_shared->slot_freed, Min(remaining, 100),
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();

	if (!in_group)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node is not in a raft group"),
				 errhint("Create one with geoshard.raft_bootstrap(), or join one with geoshard.raft_join() and geoshard.raft_add_node() on its leader.")));
	if (slot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many raft proposals in flight on this node"),
				 errdetail("All %d proposal slots stayed taken for geoshard.raft_propose_timeout_ms (%d ms).",
						   RAFT_PROPOSAL_SLOTS, geoshard_raft_propose_timeout_ms),
				 errhint("Retry when some of the proposals in flight have finished.")));

	RaftWakeWorker();
	PG_TRY();
	{
		for (;;)
		{
			long		remaining;

			LWLockAcquire(raft_shared->lock, LW_SHARED);
			memcpy(&result, slot, offsetof(RaftProposal, data));
			LWLockRelease(raft_shared->lock);
			if (result.state == RAFT_SLOT_DONE || result.state == RAFT_SLOT_FAILED)
				break;
			remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (remaining <= 0 && result.state == RAFT_SLOT_PENDING)
				break;
			if (remaining <= 0)
				raise_timeout();
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 remaining, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
		if (slot->state == RAFT_SLOT_SUBMITTED)
			slot->abandoned = true;
		else
			slot->state = RAFT_SLOT_FREE;
		LWLockRelease(raft_shared->lock);
		RaftSlotFreed();
		PG_RE_THROW();
	}
	PG_END_TRY();

	/* the worker may have taken a pending slot since we looked */
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	if (result.state == RAFT_SLOT_PENDING && slot->state == RAFT_SLOT_SUBMITTED)
	{
		slot->abandoned = true;
		LWLockRelease(raft_shared->lock);
		raise_timeout();
	}
	slot->state = RAFT_SLOT_FREE;
	LWLockRelease(raft_shared->lock);
	RaftSlotFreed();

	*index = result.index;
	*leader = result.leader;
	if (result.state == RAFT_SLOT_PENDING)
		return LOCAL_NOT_TAKEN;
	if (result.state == RAFT_SLOT_DONE)
		return LOCAL_DONE;
	if (result.not_leader)
		return LOCAL_NOT_LEADER;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("raft proposal failed: %s", result.error)));
	pg_unreachable();
}

static void
raise_not_leader(uint64 leader)
{
	if (leader != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node is not the raft leader"),
				 errdetail("The leader is node %llu.", (unsigned long long) leader),
				 errhint("Call the function on the leader (see geoshard.raft_status and geoshard.nodes).")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the raft group has no leader that this node knows"),
			 errdetail("An election may be under way, or a majority of the group is unreachable."),
			 errhint("Retry in a moment; see geoshard.raft_status and geoshard.raft_peers.")));
}

/* A proposal that only the leader itself may make (raft_add_node's steps). */
uint64
RaftProposeOnLeader(RaftProposalKind kind, uint64 node_id, const char *data, uint32 len,
					TimestampTz deadline)
{
	uint64		index;
	uint64		leader;

	switch (propose_local(kind, node_id, data, len, 0, deadline, &index, &leader))
	{
		case LOCAL_DONE:
			break;
		case LOCAL_NOT_LEADER:
			raise_not_leader(leader);
			break;
		case LOCAL_NOT_TAKEN:
			raise_not_taken();
			break;
	}
	return index;
}

static bool
leading_here(void)
{
	bool		leading;

	LWLockAcquire(raft_shared->lock, LW_SHARED);
	leading = raft_shared->in_group && raft_shared->state == RAFT_LEADER;
	LWLockRelease(raft_shared->lock);
	return leading;
}

/* Run a request on this node, which believes it leads. */
static LocalResult
run_here(const ForwardRequest *req, TimestampTz deadline, uint64 *index, uint64 *leader)
{
	if (req->op == FORWARD_PROPOSE)
		return propose_local(req->kind, req->node_id, req->data, req->len, req->origin, deadline,
							 index, leader);
	if (!leading_here())
	{
		LWLockAcquire(raft_shared->lock, LW_SHARED);
		*leader = raft_shared->leader;
		LWLockRelease(raft_shared->lock);
		return LOCAL_NOT_LEADER;
	}
	*index = RaftAddNodeOnLeader(req->node_id, req->data, req->conninfo, deadline);
	return LOCAL_DONE;
}

/* The leader's conninfo, from geoshard.nodes; NULL when it is not listed. */
static char *
leader_conninfo(uint64 leader)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum((int64) leader)};
	char	   *conninfo = NULL;
	Oid			save_userid;
	int			save_sec_context;
	MemoryContext cxt = CurrentMemoryContext;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT conninfo FROM geoshard.nodes WHERE id = $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading geoshard.nodes failed");
	if (SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		conninfo = v ? MemoryContextStrdup(cxt, v) : NULL;
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);

	/* a node that just joined may not list its leader yet: libraft knows the address */
	if (conninfo == NULL)
	{
		LWLockAcquire(raft_shared->lock, LW_SHARED);
		if (raft_shared->leader == leader && raft_shared->leader_address[0] != '\0')
			conninfo = pstrdup(raft_shared->leader_address);
		LWLockRelease(raft_shared->lock);
	}
	return conninfo;
}

/*
 * The connection of this backend's last forward, kept for its next one to
 * the same leader: a new connection costs the leader a backend's start
 * (1-21 ms on the development machines), more than the proposal itself.
 * It is used again within RAFT_FORWARD_KEEP_MS of its last answer only, and
 * only while it shows no sign of having closed: a leader that vanished
 * without closing it (a host down, a partition) turns a clean "could not
 * reach the leader" (nothing proposed) into "lost the answer" (outcome
 * unknown), so that window stays short.  It stays open until the next
 * forward or the backend's end (docs/raft.md: count it in the leader's
 * max_connections).
 */
#define RAFT_FORWARD_KEEP_MS	1000

static PGconn *kept_conn = NULL;
static uint64 kept_leader = 0;
static char *kept_conninfo = NULL;
static TimestampTz kept_at = 0;

static void
drop_kept(void)
{
	if (kept_conn)
		PQfinish(kept_conn);
	kept_conn = NULL;
	if (kept_conninfo)
		pfree(kept_conninfo);
	kept_conninfo = NULL;
}

/* Is nothing, not even the end of the stream, waiting on this socket? */
static bool
socket_idle(pgsocket sock)
{
	char		c;
	ssize_t		r = recv(sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* The kept connection, if it is to this leader, recent and open; else NULL. */
static PGconn *
kept_connection(uint64 leader, const char *conninfo)
{
	PGconn	   *conn = kept_conn;
	PGresult   *res;

	if (conn == NULL)
		return NULL;
	kept_conn = NULL;			/* the caller owns it now, or it is closed */
	if (kept_leader != leader || strcmp(kept_conninfo, conninfo) != 0 ||
		TimestampDifferenceExceeds(kept_at, GetCurrentTimestamp(), RAFT_FORWARD_KEEP_MS) ||
		!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK || PQisBusy(conn))
	{
		PQfinish(conn);
		return NULL;
	}
	/* anything the leader sent unasked (a FATAL before it closed) disqualifies it */
	if ((res = PQgetResult(conn)) != NULL)
	{
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}

	/*
	 * libpq takes an error sent while idle for a notice and keeps the
	 * connection "OK": only the socket tells that the leader closed it.
	 */
	if (!socket_idle(PQsocket(conn)))
	{
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static void
keep_connection(PGconn *conn, uint64 leader, const char *conninfo)
{
	drop_kept();
	kept_conn = conn;
	kept_leader = leader;
	kept_conninfo = MemoryContextStrdup(TopMemoryContext, conninfo);
	kept_at = GetCurrentTimestamp();
}

/* Wait for the connection's socket, the latch or the deadline; false at the deadline. */
static bool
wait_socket(PGconn *conn, int events, TimestampTz deadline)
{
	long		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
	int			rc;

	if (remaining <= 0)
		return false;
	rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | events,
						   PQsocket(conn), remaining, PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
		ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	return true;
}

static void
encode_request(StringInfo buf, const ForwardRequest *req, TimestampTz deadline)
{
	pg_uuid_t	cluster_id;
	long		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);

	LWLockAcquire(raft_shared->lock, LW_SHARED);
	cluster_id = raft_shared->cluster_id;
	LWLockRelease(raft_shared->lock);

	initStringInfo(buf);
	appendBinaryStringInfo(buf, "GSF", 3);
	pq_sendbyte(buf, FORWARD_VERSION);
	pq_sendbytes(buf, (const char *) cluster_id.data, UUID_LEN);
	pq_sendint64(buf, (int64) geoshard_node_id);
	pq_sendint32(buf, (uint32) Max(remaining, 1));
	pq_sendbyte(buf, req->op);
	pq_sendbyte(buf, req->kind);
	pq_sendint64(buf, (int64) req->node_id);
	pq_sendint32(buf, req->len);
	pq_sendbytes(buf, req->data, req->len);
	if (req->op == FORWARD_ADD_NODE)
	{
		pq_sendint32(buf, (uint32) strlen(req->conninfo));
		pq_sendbytes(buf, req->conninfo, strlen(req->conninfo));
	}
}

/* The leader raised an ERROR (not an apply error): raise it here. */
static void
raise_remote(PGresult *res, uint64 leader)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	int			code = ERRCODE_INTERNAL_ERROR;
	char	   *m = pstrdup(msg ? msg : "unknown error");
	char	   *d = detail ? pstrdup(detail) : NULL;
	char	   *h = hint ? pstrdup(hint) : NULL;

	if (state && strlen(state) == 5)
		code = MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
	if (code == ERRCODE_INSUFFICIENT_PRIVILEGE)
		h = "Grant EXECUTE on geoshard.raft_forward(bytea) to the role of the connection strings in geoshard.nodes, on every node (docs/raft.md).";
	PQclear(res);
	ereport(ERROR,
			(errcode(code),
			 errmsg("%s", m),
			 d ? errdetail("%s", d) : 0,
			 h ? errhint("%s", h) : 0,
			 errcontext("on the raft leader, node %llu, which this node forwarded the proposal to",
						(unsigned long long) leader)));
}

/* The first line of a libpq message: details have no newlines or tabs. */
static char *
chomp(const char *s)
{
	char	   *c = pstrdup(s);
	size_t		n = strcspn(c, "\n");

	c[n] = '\0';
	while (n > 0 && c[n - 1] == ' ')
		c[--n] = '\0';
	return c;
}

static void
raise_lost(uint64 leader, const char *why)
{
	why = chomp(why);
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("lost the answer of raft leader node %llu to a forwarded proposal",
					(unsigned long long) leader),
			 errdetail("The proposal may or may not have committed (%s).", why),
			 errhint("Check the outcome (e.g. with geoshard.raft_barrier() and a read of the tables) before retrying (docs/raft.md).")));
}

static char *
copy_text_field(PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? "" : pstrdup(PQgetvalue(res, 0, col));
}

/*
 * Send a request to the leader and read its answer.  *why tells what made
 * the leader unreachable; a lost answer or an ERROR there raises.
 */
static ForwardResult
forward_once(uint64 leader, const ForwardRequest *req, TimestampTz deadline,
			 uint64 *index, uint64 *new_leader, RaftCallError *error, char **why)
{
	char	   *conninfo = leader_conninfo(leader);
	const char *keywords[4] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *values[4];
	char		timeout[16];
	StringInfoData payload;
	PGconn	   *volatile conn = NULL;
	volatile bool keep = false;
	ForwardResult result = FORWARD_UNREACHABLE;

	if (conninfo == NULL)
	{
		*why = psprintf("node %llu is not listed in geoshard.nodes", (unsigned long long) leader);
		return FORWARD_UNREACHABLE;
	}
	snprintf(timeout, sizeof(timeout), "%ld",
			 Max(1, (TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline) + 999) / 1000));
	values[0] = conninfo;
	values[1] = "geoshard raft forward";
	values[2] = timeout;
	values[3] = NULL;
	encode_request(&payload, req, deadline);

	PG_TRY();
	{
		PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
		const char *paramValues[1] = {payload.data};
		int			paramLengths[1] = {payload.len};
		int			paramFormats[1] = {1};
		Oid			paramTypes[1] = {BYTEAOID};
		PGresult   *res;
		bool		sent = false;

		conn = kept_connection(leader, conninfo);
		if (conn != NULL)
			poll = PGRES_POLLING_OK;
		else
			conn = PQconnectStartParams(keywords, values, 1);
		if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
			*why = pstrdup(conn ? PQerrorMessage(conn) : "out of memory");
		else
		{
			while (poll != PGRES_POLLING_OK && poll != PGRES_POLLING_FAILED)
			{
				if (!wait_socket(conn, poll == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE,
								 deadline))
					break;
				poll = PQconnectPoll(conn);
			}
			if (poll != PGRES_POLLING_OK)
				*why = poll == PGRES_POLLING_FAILED ? pstrdup(PQerrorMessage(conn)) : "connection timed out";
			else if (PQsetnonblocking(conn, 1) != 0 ||
					 !PQsendQueryParams(conn, "SELECT status, index, leader, sqlstate, message, detail, hint "
										"FROM geoshard.raft_forward($1)",
										1, paramTypes, paramValues, paramLengths, paramFormats, 0))
				*why = pstrdup(PQerrorMessage(conn));
			else
				sent = true;
		}
		if (sent)
		{
			bool		busy = true;
			int			flush;

			/* from here on the leader may have taken it: never retry */
			while ((flush = PQflush(conn)) == 1)
				if (!wait_socket(conn, WL_SOCKET_WRITEABLE, deadline))
					raise_lost(leader, "no answer before the deadline");
			if (flush < 0)
				raise_lost(leader, PQerrorMessage(conn));
			while (busy)
			{
				if (!PQconsumeInput(conn))
					raise_lost(leader, PQerrorMessage(conn));
				busy = PQisBusy(conn);
				if (busy && !wait_socket(conn, WL_SOCKET_READABLE, deadline))
					raise_lost(leader, "no answer before the deadline");
			}
			res = PQgetResult(conn);
			if (res == NULL)
				raise_lost(leader, PQerrorMessage(conn));
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
			{
				const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

				if (state == NULL || strncmp(state, "08", 2) == 0)
					raise_lost(leader, PQerrorMessage(conn));
				raise_remote(res, leader);
			}
			if (PQntuples(res) != 1 || PQnfields(res) != 7)
				elog(ERROR, "raft_forward on node %llu answered %d rows of %d columns",
					 (unsigned long long) leader, PQntuples(res), PQnfields(res));
			if (strcmp(PQgetvalue(res, 0, 0), "not_leader") == 0)
			{
				*new_leader = PQgetisnull(res, 0, 2) ? 0 : strtoull(PQgetvalue(res, 0, 2), NULL, 10);
				result = FORWARD_NOT_LEADER;
			}
			else
			{
				*index = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
				memset(error, 0, sizeof(RaftCallError));
				if (strcmp(PQgetvalue(res, 0, 0), "error") == 0)
				{
					const char *state = copy_text_field(res, 3);

					error->index = *index;
					error->sqlerrcode = strlen(state) == 5 ?
						MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]) :
						ERRCODE_INTERNAL_ERROR;
					strlcpy(error->message, copy_text_field(res, 4), RAFT_CALL_TEXT_BYTES);
					strlcpy(error->detail, copy_text_field(res, 5), RAFT_CALL_TEXT_BYTES);
					strlcpy(error->hint, copy_text_field(res, 6), RAFT_CALL_TEXT_BYTES);
				}
				result = FORWARD_DONE;
			}
			PQclear(res);
			/* keep the connection once the call is over (not busy: no wait) */
			if (!PQisBusy(conn))
			{
				res = PQgetResult(conn);
				keep = res == NULL;
				if (res)
					PQclear(res);
			}
		}
	}
	PG_FINALLY();
	{
		if (conn != NULL && keep)
			keep_connection(conn, leader, conninfo);
		else if (conn != NULL)
			PQfinish(conn);
	}
	PG_END_TRY();
	return result;
}

/*
 * Run a request wherever the leader is, and return once its entry is
 * applied on this node; raises the error the entry's apply raised.
 */
static uint64
propose_anywhere(const ForwardRequest *req)
{
	TimestampTz deadline = propose_deadline();
	uint64		tried = 0;		/* the last leader we could not reach */
	char	   *why = NULL;

	RaftCheckShmem();
	for (;;)
	{
		uint64		index = 0;
		uint64		leader = 0;
		LocalResult local = LOCAL_NOT_LEADER;
		RaftCallError error;

		/* a follower that knows its leader forwards at once */
		LWLockAcquire(raft_shared->lock, LW_SHARED);
		if (raft_shared->in_group && raft_shared->state != RAFT_LEADER)
			leader = raft_shared->leader;
		LWLockRelease(raft_shared->lock);
		if (leader == 0)
			local = run_here(req, deadline, &index, &leader);
		if (local == LOCAL_DONE)
		{
			if (!RaftCallOutcome(index, &error))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the outcome of raft log entry %llu is no longer known here",
								(unsigned long long) index),
						 errhint("Read the tables to see whether it took effect.")));
			if (error.index != 0)
				RaftCallRaise(&error);
			return index;
		}
		if (leader != 0)
		{
			uint64		new_leader = 0;

			switch (forward_once(leader, req, deadline, &index, &new_leader, &error, &why))
			{
				case FORWARD_DONE:
					if (!RaftCallWaitApplied(index, deadline))
						ereport(ERROR,
								(errcode(ERRCODE_QUERY_CANCELED),
								 errmsg("raft log entry %llu committed but was not applied on this node within %d ms",
										(unsigned long long) index, geoshard_raft_propose_timeout_ms),
								 errdetail("The leader, node %llu, applied it.", (unsigned long long) leader),
								 errhint("See geoshard.raft_status on this node.")));
					if (error.index != 0)
						RaftCallRaise(&error);
					return index;
				case FORWARD_NOT_LEADER:
					tried = 0;
					break;
				case FORWARD_UNREACHABLE:
					tried = leader;
					break;
			}
		}
		if (TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline) <= 0)
		{
			uint64		last;

			/* still leading here: the worker held it back (a membership change in flight) */
			if (local == LOCAL_NOT_TAKEN && leading_here())
				raise_not_taken();

			if (tried != 0)
				ereport(ERROR,
						(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
						 errmsg("could not reach the raft leader, node %llu, to forward a proposal",
								(unsigned long long) tried),
						 errdetail("%s", why ? chomp(why) : "unknown error"),
						 errhint("Nothing was proposed.  Check geoshard.raft_status and the leader's connection string in geoshard.nodes, then retry.")));
			LWLockAcquire(raft_shared->lock, LW_SHARED);
			last = raft_shared->leader_last_known;
			LWLockRelease(raft_shared->lock);
			if (last != 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the raft group has no leader that this node knows"),
						 errdetail("An election may be under way, or a majority of the group is unreachable; the last leader this node knew was node %llu.",
								   (unsigned long long) last),
						 errhint("Nothing was proposed.  Retry in a moment; see geoshard.raft_status and geoshard.raft_peers.")));
			raise_not_leader(0);
		}
		/* a leader is being elected, or moved: look again shortly */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 20, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Propose from any node of the group; returns the entry's index once it is
 * applied here, or raises the error its apply raised on every node.
 */
uint64
RaftPropose(RaftProposalKind kind, uint64 node_id, const char *data, uint32 len)
{
	ForwardRequest req = {FORWARD_PROPOSE, kind, node_id, 0, data, len, NULL};

	return propose_anywhere(&req);
}

uint64
RaftProposeCommand(const char *data, uint32 len)
{
	return RaftPropose(RAFT_PROPOSE_COMMAND, 0, data, len);
}

/* raft_add_node from any node: its steps run on the leader. */
uint64
RaftProposeAddNode(uint64 id, const char *name, const char *conninfo)
{
	ForwardRequest req = {FORWARD_ADD_NODE, RAFT_PROPOSE_ADD, id, 0, name, (uint32) strlen(name), conninfo};

	return propose_anywhere(&req);
}

/* Read length(4) bytes, at most max; NUL-terminated for text. */
static char *
get_bytes(StringInfo msg, uint32 max, uint32 *len)
{
	char	   *s;

	*len = pq_getmsgint(msg, 4);
	if (*len > max || *len > (uint32) (msg->len - msg->cursor))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid raft forward request: field of %u bytes", *len)));
	s = palloc(*len + 1);
	pq_copymsgbytes(msg, s, *len);
	s[*len] = '\0';
	return s;
}

static void
check_text(const char *s, uint32 len)
{
	if (strlen(s) != len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid raft forward request: text with a NUL byte")));
}

/*
 * raft_forward(request): a follower's proposal, made here on the leader.
 * Answers status 'ok' or 'error' (the entry was applied here; error: every
 * node refused it alike, with sqlstate, message, detail, hint) with the
 * index, or 'not_leader' with the leader this node knows (nothing was
 * proposed).  Other failures raise.
 */
PG_FUNCTION_INFO_V1(raft_forward);
Datum
raft_forward(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	StringInfoData msg;
	char		magic[3];
	pg_uuid_t	cluster_id;
	pg_uuid_t	ours;
	bool		in_group;
	uint32		timeout_ms;
	ForwardRequest req;
	RaftCommand cmd;
	TimestampTz deadline;
	uint64		index = 0;
	uint64		leader = 0;
	RaftCallError error;
	LocalResult result;
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {false, true, true, true, true, true, true};

	RaftCheckShmem();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "raft_forward must return a record");
	tupdesc = BlessTupleDesc(tupdesc);

	msg.data = VARDATA_ANY(raw);
	msg.len = VARSIZE_ANY_EXHDR(raw);
	msg.maxlen = msg.len;
	msg.cursor = 0;
	if (msg.len < 3 + 1 + UUID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid raft forward request: %d bytes", msg.len)));
	pq_copymsgbytes(&msg, magic, 3);
	if (memcmp(magic, "GSF", 3) != 0 || pq_getmsgbyte(&msg) != FORWARD_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid raft forward request: unrecognized format")));
	pq_copymsgbytes(&msg, (char *) cluster_id.data, UUID_LEN);
	memset(&req, 0, sizeof(req));
	req.origin = (uint64) pq_getmsgint64(&msg);	/* the follower's node id */
	timeout_ms = pq_getmsgint(&msg, 4);
	req.op = pq_getmsgbyte(&msg);
	req.kind = (RaftProposalKind) pq_getmsgbyte(&msg);
	req.node_id = (uint64) pq_getmsgint64(&msg);
	req.data = get_bytes(&msg, RAFT_PROPOSAL_BYTES, &req.len);
	if (req.op == FORWARD_ADD_NODE)
	{
		uint32		len;

		check_text(req.data, req.len);
		req.conninfo = get_bytes(&msg, RAFT_PROPOSAL_BYTES, &len);
		check_text(req.conninfo, len);
	}
	pq_getmsgend(&msg);

	/* only what a follower's functions propose: no membership by hand */
	if (!(req.op == FORWARD_ADD_NODE ||
		  (req.op == FORWARD_PROPOSE &&
		   ((req.kind == RAFT_PROPOSE_COMMAND && RaftCommandDecode(req.data, req.len, &cmd) &&
			 cmd.kind != RAFT_CMD_NODE) ||
			req.kind == RAFT_PROPOSE_REMOVE || req.kind == RAFT_PROPOSE_TRANSFER))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid raft forward request: operation %d, proposal kind %d",
						req.op, (int) req.kind)));

	LWLockAcquire(raft_shared->lock, LW_SHARED);
	in_group = raft_shared->in_group;
	ours = raft_shared->cluster_id;
	LWLockRelease(raft_shared->lock);
	if (!in_group || memcmp(ours.data, cluster_id.data, UUID_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("raft forward request from cluster \"%s\" refused",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&cluster_id)))),
				 errdetail("This node is not in that raft group.")));

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   Min(timeout_ms, (uint32) PG_INT32_MAX));
	result = run_here(&req, deadline, &index, &leader);
	if (result == LOCAL_NOT_TAKEN)
		raise_not_taken();
	if (result == LOCAL_NOT_LEADER)
	{
		values[0] = CStringGetTextDatum("not_leader");
		values[2] = Int64GetDatum((int64) leader);
		nulls[2] = leader == 0;
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
	}
	if (!RaftCallOutcome(index, &error))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the outcome of raft log entry %llu is no longer known here",
						(unsigned long long) index)));
	values[0] = CStringGetTextDatum(error.index != 0 ? "error" : "ok");
	values[1] = Int64GetDatum((int64) index);
	nulls[1] = false;
	if (error.index != 0)
	{
		values[3] = CStringGetTextDatum(unpack_sql_state(error.sqlerrcode));
		values[4] = CStringGetTextDatum(error.message);
		values[5] = CStringGetTextDatum(error.detail);
		values[6] = CStringGetTextDatum(error.hint);
		nulls[3] = nulls[4] = nulls[5] = nulls[6] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
