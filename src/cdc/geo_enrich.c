/*
 * src/cdc/geo_enrich.c
 *	  The owning node of a quadkey, for the events of the geoshard output
 *	  plugin, read from geoshard.shards as of the decoded change.
 *
 * An output plugin runs under a historic snapshot: the catalogue as it was
 * when the change was made.  It may read catalog tables, and user tables
 * marked user_catalog_table, and nothing else: for an ordinary table the
 * historic snapshot does not know which later transactions committed (only
 * catalog-changing ones are tracked), so recent rows would be invisible or
 * wrong.  geoshard.shards is therefore a user_catalog_table from 0.4 on
 * (src/cdc/cdc.sql and the 0.3 -> 0.4 upgrade), which also makes the node
 * of a change the owner of its tile at the time of that change, not at the
 * time it is decoded.  A table that is not marked (an extension still at
 * 0.3 under a 0.4 library) is not read: "node" is null and a WARNING says
 * why, once per decoding session.  shard_for()'s own cache (shardmap.c)
 * cannot be used here: it reads with the latest snapshot through SPI.
 *
 * The map is loaded with one scan on first use and kept, sorted by prefix,
 * until a relcache invalidation of geoshard.shards: its trigger sends one
 * with every write, which is logged and replayed by the decoder at the same
 * point of the WAL.  Prefixes never overlap, so the only one that can
 * contain a quadkey is the greatest one not above it (as in shardmap.c).
 *
 * The quadkey type is looked up by name in the extension's schema, once per
 * session (again after a full cache reset); without the extension there is
 * no such type, and no table gets the enrichment.
 *
 * State lives in a context under the decoding context, and the static
 * pointer to it is cleared when that context goes (also on error), since
 * the invalidation callbacks, registered once per backend, outlive it.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "cdc/geo_enrich.h"

typedef struct CdcShard
{
	Quadkey		prefix;
	char	   *node;
} CdcShard;

typedef struct CdcGeo
{
	MemoryContext context;		/* this struct */
	MemoryContext map_context;	/* the arrays below; reset on reload */
	bool		type_known;		/* quadkey_type is looked up */
	Oid			quadkey_type;	/* InvalidOid without the extension */
	bool		map_valid;		/* cleared by invalidations */
	Oid			shards_relid;	/* geoshard.shards when loaded */
	bool		warned;			/* the unmarked-table WARNING was given */
	int			nshards;
	struct CdcShard *shards;	/* sorted by prefix */
} CdcGeo;

static CdcGeo *geo = NULL;
static bool callbacks_registered = false;

static void
CdcGeoRelcacheCallback(Datum arg, Oid relid)
{
	if (geo == NULL)
		return;
	if (relid == InvalidOid || relid == geo->shards_relid)
		geo->map_valid = false;
	if (relid == InvalidOid)
		geo->type_known = false;
}

static void
CdcGeoForget(void *arg)
{
	geo = NULL;
}

/* Set up the state of one decoding session in a child of parent. */
void
CdcGeoStart(MemoryContext parent)
{
	MemoryContext context = AllocSetContextCreate(parent, "geoshard cdc shard map",
												  ALLOCSET_SMALL_SIZES);
	MemoryContextCallback *forget = MemoryContextAlloc(context, sizeof(MemoryContextCallback));

	geo = MemoryContextAllocZero(context, sizeof(CdcGeo));
	geo->context = context;
	geo->map_context = AllocSetContextCreate(context, "geoshard cdc shard map entries",
											 ALLOCSET_SMALL_SIZES);
	forget->func = CdcGeoForget;
	forget->arg = NULL;
	MemoryContextRegisterResetCallback(context, forget);

	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(CdcGeoRelcacheCallback, (Datum) 0);
		callbacks_registered = true;
	}
}

/* The schema of extension geoshard, or InvalidOid when it is not created. */
static Oid
ExtensionSchema(void)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			nspid = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("geoshard"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		nspid = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nspid;
}

