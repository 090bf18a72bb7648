/*
 * src/raft/raft_worker.h
 *	  The raft worker: drives libraft's raft_step with all I/O in our hands.
 */
#ifndef GEOSHARD_RAFT_RAFT_WORKER_H
#define GEOSHARD_RAFT_RAFT_WORKER_H

#include "fmgr.h"

extern PGDLLEXPORT void GeoshardRaftMain(Datum main_arg);

#endif							/* GEOSHARD_RAFT_RAFT_WORKER_H */
