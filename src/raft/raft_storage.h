/*
 * src/raft/raft_storage.h
 *	  The raft worker's durable state in tables: hard state, log, applied
 *	  commands.  Every function runs inside GeoshardWorkerBeginWork/EndWork.
 */
#ifndef GEOSHARD_RAFT_RAFT_STORAGE_H
#define GEOSHARD_RAFT_RAFT_STORAGE_H

#include <raft.h>

#include "utils/uuid.h"

/* one stored log entry, as the worker caches it */
typedef struct RaftLogEntry
{
	uint64		term;
	enum raft_entry_type type;
	uint32		len;
	char	   *data;
} RaftLogEntry;

typedef struct RaftHardState
{
	pg_uuid_t	cluster_id;
	uint64		node_id;
	uint64		term;
	uint64		voted_for;
	uint64		applied_index;
} RaftHardState;

extern bool RaftStorageApplying;

extern bool RaftWorkerIsApplying(void);

extern void RaftStorageForceSync(void);
extern void RaftStorageNoSync(void);
extern bool RaftStorageExists(void);
extern bool RaftStorageLoadState(RaftHardState *hs);
extern RaftLogEntry *RaftStorageLoadLog(uint64 *first, uint64 *n, MemoryContext cxt);
extern void RaftStorageSaveHardState(uint64 term, uint64 voted_for);
extern void RaftStorageAppend(uint64 index, const struct raft_entry *entries, unsigned n,
							  bool overwrite);
extern void RaftStorageApplyCommand(uint64 index, const char *data, uint32 len);
extern void RaftStorageApplyConfiguration(const struct raft_configuration *conf);
extern void RaftStorageSetApplied(uint64 index);
extern const char *RaftEntryTypeName(enum raft_entry_type type);

#endif							/* GEOSHARD_RAFT_RAFT_STORAGE_H */
