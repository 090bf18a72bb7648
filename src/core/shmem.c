/*
 * src/core/shmem.c
 *	  Owns geoshard's shmem_request_hook and shmem_startup_hook (PG15) and
 *	  chains the hooks installed before ours.
 *
 * The request hook sums what each area needs and reserves it together with
 * the "geoshard" LWLock tranche; the startup hook creates or attaches each
 * area's struct under AddinShmemInitLock and initialises it only when it was
 * not found.  An area plugs in by adding its size, lock count and init
 * function to the table below.  Both hooks run only when the library is in
 * shared_preload_libraries; SQL functions that need shared memory check
 * GeoshardShmemAttached() and raise OBJECT_NOT_IN_PREREQUISITE_STATE when it
 * is false.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "cdc/cdc_status.h"
#include "core/shmem.h"
#include "crdt/hlc.h"
#include "health/breaker.h"
#include "ratelimit/rate_limit_table.h"
#include "redisview/redisview.h"
#include "raft/raft_call.h"
#include "raft/raft_shmem.h"
#include "observe/counters.h"
#include "routing/latency.h"
#include "routing/routing_table.h"

/*
 * The header every geoshard shared segment starts with.  Written once by the
 * startup hook, read-only afterwards, so it needs no lock.
 */
typedef struct GeoshardSharedHeader
{
	uint32		version;		/* layout version of the shared structs */
} GeoshardSharedHeader;

#define GEOSHARD_SHMEM_VERSION 1

/* One row per area that keeps state in shared memory. */
typedef struct GeoshardShmemArea
{
	const char *name;			/* ShmemInitStruct key, "geoshard <area>" */
	Size		(*size) (void);
	int			lwlocks;		/* locks the area takes from the tranche */
	/* locks is the area's slice of the tranche, NULL when it takes none */
	void		(*init) (void *shared, bool found, LWLockPadded *locks);
} GeoshardShmemArea;

static Size HeaderShmemSize(void);
static void HeaderShmemInit(void *shared, bool found, LWLockPadded *locks);

static const GeoshardShmemArea areas[] = {
	{"geoshard header", HeaderShmemSize, 0, HeaderShmemInit},
	{"geoshard hlc", HlcShmemSize, 0, HlcShmemInit},
	{"geoshard routing", RoutingShmemSize, 1, RoutingShmemInit},
	{"geoshard latency", LatencyShmemSize, 1, LatencyShmemInit},
	{"geoshard health", HealthShmemSize, 1, HealthShmemInit},
	/* ratelimit: one lock per partition of the table of keys */
	{"geoshard ratelimit", RateLimitShmemSize, RATE_LIMIT_PARTITIONS, RateLimitShmemInit},
	/* cdc publisher */
	{"geoshard cdc", CdcShmemSize, 1, CdcShmemInit},
	/* redisview */
	{"geoshard redisview", RedisViewShmemSize, 1, RedisViewShmemInit},
	{"geoshard raft", RaftShmemSize, 1, RaftShmemInit},
	/* raft: outcomes of applied catalogue calls (raft_call.c) */
	{"geoshard raft calls", RaftCallShmemSize, 1, RaftCallShmemInit},
	/* observe: the per-backend counters of the hot paths (counters.c) */
	{"geoshard observe", ObserveShmemSize, 0, ObserveShmemInit},
};

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static GeoshardSharedHeader *shared_header = NULL;

static Size
HeaderShmemSize(void)
{
	return MAXALIGN(sizeof(GeoshardSharedHeader));
}

static void
HeaderShmemInit(void *shared, bool found, LWLockPadded *locks)
{
	shared_header = (GeoshardSharedHeader *) shared;
	if (!found)
		shared_header->version = GEOSHARD_SHMEM_VERSION;
}

static void
GeoshardShmemRequest(void)
{
	Size		size = 0;
	int			locks = 0;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	for (int i = 0; i < (int) lengthof(areas); i++)
	{
		size = add_size(size, areas[i].size());
		locks += areas[i].lwlocks;
	}
	RequestAddinShmemSpace(size);
	if (locks > 0)
		RequestNamedLWLockTranche("geoshard", locks);
}

static void
GeoshardShmemStartup(void)
{
	LWLockPadded *tranche;
	int			next_lock = 0;
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	tranche = GetNamedLWLockTranche("geoshard");
	for (int i = 0; i < (int) lengthof(areas); i++)
	{
		bool		found;
		void	   *shared = ShmemInitStruct(areas[i].name, areas[i].size(), &found);

		areas[i].init(shared, found, areas[i].lwlocks > 0 ? tranche + next_lock : NULL);
		next_lock += areas[i].lwlocks;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Install the hooks; called from _PG_init during preload only. */
void
GeoshardShmemInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = GeoshardShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = GeoshardShmemStartup;
}

/* Is this backend attached to geoshard's shared memory? */
bool
GeoshardShmemAttached(void)
{
	return shared_header != NULL && shared_header->version == GEOSHARD_SHMEM_VERSION;
}

/* geoshard.is_preloaded(): was the library loaded through shared_preload_libraries? */
PG_FUNCTION_INFO_V1(geoshard_is_preloaded);
Datum
geoshard_is_preloaded(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(GeoshardShmemAttached());
}
