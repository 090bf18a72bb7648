/*
 * src/routing/latency.c
 *	  Measured latencies: geoshard.observe_latency(client, region, rtt_ms)
 *	  and the shared store route_region reads them from.
 *
 * Measurements are kept per client network (/24 for IPv4, /48 for IPv6: the
 * granularity at which clients share a path) and region, smoothed as an
 * exponentially weighted moving average.  The store is a fixed array of
 * geoshard.observed_latency_networks entries, sized at server start, so its
 * memory is bounded:
 *   - a network lives in one of LATENCY_PROBE consecutive slots after its
 *     hash; when all of them are taken, the network observed least recently
 *     among them is evicted;
 *   - a network keeps LATENCY_REGIONS_PER_NETWORK regions; a new region
 *     replaces the one observed least recently;
 *   - measurements older than geoshard.observed_latency_max_age are ignored,
 *     and the next measurement after that starts the average afresh.
 * Entries are never deleted, only replaced, so a lookup may stop at the
 * first empty slot.
 *
 * Like breaker states, measurements belong to geoshard.database: only
 * backends connected to it record or read them, since region ids name
 * different regions in other databases' catalogues.  Entries carry the
 * database they were measured for, so that after geoshard.database names
 * another database, measurements made for the old one are never read (they
 * age out, or are evicted).
 *
 * One LWLock guards the whole store: lookups take it shared and copy out,
 * observations take it exclusive for a few hundred instructions.
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/inet.h"
#include "utils/timestamp.h"

#include "core/guc.h"
#include "core/shmem.h"
#include "routing/latency.h"
#include "routing/routing_table.h"

/* slots a network may occupy, from its hash onwards */
#define LATENCY_PROBE 8

/* weight of a new measurement in the moving average */
#define LATENCY_SMOOTHING 0.3

/* largest round trip accepted, ms: anything longer is a broken measurement */
#define LATENCY_MAX_RTT_MS 600000.0

typedef struct LatencySlot
{
	uint64		region_hash;	/* 0 = unused */
	double		rtt_ms;
	uint32		samples;
	TimestampTz observed_at;
} LatencySlot;

typedef struct LatencyEntry
{
	uint64		key;			/* LatencyNetworkKey(); 0 = empty */
	Oid			dbid;			/* database measured for */
	TimestampTz observed_at;	/* latest measurement of any region */
	LatencySlot regions[LATENCY_REGIONS_PER_NETWORK];
} LatencyEntry;

typedef struct LatencyShared
{
	LWLock	   *lock;			/* guards entries */
	uint32		mask;			/* entries - 1; entries is a power of two */
	LatencyEntry entries[FLEXIBLE_ARRAY_MEMBER];
} LatencyShared;

static LatencyShared *store = NULL;

/* Entries for geoshard.observed_latency_networks: a power of two, or 0. */
static uint32
LatencyEntries(void)
{
	if (geoshard_observed_latency_networks <= 0)
		return 0;
	return pg_nextpower2_32((uint32) geoshard_observed_latency_networks);
}

Size
LatencyShmemSize(void)
{
	return MAXALIGN(add_size(offsetof(LatencyShared, entries),
							 mul_size(LatencyEntries(), sizeof(LatencyEntry))));
}

void
LatencyShmemInit(void *shared, bool found, LWLockPadded *locks)
{
	store = (LatencyShared *) shared;
	if (!found)
	{
		uint32		entries = LatencyEntries();

		store->lock = &locks[0].lock;
		store->mask = entries > 0 ? entries - 1 : 0;
		memset(store->entries, 0, mul_size(entries, sizeof(LatencyEntry)));
	}
	/* no entries means the feature is off */
	if (LatencyEntries() == 0)
		store = NULL;
}

/*
 * Key of the network an address belongs to: the family in the top byte
 * (never 0), then the first 3 (IPv4) or 6 (IPv6) bytes of the address.
 */
uint64
LatencyNetworkKey(const inet *ip)
{
	const unsigned char *addr = ip_addr(ip);
	bool		v4 = ip_family(ip) == PGSQL_AF_INET;
	int			bytes = v4 ? 3 : 6;
	uint64		key = (uint64) (v4 ? 4 : 6) << 56;

	for (int i = 0; i < bytes; i++)
		key |= (uint64) addr[i] << (8 * (bytes - 1 - i));
	return key;
}

/* The network an address belongs to, as text: "192.0.2.0/24". */
char *
LatencyNetworkText(const inet *ip)
{
	const unsigned char *a = ip_addr(ip);

	if (ip_family(ip) == PGSQL_AF_INET)
		return psprintf("%u.%u.%u.0/24", a[0], a[1], a[2]);
	return psprintf("%x:%x:%x::/48", (a[0] << 8) | a[1], (a[2] << 8) | a[3], (a[4] << 8) | a[5]);
}

static inline uint32
LatencyHome(uint64 key)
{
	return hash_bytes_uint32((uint32) key ^ (uint32) (key >> 32)) & store->mask;
}

