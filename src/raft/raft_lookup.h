/*
 * src/raft/raft_lookup.h
 *	  Host name lookups for peer connections that do not block the worker.
 */
#ifndef GEOSHARD_RAFT_RAFT_LOOKUP_H
#define GEOSHARD_RAFT_RAFT_LOOKUP_H

typedef struct RaftLookup RaftLookup;

extern char *RaftLookupHostOf(const char *conninfo);
extern RaftLookup *RaftLookupStart(const char *name, char *error, size_t errlen);
extern int	RaftLookupPoll(RaftLookup *l, char *addr, size_t addrlen, char *error, size_t errlen);
extern void RaftLookupAbandon(RaftLookup *l);

#endif							/* GEOSHARD_RAFT_RAFT_LOOKUP_H */