/* The oid of type quadkey, or InvalidOid when geoshard is not created. */
Oid
CdcGeoQuadkeyType(void)
{
	Assert(geo != NULL);
	if (!geo->type_known)
	{
		Oid			nspid = ExtensionSchema();

		geo->quadkey_type = OidIsValid(nspid) ?
			GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
							CStringGetDatum("quadkey"), ObjectIdGetDatum(nspid)) :
			InvalidOid;
		geo->type_known = true;
	}
	return geo->quadkey_type;
}

static int
ShardCompare(const void *a, const void *b)
{
	Quadkey		x = ((const CdcShard *) a)->prefix;
	Quadkey		y = ((const CdcShard *) b)->prefix;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* Read geoshard.shards with the historic snapshot into the map. */
static void
ShardMapLoad(void)
{
	Oid			nspid = get_namespace_oid("geoshard", true);
	Oid			relid = OidIsValid(nspid) ? get_relname_relid("shards", nspid) : InvalidOid;
	Relation	rel;
	TupleDesc	desc;
	SysScanDesc scan;
	HeapTuple	tuple;
	AttrNumber	prefix_att;
	AttrNumber	node_att;
	int			allocated = 16;
	CdcShard   *shards;

	/* an invalidation arriving during the load clears this again */
	geo->map_valid = true;
	MemoryContextReset(geo->map_context);
	geo->nshards = 0;
	geo->shards_relid = relid;
	if (!OidIsValid(relid))
		return;

	rel = table_open(relid, AccessShareLock);
	if (!RelationIsUsedAsCatalogTable(rel))
	{
		if (!geo->warned)
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot read \"geoshard.shards\" during logical decoding"),
					 errdetail("The table is not a user_catalog_table, so events carry no node."),
					 errhint("Run ALTER EXTENSION geoshard UPDATE.")));
		geo->warned = true;
		table_close(rel, AccessShareLock);
		return;
	}

	desc = RelationGetDescr(rel);
	prefix_att = get_attnum(relid, "prefix");
	node_att = get_attnum(relid, "node");
	if (prefix_att == InvalidAttrNumber || node_att == InvalidAttrNumber)
		elog(ERROR, "geoshard.shards has no column \"prefix\" or \"node\"");
	shards = MemoryContextAlloc(geo->map_context, sizeof(CdcShard) * allocated);

	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		bool		prefix_null;
		bool		node_null;
		Datum		prefix = heap_getattr(tuple, prefix_att, desc, &prefix_null);
		Datum		node = heap_getattr(tuple, node_att, desc, &node_null);
		MemoryContext old;

		/* both columns are NOT NULL (primary key, constraint) */
		if (prefix_null || node_null)
			continue;
		if (geo->nshards == allocated)
		{
			allocated *= 2;
			shards = repalloc(shards, sizeof(CdcShard) * allocated);
		}
		old = MemoryContextSwitchTo(geo->map_context);
		shards[geo->nshards].prefix = DatumGetQuadkey(prefix);
		shards[geo->nshards].node = TextDatumGetCString(node);
		MemoryContextSwitchTo(old);
		geo->nshards++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	qsort(shards, geo->nshards, sizeof(CdcShard), ShardCompare);
	geo->shards = shards;
}

/* Append "node": the owner of qk in the shard map, or null. */
void
CdcGeoAppendNode(StringInfo buf, Quadkey qk)
{
	int			lo = 0;
	int			hi;

	Assert(geo != NULL);
	if (!geo->map_valid)
		ShardMapLoad();

	hi = geo->nshards;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (geo->shards[mid].prefix <= qk)
			lo = mid + 1;
		else
			hi = mid;
	}

	appendStringInfoString(buf, ",\"node\":");
	if (lo == 0 || !QuadkeyContains(geo->shards[lo - 1].prefix, qk))
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, geo->shards[lo - 1].node);
}
