/*
 * src/raft/raft_transport.h
 *	  The raft worker's non-blocking libpq connections to its peers.
 */
#ifndef GEOSHARD_RAFT_RAFT_TRANSPORT_H
#define GEOSHARD_RAFT_RAFT_TRANSPORT_H

#include <raft.h>

#include "storage/latch.h"

#include "raft/raft_message.h"
#include "raft/raft_shmem.h"

extern void RaftTransportInit(const pg_uuid_t *cluster_id, uint64 self, RaftEntryLookup lookup);
extern void RaftTransportSync(const struct raft_configuration *conf);
extern void RaftTransportQueue(const struct raft_message *msg);
extern bool RaftTransportQueueSnapshot(uint64 to, const char *address,
									   const RaftSnapshotChunk *head, const char *data);
extern void RaftTransportPump(uint64 now_ms, bool read);
extern int	RaftTransportWaitSockets(pgsocket *socks, uint32 *events, int max, uint64 *epoch);
extern long RaftTransportNextWakeup(uint64 now_ms);
extern int	RaftTransportPublish(RaftPeerStatus *peers, int max);
extern void RaftTransportHeard(uint64 id);
extern uint64 RaftTransportCommitSent(uint64 id);
extern void RaftTransportHold(uint64 id);
extern void RaftTransportRelease(uint64 now_ms);
extern int	RaftTransportTakeOutbox(uint64 id, char *dst, int cap);
extern bool RaftTransportHasAnswers(void);
extern char *RaftTransportTakeAnswers(Size *len);
extern void RaftTransportShutdown(void);

#endif							/* GEOSHARD_RAFT_RAFT_TRANSPORT_H */
