/*
 * src/geo/shardmap.c
 *	  shard_for(qk): the node owning a quadkey, from geoshard.shards.
 *
 * Each backend keeps the shard map as a sorted array of prefixes with their
 * nodes, loaded with one query on first use and dropped when the table
 * changes.  A statement trigger on geoshard.shards sends a relcache
 * invalidation for the table; every backend (the writer included, at the
 * end of its statement) then sees the callback below and reloads on its next
 * call.  The map is read with the latest snapshot, as catalogues are, not
 * with the caller's: a cache built from a repeatable-read transaction's old
 * snapshot would otherwise outlive that transaction and never be corrected,
 * since the invalidations it missed were already processed.  The load
 * (catalog_cache.c) also works in parallel workers, which keep a map of
 * their own, and ignores the caller's search_path.
 *
 * The trigger fires in every session_replication_role (ENABLE ALWAYS), and
 * a row-level twin fires where statement triggers do not: in logical
 * replication's apply worker.
 *
 * Prefixes never overlap (an exclusion constraint refuses that), and
 * descendants sort right after their ancestor, so the only prefix that can
 * contain qk is the greatest one not above it: one binary search per call.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "core/catalog_cache.h"
#include "geo/quadkey.h"

typedef struct ShardCache
{
	MemoryContext context;		/* holds the arrays; reset on reload */
	Oid			relid;			/* geoshard.shards when loaded */
	uint64		generation;		/* bumped by every invalidation */
	bool		valid;
	int			nshards;
	Quadkey    *prefixes;		/* sorted */
	text	  **nodes;
} ShardCache;

static ShardCache cache;

static void
ShardCacheInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cache.relid)
	{
		cache.generation++;
		cache.valid = false;
	}
}

static void
ShardCacheLoad(void)
{
	Oid			nspid = get_namespace_oid("geoshard", true);
	Oid			relid = OidIsValid(nspid) ? get_relname_relid("shards", nspid) : InvalidOid;
	uint64		generation = cache.generation;
	CatalogCacheLoad load;

	if (cache.context == NULL)
	{
		cache.context = AllocSetContextCreate(TopMemoryContext, "geoshard shard map",
											  ALLOCSET_SMALL_SIZES);
		CacheRegisterRelcacheCallback(ShardCacheInvalidate, (Datum) 0);
	}

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"geoshard.shards\" does not exist"),
				 errhint("Run CREATE EXTENSION geoshard in this database.")));

	MemoryContextReset(cache.context);
	cache.valid = false;
	cache.relid = relid;
	cache.nshards = 0;

	CatalogCacheLoadBegin(&load, InvalidOid);
	CatalogCacheLoadQuery("SELECT prefix, node FROM geoshard.shards ORDER BY prefix",
						  "geoshard.shards", true);

	cache.prefixes = MemoryContextAlloc(cache.context, mul_size(sizeof(Quadkey), SPI_processed + 1));
	cache.nodes = MemoryContextAlloc(cache.context, mul_size(sizeof(text *), SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		prefix = SPI_getbinval(tuple, desc, 1, &isnull);
		Datum		node = SPI_getbinval(tuple, desc, 2, &isnull);
		MemoryContext old = MemoryContextSwitchTo(cache.context);

		cache.prefixes[i] = DatumGetQuadkey(prefix);
		cache.nodes[i] = DatumGetTextPCopy(node);
		MemoryContextSwitchTo(old);
	}
	cache.nshards = (int) SPI_processed;
	CatalogCacheLoadEnd(&load);

	/* an invalidation that arrived while loading means the load is stale */
	cache.valid = (cache.generation == generation);
}

/* shard_for(qk): node of the prefix containing qk, NULL when none does */
PG_FUNCTION_INFO_V1(shard_for);
Datum
shard_for(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	int			lo = 0;
	int			hi;

	if (!cache.valid)
		ShardCacheLoad();

	/* find the greatest prefix <= qk */
	hi = cache.nshards;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (cache.prefixes[mid] <= qk)
			lo = mid + 1;
		else
			hi = mid;
	}

	if (lo == 0 || !QuadkeyContains(cache.prefixes[lo - 1], qk))
		PG_RETURN_NULL();

	PG_RETURN_TEXT_P(DatumGetTextPCopy(PointerGetDatum(cache.nodes[lo - 1])));
}

/* geoshard.shards_changed(): statement trigger telling every backend to reload */
PG_FUNCTION_INFO_V1(shards_changed);
Datum
shards_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("shards_changed() must be called as a trigger")));

	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