static inline bool
LatencyFresh(TimestampTz observed_at, TimestampTz now)
{
	return now - observed_at <= (int64) geoshard_observed_latency_max_age * USECS_PER_SEC;
}

int
LatencyLookup(uint64 key, LatencyObservation *out)
{
	uint32		home;
	int			n = 0;

	if (store == NULL || !RoutingServesDatabase())
		return 0;

	home = LatencyHome(key);
	LWLockAcquire(store->lock, LW_SHARED);
	for (int i = 0; i < LATENCY_PROBE; i++)
	{
		LatencyEntry *entry = &store->entries[(home + i) & store->mask];

		if (entry->key == 0)
			break;
		if (entry->key == key && entry->dbid == MyDatabaseId)
		{
			TimestampTz now = GetCurrentTimestamp();

			for (int r = 0; r < LATENCY_REGIONS_PER_NETWORK; r++)
			{
				LatencySlot *slot = &entry->regions[r];

				if (slot->region_hash != 0 && LatencyFresh(slot->observed_at, now))
				{
					out[n].region_hash = slot->region_hash;
					out[n].rtt_ms = slot->rtt_ms;
					out[n].samples = slot->samples;
					n++;
				}
			}
			break;
		}
	}
	LWLockRelease(store->lock);
	return n;
}

/* Record one measurement; the caller holds the lock exclusively. */
static void
LatencyRecord(uint64 key, uint64 region_hash, double rtt_ms, TimestampTz now)
{
	uint32		home = LatencyHome(key);
	LatencyEntry *entry = NULL;
	LatencyEntry *oldest = NULL;
	LatencySlot *slot = NULL;
	LatencySlot *oldest_slot = NULL;

	for (int i = 0; i < LATENCY_PROBE; i++)
	{
		LatencyEntry *e = &store->entries[(home + i) & store->mask];

		if ((e->key == key && e->dbid == MyDatabaseId) || e->key == 0)
		{
			entry = e;
			break;
		}
		if (oldest == NULL || e->observed_at < oldest->observed_at)
			oldest = e;
	}
	if (entry == NULL)
		entry = oldest;			/* evict the least recently observed network */
	if (entry->key != key || entry->dbid != MyDatabaseId)
	{
		memset(entry, 0, sizeof(LatencyEntry));
		entry->key = key;
		entry->dbid = MyDatabaseId;
	}
	entry->observed_at = now;

	for (int r = 0; r < LATENCY_REGIONS_PER_NETWORK; r++)
	{
		LatencySlot *s = &entry->regions[r];

		if (s->region_hash == region_hash)
		{
			slot = s;
			break;
		}
		if (oldest_slot == NULL || s->region_hash == 0 ||
			(oldest_slot->region_hash != 0 && s->observed_at < oldest_slot->observed_at))
			oldest_slot = s;
	}

	if (slot != NULL && LatencyFresh(slot->observed_at, now))
	{
		slot->rtt_ms += LATENCY_SMOOTHING * (rtt_ms - slot->rtt_ms);
		if (slot->samples < PG_UINT32_MAX)
			slot->samples++;
	}
	else
	{
		if (slot == NULL)
			slot = oldest_slot; /* a free slot, or the least recent region */
		slot->region_hash = region_hash;
		slot->rtt_ms = rtt_ms;
		slot->samples = 1;
	}
	slot->observed_at = now;
}

/* geoshard.observe_latency(client, region, rtt_ms): record a measured round trip */
PG_FUNCTION_INFO_V1(observe_latency);
Datum
observe_latency(PG_FUNCTION_ARGS)
{
	inet	   *client = PG_GETARG_INET_PP(0);
	char	   *region = text_to_cstring(PG_GETARG_TEXT_PP(1));
	double		rtt_ms = PG_GETARG_FLOAT8(2);
	const RoutingTable *table;
	bool		known;

	if (!(rtt_ms >= 0.0 && rtt_ms <= LATENCY_MAX_RTT_MS))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("round trip %s ms is out of range", float8out_internal(rtt_ms)),
				 errdetail("A round trip runs from 0 to %.0f ms.", LATENCY_MAX_RTT_MS)));

	table = RoutingTableAcquire();
	known = RoutingFindRegion(table, region) >= 0;
	RoutingTableRelease();
	if (!known)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("region \"%s\" does not exist", region),
				 errhint("List regions with: SELECT * FROM geoshard.regions.")));

	if (store == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("observed latencies are not available"),
				 errhint(GeoshardShmemAttached() ?
						 "Set geoshard.observed_latency_networks above 0 and restart the server." :
						 "Add geoshard to shared_preload_libraries and restart the server.")));
	if (!RoutingServesDatabase())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("observed latencies are kept only for the database named by geoshard.database"),
				 errhint("Connect to that database, or change geoshard.database and reload.")));

	LWLockAcquire(store->lock, LW_EXCLUSIVE);
	LatencyRecord(LatencyNetworkKey(client), RoutingRegionIdHash(region), rtt_ms,
				  GetCurrentTimestamp());
	LWLockRelease(store->lock);

	PG_FREE_IF_COPY(client, 0);
	PG_RETURN_VOID();
}
