/*
 * src/raft/raft_shmem.c
 *	  The raft area's shared block, and the functions behind the views
 *	  raft_status and raft_peers.
 *
 * One LWLock guards the whole block; nobody holds it across I/O, SPI or a
 * wait: raft_receive validates its batch before taking it and only copies
 * under it (raft_receive.c), and the worker copies the inbox out and
 * empties it in one go.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include <raft.h>

#include "core/shmem.h"
#include "raft/raft_message.h"
#include "raft/raft_shmem.h"

RaftShared *raft_shared = NULL;

Size
RaftShmemSize(void)
{
	return MAXALIGN(sizeof(RaftShared));
}

void
RaftShmemInit(void *shared, bool found, LWLockPadded *locks)
{
	raft_shared = (RaftShared *) shared;
	if (!found)
	{
		memset(raft_shared, 0, sizeof(RaftShared));
		raft_shared->lock = &locks[0].lock;
		ConditionVariableInit(&raft_shared->slot_freed);
	}
}

/* Refuse to go on without shared memory (geoshard not preloaded). */
void
RaftCheckShmem(void)
{
	if (!GeoshardShmemAttached() || raft_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("geoshard raft needs geoshard in shared_preload_libraries"),
				 errhint("Add geoshard to shared_preload_libraries and restart the server.")));
}

/* Wake the backends waiting for a free proposal slot (propose_local). */
void
RaftSlotFreed(void)
{
	ConditionVariableBroadcast(&raft_shared->slot_freed);
}

/* Set the raft worker's latch, if it runs. */
void
RaftWakeWorker(void)
{
	Latch	   *latch;

	LWLockAcquire(raft_shared->lock, LW_SHARED);
	latch = raft_shared->worker_latch;
	LWLockRelease(raft_shared->lock);
	if (latch)
		SetLatch(latch);
}

/* a libraft state as raft_status's role */
const char *
RaftRoleName(int state)
{
	switch (state)
	{
		case RAFT_FOLLOWER:
			return "follower";
		case RAFT_CANDIDATE:
			return "candidate";
		case RAFT_LEADER:
			return "leader";
		default:
			return "unavailable";
	}
}

/* raft_status_state(): one row when this node is in a group. */
PG_FUNCTION_INFO_V1(raft_status_state);
Datum
raft_status_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RaftShared	copy;
	Datum		values[11];
	bool		nulls[11] = {0};

	RaftCheckShmem();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(raft_shared->lock, LW_SHARED);
	memcpy(&copy, raft_shared, offsetof(RaftShared, proposals));
	LWLockRelease(raft_shared->lock);

	if (!copy.in_group)
		return (Datum) 0;
	values[0] = Int64GetDatum((int64) copy.node_id);
	values[1] = CStringGetTextDatum(RaftRoleName(copy.state));
	values[2] = Int64GetDatum((int64) copy.term);
	values[3] = Int64GetDatum((int64) copy.leader);
	nulls[3] = copy.leader == 0;
	values[4] = Int64GetDatum((int64) copy.commit_index);
	values[5] = Int64GetDatum((int64) copy.applied_index);
	values[6] = Int64GetDatum((int64) copy.last_index);
	values[7] = UUIDPGetDatum(&copy.cluster_id);
	values[8] = TimestampTzGetDatum(copy.last_contact);
	nulls[8] = copy.last_contact == 0;
	values[9] = Int64GetDatum((int64) copy.snapshot_index);
	values[10] = Int64GetDatum((int64) copy.snapshot_term);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* raft_peers_state(): one row per peer the worker talks to. */
PG_FUNCTION_INFO_V1(raft_peers_state);
Datum
raft_peers_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RaftPeerStatus peers[RAFT_MAX_PEERS];
	int			npeers;
	int			state;
	uint64		last_index;

	RaftCheckShmem();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(raft_shared->lock, LW_SHARED);
	npeers = raft_shared->in_group ? raft_shared->npeers : 0;
	memcpy(peers, raft_shared->peers, sizeof(RaftPeerStatus) * npeers);
	state = raft_shared->state;
	last_index = raft_shared->last_index;
	LWLockRelease(raft_shared->lock);

	for (int i = 0; i < npeers; i++)
	{
		Datum		values[7];
		bool		nulls[7] = {0};
		bool		leader = state == RAFT_LEADER;

		values[0] = Int64GetDatum((int64) peers[i].id);
		values[1] = BoolGetDatum(peers[i].connected);
		values[2] = Int64GetDatum((int64) peers[i].match_index);
		nulls[2] = !leader;
		values[3] = Int64GetDatum((int64) (last_index - Min(last_index, peers[i].match_index)));
		nulls[3] = !leader;
		values[4] = Float8GetDatum(peers[i].last_rtt_ms);
		nulls[4] = peers[i].last_rtt_ms <= 0;
		values[5] = TimestampTzGetDatum(peers[i].last_contact);
		nulls[5] = peers[i].last_contact == 0;
		values[6] = CStringGetTextDatum(peers[i].last_error);
		nulls[6] = peers[i].last_error[0] == '\0';
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
