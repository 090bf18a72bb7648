/*
 * src/raft/raft_receive.c
 *	  What peers call over libpq: raft_receive(bytea), which validates a
 *	  batch of messages and queues it for the local raft worker, and
 *	  raft_exchange(bytea), which does the same and then waits, briefly, for
 *	  the worker's answer to that batch and returns it.
 *
 * The exchange takes a process hand-off and a whole call off every round
 * trip: a follower's acknowledgement of an AppendEntries comes back as the
 * result of the leader's own call instead of as a call of its own, which
 * the leader's backend would take and pass to its worker through the inbox.
 * The worker fills the caller's reply slot (raft_shmem.h) once it has
 * handled the batch, durable writes included; a caller that waited
 * RAFT_REPLY_WAIT_MS returns without it, and the worker then sends the
 * answer over its own connection, as for raft_receive.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "raft/raft_message.h"
#include "raft/raft_shmem.h"

/*
 * How long raft_exchange waits for the worker.  Long enough for a batch and
 * its fsync on a busy disk; short, because the caller's next messages to
 * this node wait behind the call.
 */
#define RAFT_REPLY_WAIT_MS		50

/* Validate a peer's batch; raise the error that refuses it. */
static void
check_batch(const char *data, size_t len)
{
	RaftEnvelope env;
	char		error[128];
	bool		in_group;
	pg_uuid_t	cluster_id;
	uint64		node_id;

	RaftCheckShmem();
	if (!RaftBatchCheck(data, len, &env, error, sizeof(error)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid raft message batch: %s", error)));

	LWLockAcquire(raft_shared->lock, LW_SHARED);
	in_group = raft_shared->in_group;
	cluster_id = raft_shared->cluster_id;
	node_id = raft_shared->node_id;
	LWLockRelease(raft_shared->lock);

	if (!in_group)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node is not in a raft group"),
				 errhint("Call geoshard.raft_join() on this node before adding it to a group.")));
	if (memcmp(env.cluster_id.data, cluster_id.data, UUID_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("raft message from cluster \"%s\" refused",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&env.cluster_id)))),
				 errdetail("This node belongs to cluster \"%s\".",
						   DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&cluster_id))))));
	if (env.to != node_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("raft message for node %llu refused", (unsigned long long) env.to),
				 errdetail("This node is node %llu.", (unsigned long long) node_id)));
	if (env.from == node_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("raft message claiming to come from this node (%llu) refused",
						(unsigned long long) node_id)));
}

/*
 * Queue a checked batch for the worker and wake it; false when the inbox is
 * full (the batch is dropped: Raft resends).  With want_reply, a free reply
 * slot is claimed for it when there is one (*slot -1 otherwise).
 */
static bool
queue_batch(const char *data, size_t len, bool want_reply, int *slot, uint32 *gen)
{
	RaftInboxRecord rec;
	bool		queued = false;
	Latch	   *latch;

	rec.len = (uint32) len;
	rec.slot = -1;
	rec.gen = 0;
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	if (raft_shared->inbox_used + sizeof(rec) + len <= RAFT_INBOX_BYTES)
	{
		for (int i = 0; want_reply && i < RAFT_REPLY_SLOTS; i++)
		{
			RaftReplySlot *s = &raft_shared->replies[i];

			if (s->state != RAFT_REPLY_FREE)
				continue;
			s->state = RAFT_REPLY_WAITING;
			s->gen++;
			s->latch = MyLatch;
			s->len = 0;
			rec.slot = i;
			rec.gen = s->gen;
			break;
		}
		memcpy(raft_shared->inbox + raft_shared->inbox_used, &rec, sizeof(rec));
		memcpy(raft_shared->inbox + raft_shared->inbox_used + sizeof(rec), data, len);
		raft_shared->inbox_used += sizeof(rec) + len;
		queued = true;
	}
	else
		raft_shared->inbox_dropped++;
	latch = raft_shared->worker_latch;
	LWLockRelease(raft_shared->lock);

	if (latch)
		SetLatch(latch);
	*slot = rec.slot;
	*gen = rec.gen;
	return queued;
}

/* Give a claimed slot back; what it held, if ready, as a bytea. */
static bytea *
release_slot(int slot, uint32 gen)
{
	RaftReplySlot *s = &raft_shared->replies[slot];
	bytea	   *answer = NULL;

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	if (s->gen == gen)
	{
		if (s->state == RAFT_REPLY_READY)
		{
			answer = (bytea *) palloc(VARHDRSZ + s->len);
			SET_VARSIZE(answer, VARHDRSZ + s->len);
			memcpy(VARDATA(answer), s->data, s->len);
		}
		s->state = RAFT_REPLY_FREE;
		s->latch = NULL;
	}
	LWLockRelease(raft_shared->lock);
	return answer;
}

static bool
slot_ready(int slot, uint32 gen)
{
	RaftReplySlot *s = &raft_shared->replies[slot];
	bool		ready;

	LWLockAcquire(raft_shared->lock, LW_SHARED);
	ready = s->gen == gen && s->state == RAFT_REPLY_READY;
	LWLockRelease(raft_shared->lock);
	return ready;
}

/* Wait up to RAFT_REPLY_WAIT_MS for the worker's answer; NULL without one. */
static bytea *
await_reply(int slot, uint32 gen)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), RAFT_REPLY_WAIT_MS);

	PG_TRY();
	{
		for (;;)
		{
			long		left;

			if (slot_ready(slot, gen))
				break;
			left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (left <= 0)
				break;
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, left,
							 PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		(void) release_slot(slot, gen);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return release_slot(slot, gen);
}

/* raft_receive(bytea): validate a peer's batch and queue it for the worker. */
PG_FUNCTION_INFO_V1(raft_receive);
Datum
raft_receive(PG_FUNCTION_ARGS)
{
	bytea	   *batch = PG_GETARG_BYTEA_PP(0);
	int			slot;
	uint32		gen;

	check_batch(VARDATA_ANY(batch), VARSIZE_ANY_EXHDR(batch));
	PG_RETURN_BOOL(queue_batch(VARDATA_ANY(batch), VARSIZE_ANY_EXHDR(batch), false, &slot, &gen));
}

/*
 * raft_exchange(bytea): as raft_receive, then the worker's answer to the
 * batch (a batch for the caller), or an empty bytea when it has none or took
 * too long (it then goes over the worker's own connection); NULL when the
 * inbox was full and the batch was dropped.
 */
PG_FUNCTION_INFO_V1(raft_exchange);
Datum
raft_exchange(PG_FUNCTION_ARGS)
{
	bytea	   *batch = PG_GETARG_BYTEA_PP(0);
	bytea	   *answer = NULL;
	int			slot;
	uint32		gen;

	check_batch(VARDATA_ANY(batch), VARSIZE_ANY_EXHDR(batch));
	if (!queue_batch(VARDATA_ANY(batch), VARSIZE_ANY_EXHDR(batch), true, &slot, &gen))
		PG_RETURN_NULL();
	if (slot >= 0)
		answer = await_reply(slot, gen);
	if (answer == NULL)
	{
		answer = (bytea *) palloc(VARHDRSZ);
		SET_VARSIZE(answer, VARHDRSZ);
	}
	PG_RETURN_BYTEA_P(answer);
}
