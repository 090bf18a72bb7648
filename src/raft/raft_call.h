/*
 * src/raft/raft_call.h
 *	  Replicated calls: the fixed list of catalogue functions a raft group
 *	  replicates as RAFT_CMD_CALL entries, their apply on every node, and
 *	  the outcome of each applied entry that backends wait for.
 */
#ifndef GEOSHARD_RAFT_RAFT_CALL_H
#define GEOSHARD_RAFT_RAFT_CALL_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"

#include "raft/raft_message.h"

#define RAFT_CALL_TEXT_BYTES	256
#define RAFT_CALL_ERRORS		64

/* An entry every node refused alike: the error its apply raised. */
typedef struct RaftCallError
{
	uint64		index;			/* the entry; 0 when the slot is unused */
	int			sqlerrcode;
	char		message[RAFT_CALL_TEXT_BYTES];
	char		detail[RAFT_CALL_TEXT_BYTES];	/* "" when none */
	char		hint[RAFT_CALL_TEXT_BYTES];		/* "" when none */
} RaftCallError;

extern Size RaftCallShmemSize(void);
extern void RaftCallShmemInit(void *shared, bool found, LWLockPadded *locks);

/* raft worker */
extern void RaftCallApply(uint64 index, const RaftCommand *cmd);
extern void RaftCallApplied(uint64 index);

/* backends */
extern int	RaftCallLookup(const char *name);
extern List *RaftCallTakeCatalogue(void);
extern bool RaftCallWaitApplied(uint64 index, TimestampTz deadline);
extern bool RaftCallOutcome(uint64 index, RaftCallError *error);
extern void RaftCallRaise(const RaftCallError *error) pg_attribute_noreturn();

#endif							/* GEOSHARD_RAFT_RAFT_CALL_H */
