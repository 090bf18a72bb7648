/*
 * src/raft/raft_propose.h
 *	  Proposals from backends: handed to the local raft worker on the
 *	  leader, forwarded to the leader over libpq from a follower, and
 *	  returned once applied on the node that was called.
 */
#ifndef GEOSHARD_RAFT_RAFT_PROPOSE_H
#define GEOSHARD_RAFT_RAFT_PROPOSE_H

#include "datatype/timestamp.h"

#include "raft/raft_shmem.h"

extern bool RaftStateStored(void);
extern uint64 RaftPropose(RaftProposalKind kind, uint64 node_id, const char *data, uint32 len);
extern uint64 RaftProposeCommand(const char *data, uint32 len);
extern uint64 RaftProposeOnLeader(RaftProposalKind kind, uint64 node_id, const char *data,
								  uint32 len, TimestampTz deadline);
extern uint64 RaftProposeAddNode(uint64 id, const char *name, const char *conninfo);

/* raft_admin.c: raft_add_node's steps, run on the leader */
extern uint64 RaftAddNodeOnLeader(uint64 id, const char *name, const char *conninfo,
								  TimestampTz deadline);

#endif							/* GEOSHARD_RAFT_RAFT_PROPOSE_H */
