/*
 * src/observe/counters.h
 *	  Event counters of the hot paths, in shared memory: one padded slot per
 *	  backend, summed when read (counters.c).
 *
 * Counting is one plain add to the backend's own slot, with no atomic
 * read-modify-write and no cache line shared with another backend, so that
 * route_region does not contend (docs/benchmarks.md, "Metrics overhead").
 * An area adds its counters to ObserveCounter and its families to
 * metrics.c's table.
 */
#ifndef GEOSHARD_OBSERVE_COUNTERS_H
#define GEOSHARD_OBSERVE_COUNTERS_H

#include "port/atomics.h"
#include "storage/lwlock.h"

#include "core/guc.h"
#include "routing/score.h"

/* where route_region's client location came from */
typedef enum ObserveLocationSource
{
	OBSERVE_SOURCE_MMDB,		/* the GeoIP file */
	OBSERVE_SOURCE_TABLE,		/* the geoip_ranges table fallback */
	OBSERVE_SOURCE_COUNTRY,		/* GeoIP knew only the country: its point */
	OBSERVE_SOURCE_ARGUMENT,	/* route_region(lat, lon, country) */
	OBSERVE_SOURCE_NONE,		/* unknown */
	OBSERVE_SOURCE_COUNT
} ObserveLocationSource;

/* what a GeoIP lookup found */
typedef enum ObserveGeoipResult
{
	OBSERVE_GEOIP_MMDB,			/* hit in the file */
	OBSERVE_GEOIP_TABLE,		/* hit in the table */
	OBSERVE_GEOIP_MISS,
	OBSERVE_GEOIP_COUNT
} ObserveGeoipResult;

/* the counters of one slot; values index pg_atomic_uint64 counts[] */
typedef enum ObserveCounter
{
	OBSERVE_ROUTE_REASON = 0,	/* + RouteReasonCode */
	OBSERVE_ROUTE_SOURCE = OBSERVE_ROUTE_REASON + ROUTE_REASON_COUNT,	/* + ObserveLocationSource */
	OBSERVE_GEOIP = OBSERVE_ROUTE_SOURCE + OBSERVE_SOURCE_COUNT,	/* + ObserveGeoipResult */
	OBSERVE_COUNTERS = OBSERVE_GEOIP + OBSERVE_GEOIP_COUNT
} ObserveCounter;

/* a whole number of cache lines, so that no two backends share one */
#define OBSERVE_SLOT_COUNTERS	32

typedef struct ObserveSlot
{
	/* written by the slot's backend only; read by anyone, without a lock */
	pg_atomic_uint64 counts[OBSERVE_SLOT_COUNTERS];
} ObserveSlot;

StaticAssertDecl(OBSERVE_COUNTERS <= OBSERVE_SLOT_COUNTERS, "too many counters for a slot");
StaticAssertDecl(sizeof(ObserveSlot) % PG_CACHE_LINE_SIZE == 0, "slots must not share cache lines");

/* this backend's slot, once found (ObserveCountSlow) */
extern ObserveSlot *observe_my_slot;

extern Size ObserveShmemSize(void);
extern void ObserveShmemInit(void *shared, bool found, LWLockPadded *locks);
extern bool ObserveAttached(void);
extern void ObserveCountSlow(ObserveCounter counter);
extern void ObserveSum(uint64 *totals);

/*
 * Count one event.  The slot is written only by this backend, so a read
 * and a write (no locked instruction) are enough; 64-bit reads by others
 * are atomic.
 */
static inline void
ObserveCount(ObserveCounter counter)
{
	if (!geoshard_metrics_enabled)
		return;
	if (likely(observe_my_slot != NULL))
	{
		pg_atomic_uint64 *c = &observe_my_slot->counts[counter];

		pg_atomic_write_u64(c, pg_atomic_read_u64(c) + 1);
	}
	else
		ObserveCountSlow(counter);
}

#endif							/* GEOSHARD_OBSERVE_COUNTERS_H */
