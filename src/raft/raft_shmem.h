/*
 * src/raft/raft_shmem.h
 *	  The raft area's shared memory: the inbox raft_receive and
 *	  raft_exchange fill with the slots raft_exchange waits on, the
 *	  proposal slots backends hand to the raft worker, and the status the
 *	  worker publishes for the views.
 */
#ifndef GEOSHARD_RAFT_RAFT_SHMEM_H
#define GEOSHARD_RAFT_RAFT_SHMEM_H

#include "datatype/timestamp.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/uuid.h"

#include "raft/raft_message.h"

#define RAFT_INBOX_BYTES		(4 * 1024 * 1024)
#define RAFT_PROPOSAL_SLOTS		64
#define RAFT_PROPOSAL_BYTES		8192
#define RAFT_MAX_PEERS			16
#define RAFT_ERROR_BYTES		256
/* raft_exchange callers waiting for their answer at once */
#define RAFT_REPLY_SLOTS		(2 * RAFT_MAX_PEERS)
#define RAFT_REPLY_BYTES		(32 * 1024)

typedef enum RaftSlotState
{
	RAFT_SLOT_FREE = 0,
	RAFT_SLOT_PENDING,			/* written by a backend, not seen yet */
	RAFT_SLOT_SUBMITTED,		/* in the leader's log at index/term */
	RAFT_SLOT_DONE,				/* committed and applied here */
	RAFT_SLOT_FAILED			/* error holds why */
} RaftSlotState;

typedef enum RaftProposalKind
{
	RAFT_PROPOSE_COMMAND,		/* data: an encoded RaftCommand */
	RAFT_PROPOSE_ADD,			/* node_id joins as a standby; data: its conninfo */
	RAFT_PROPOSE_PROMOTE,		/* standby node_id becomes a voter */
	RAFT_PROPOSE_REMOVE,		/* node_id leaves */
	RAFT_PROPOSE_TRANSFER		/* leadership goes to node_id (no log entry) */
} RaftProposalKind;

typedef struct RaftProposal
{
	RaftSlotState state;
	RaftProposalKind kind;
	bool		abandoned;		/* the backend gave up: the worker frees it */
	Latch	   *latch;			/* the proposing backend's */
	uint64		node_id;
	uint64		origin;			/* the follower that forwarded it; 0: made here */
	uint64		index;			/* SUBMITTED, DONE: the entry */
	uint64		term;
	uint64		leader;			/* FAILED: the leader we know, 0 if none */
	bool		not_leader;		/* FAILED because this node is not the leader */
	char		error[RAFT_ERROR_BYTES];
	uint32		len;
	char		data[RAFT_PROPOSAL_BYTES];
} RaftProposal;

/*
 * A raft_exchange call waiting for what the worker answers its batch with.
 * gen changes at every claim, and the inbox record names the claim it
 * belongs to: the worker fills only a slot still WAITING for that claim.
 */
typedef enum RaftReplyState
{
	RAFT_REPLY_FREE = 0,
	RAFT_REPLY_WAITING,			/* claimed; its batch is in the inbox */
	RAFT_REPLY_READY			/* data holds the answer (len 0: none) */
} RaftReplyState;

typedef struct RaftReplySlot
{
	RaftReplyState state;
	uint32		gen;
	Latch	   *latch;			/* the calling backend's */
	uint32		len;
	char		data[RAFT_REPLY_BYTES];
} RaftReplySlot;

/* An inbox record's header, followed by len bytes of batch. */
typedef struct RaftInboxRecord
{
	uint32		len;
	int32		slot;			/* reply slot, -1 when the caller waits for none */
	uint32		gen;
} RaftInboxRecord;

typedef struct RaftPeerStatus
{
	uint64		id;
	bool		connected;
	uint64		match_index;
	double		last_rtt_ms;
	TimestampTz last_contact;
	char		last_error[RAFT_ERROR_BYTES];
} RaftPeerStatus;

/* Every field is guarded by lock. */
typedef struct RaftShared
{
	LWLock	   *lock;
	Latch	   *worker_latch;	/* NULL while no raft worker runs */
	/* the group the worker serves; raft_receive refuses others */
	bool		in_group;
	pg_uuid_t	cluster_id;
	uint64		node_id;
	/* status published by the worker */
	int			state;			/* libraft's enum raft_state */
	uint64		term;
	uint64		leader;
	uint64		leader_last_known;	/* the last non-zero leader */
	char		leader_address[RAFT_ADDRESS_MAX_BYTES];	/* leader's conninfo as libraft knows it */
	uint64		leader_changes; /* times a leader other than the last known appeared */
	uint64		commit_index;
	uint64		applied_index;
	uint64		last_index;
	uint64		snapshot_index; /* the last snapshot's, 0 when none */
	uint64		snapshot_term;
	TimestampTz last_contact;
	int			npeers;
	RaftPeerStatus peers[RAFT_MAX_PEERS];
	/* proposals; slot_freed is signalled whenever a slot turns free */
	ConditionVariable slot_freed;
	RaftProposal proposals[RAFT_PROPOSAL_SLOTS];
	RaftReplySlot replies[RAFT_REPLY_SLOTS];
	/* inbox: RaftInboxRecords, drained whole by the worker */
	uint64		inbox_dropped;
	Size		inbox_used;
	char		inbox[RAFT_INBOX_BYTES];
} RaftShared;

extern RaftShared *raft_shared;

extern Size RaftShmemSize(void);
extern void RaftShmemInit(void *shared, bool found, LWLockPadded *locks);
extern void RaftCheckShmem(void);
extern void RaftWakeWorker(void);
extern void RaftSlotFreed(void);
extern const char *RaftRoleName(int state);

#endif							/* GEOSHARD_RAFT_RAFT_SHMEM_H */
