/*
 * src/raft/raft_snapshot.h
 *	  Snapshots of the replicated tables: taking, storing, loading and
 *	  installing them.  Every function that touches tables runs in the raft
 *	  worker inside GeoshardWorkerBeginWork/EndWork.
 */
#ifndef GEOSHARD_RAFT_RAFT_SNAPSHOT_H
#define GEOSHARD_RAFT_RAFT_SNAPSHOT_H

#include "utils/palloc.h"

/* The tables a snapshot holds, in the order an install fills them. */
extern const char *const RaftReplicatedTables[];
extern const int RaftReplicatedTableCount;

/* A snapshot's metadata as geoshard.raft_snapshots stores it. */
typedef struct RaftSnapshotMeta
{
	uint64		index;			/* last entry the snapshot includes */
	uint64		term;			/* its term */
	uint64		conf_index;		/* index of the configuration it holds */
	char	   *conf;			/* libraft's encoding of that configuration */
	uint32		conf_len;
} RaftSnapshotMeta;

extern char *RaftSnapshotBuild(uint64 *len, MemoryContext cxt);
extern bool RaftSnapshotCheck(const char *data, uint64 len);
extern void RaftSnapshotStore(const RaftSnapshotMeta *meta, const char *data, uint64 len,
							  uint64 keep_from);
extern void RaftSnapshotInstall(const RaftSnapshotMeta *meta, const char *data, uint64 len);
extern bool RaftSnapshotLoadMeta(RaftSnapshotMeta *meta, MemoryContext cxt);
extern char *RaftSnapshotLoadData(uint64 index, uint64 *len, MemoryContext cxt);

#endif							/* GEOSHARD_RAFT_RAFT_SNAPSHOT_H */
