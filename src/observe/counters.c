/*
 * src/observe/counters.c
 *	  The shared counters of the hot paths ("geoshard observe"): a slot of
 *	  OBSERVE_SLOT_COUNTERS counters per PGPROC, summed when read.
 *
 * Each backend (and worker) counts into the slot of its PGPROC number, and
 * only it writes there, so counting needs no lock and no locked
 * instruction; readers (the geoshard.metrics view, the metrics worker's
 * HTTP thread) sum every slot, reading each counter atomically.  A slot
 * outlives its backend: the next backend with that PGPROC number goes on
 * counting from there, so the sums only grow, as Prometheus counters must.
 * They start again from zero when the server restarts.
 */
#include "postgres.h"

#include "access/twophase.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/shmem.h"

#include "observe/counters.h"

typedef struct ObserveShared
{
	int			nslots;			/* set at startup, read-only afterwards */
	ObserveSlot *slots;			/* cache-line aligned, nslots of them */
} ObserveShared;

ObserveSlot *observe_my_slot = NULL;
static ObserveShared *observe_shared = NULL;

/* every PGPROC: backends, workers, auxiliary processes and prepared transactions */
static int
ObserveSlotCount(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts;
}

Size
ObserveShmemSize(void)
{
	Size		size = MAXALIGN(sizeof(ObserveShared));

	/* room to align the slots to a cache line */
	size = add_size(size, PG_CACHE_LINE_SIZE);
	return add_size(size, mul_size(ObserveSlotCount(), sizeof(ObserveSlot)));
}

void
ObserveShmemInit(void *shared, bool found, LWLockPadded *locks)
{
	observe_shared = (ObserveShared *) shared;
	if (!found)
	{
		char	   *first = (char *) shared + MAXALIGN(sizeof(ObserveShared));

		observe_shared->nslots = ObserveSlotCount();
		observe_shared->slots = (ObserveSlot *) TYPEALIGN(PG_CACHE_LINE_SIZE, first);
		for (int i = 0; i < observe_shared->nslots; i++)
			for (int c = 0; c < OBSERVE_SLOT_COUNTERS; c++)
				pg_atomic_init_u64(&observe_shared->slots[i].counts[c], 0);
	}
}

/* Are the counters in shared memory (geoshard preloaded)? */
bool
ObserveAttached(void)
{
	return observe_shared != NULL;
}

/*
 * The first count of this backend: find its slot, then count.  Nothing is
 * counted without shared memory (not preloaded) or a PGPROC.
 */
void
ObserveCountSlow(ObserveCounter counter)
{
	if (observe_shared == NULL || MyProc == NULL ||
		MyProc->pgprocno < 0 || MyProc->pgprocno >= observe_shared->nslots)
		return;
	observe_my_slot = &observe_shared->slots[MyProc->pgprocno];
	ObserveCount(counter);
}

/*
 * Sum every slot into totals[OBSERVE_COUNTERS] (zeros without shared
 * memory).  Takes no lock and allocates nothing, so the metrics worker's
 * HTTP thread may call it.
 */
void
ObserveSum(uint64 *totals)
{
	memset(totals, 0, sizeof(uint64) * OBSERVE_COUNTERS);
	if (observe_shared == NULL)
		return;
	for (int i = 0; i < observe_shared->nslots; i++)
		for (int c = 0; c < OBSERVE_COUNTERS; c++)
			totals[c] += pg_atomic_read_u64(&observe_shared->slots[i].counts[c]);
}
