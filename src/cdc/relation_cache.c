/*
 * src/cdc/relation_cache.c
 *	  Per-table state of the geoshard output plugin: whether the table
 *	  passes the filters, its columns with their JSON name/type prefixes and
 *	  value writers, its key columns, its replica identity columns and its
 *	  quadkey column.
 *
 * Built on the first change of a table in a decoding session, under the
 * historic snapshot (so it describes the table as the change saw it), and
 * rebuilt after a relcache invalidation of the table (which the decoder
 * replays where the WAL logged it: ALTER TABLE between two changes gives two
 * builds), or after any change to a schema or a type (renames change the
 * names we print).  Per change, nothing is looked up in the syscache.
 *
 * The key printed as "pk" is the primary key's, else the replica identity
 * index's.  A table with neither and without REPLICA IDENTITY FULL is
 * keyless: its updates and deletes cannot name their row.
 *
 * Entries live in a hash table under the decoding context; each entry's
 * data in a context of its own, dropped on rebuild.  The static pointer to
 * the hash table is cleared when the decoding context goes (also on error),
 * since the invalidation callbacks, registered once per backend, outlive it.
 * Callbacks only clear flags: an invalidation can arrive in the middle of a
 * build (table_open accepts invalidations), and the entry is then rebuilt
 * at its next use.
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/pg_class.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "cdc/geo_enrich.h"
#include "cdc/relation_cache.h"

typedef struct CdcRelationCache
{
	MemoryContext context;		/* the hash table and the entries' contexts */
	HTAB	   *entries;		/* CdcRelation by relid */
} CdcRelationCache;

static CdcRelationCache *cache = NULL;
static bool callbacks_registered = false;

static void
InvalidateAll(void)
{
	HASH_SEQ_STATUS status;
	CdcRelation *entry;

	hash_seq_init(&status, cache->entries);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

static void
CdcRelationRelcacheCallback(Datum arg, Oid relid)
{
	CdcRelation *entry;

	if (cache == NULL)
		return;
	if (relid == InvalidOid)
		InvalidateAll();
	else if ((entry = hash_search(cache->entries, &relid, HASH_FIND, NULL)) != NULL)
		entry->valid = false;
}

static void
CdcRelationSyscacheCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	if (cache != NULL)
		InvalidateAll();
}

static void
CdcRelationCacheForget(void *arg)
{
	cache = NULL;
}

/* Set up the cache of one decoding session in a child of parent. */
void
CdcRelationCacheStart(MemoryContext parent)
{
	MemoryContext context = AllocSetContextCreate(parent, "geoshard cdc relations",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContextCallback *forget = MemoryContextAlloc(context, sizeof(MemoryContextCallback));
	HASHCTL		ctl;

	cache = MemoryContextAllocZero(context, sizeof(CdcRelationCache));
	cache->context = context;
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(CdcRelation);
	ctl.hcxt = context;
	cache->entries = hash_create("geoshard cdc relations", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	forget->func = CdcRelationCacheForget;
	forget->arg = NULL;
	MemoryContextRegisterResetCallback(context, forget);

	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(CdcRelationRelcacheCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, CdcRelationSyscacheCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, CdcRelationSyscacheCallback, (Datum) 0);
		callbacks_registered = true;
	}
}

/*
 * The type's name as "type" shows it: built-in types by their SQL name
 * (integer, character varying(20)), every other type schema-qualified, so
 * the name does not depend on the decoding session's search_path.
 */
static char *
ColumnTypeName(Oid typid, int32 typmod)
{
	bits16		flags = FORMAT_TYPE_TYPEMOD_GIVEN;

	if (typid >= FirstNormalObjectId)
		flags |= FORMAT_TYPE_FORCE_QUALIFY;
	return format_type_extended(typid, typmod, flags);
}

static void
AddKeyColumns(CdcRelation *entry, Oid indexoid, const int *column_of)
{
	Relation	index = RelationIdGetRelation(indexoid);

	if (!RelationIsValid(index))
		elog(ERROR, "could not open index with OID %u", indexoid);
	entry->pk = palloc(sizeof(int) * index->rd_index->indnkeyatts);
	for (int k = 0; k < index->rd_index->indnkeyatts; k++)
	{
		AttrNumber	attnum = index->rd_index->indkey.values[k];

		/* keys of a primary key or replica identity index are plain columns */
		if (attnum > 0 && column_of[attnum - 1] >= 0)
			entry->pk[entry->npk++] = column_of[attnum - 1];
	}
	RelationClose(index);
}

static void
RelationBuild(CdcRelation *entry, Relation rel, const CdcOptions *opts)
{
	TupleDesc	desc = RelationGetDescr(rel);
	char	   *schema = get_namespace_name(RelationGetNamespace(rel));
	Oid			quadkey_type;
	Oid			keyindex;
	int		   *column_of;
	StringInfoData s;
	MemoryContext old;

	/* an invalidation during the build clears this again */
	entry->valid = true;
	if (entry->context != NULL)
		MemoryContextDelete(entry->context);
	entry->context = AllocSetContextCreate(cache->context, "geoshard cdc relation",
										   ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(entry->context);

	entry->included = CdcOptionsTableIncluded(opts, schema, RelationGetRelationName(rel));
	entry->ncolumns = 0;
	entry->npk = 0;
	entry->nident = 0;
	entry->quadkey = -1;
	entry->keyless = false;
	if (!entry->included)
	{
		MemoryContextSwitchTo(old);
		return;
	}

	initStringInfo(&s);
	appendStringInfoString(&s, ",\"schema\":");
	escape_json(&s, schema);
	appendStringInfoString(&s, ",\"table\":");
	escape_json(&s, RelationGetRelationName(rel));
	entry->names = s.data;
	entry->nameslen = s.len;

	quadkey_type = CdcGeoQuadkeyType();
	entry->columns = palloc(sizeof(CdcColumn) * Max(desc->natts, 1));
	column_of = palloc(sizeof(int) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		CdcColumn  *col = &entry->columns[entry->ncolumns];

		column_of[i] = -1;
		if (att->attisdropped)
			continue;
		column_of[i] = entry->ncolumns++;
		col->index = i;
		col->typlen = att->attlen;

		initStringInfo(&s);
		escape_json(&s, NameStr(att->attname));
		col->name = s.data;

		initStringInfo(&s);
		appendStringInfoString(&s, "{\"name\":");
		appendStringInfoString(&s, col->name);
		appendStringInfoString(&s, ",\"type\":");
		escape_json(&s, ColumnTypeName(att->atttypid, att->atttypmod));
		appendStringInfoString(&s, ",\"value\":");
		col->head = s.data;
		col->headlen = s.len;

		CdcJsonTypeInit(&col->type, att->atttypid, entry->context);
		if (entry->quadkey < 0 && OidIsValid(quadkey_type) && att->atttypid == quadkey_type)
			entry->quadkey = column_of[i];
	}

	keyindex = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(keyindex))
		keyindex = RelationGetReplicaIndex(rel);
	if (OidIsValid(keyindex))
		AddKeyColumns(entry, keyindex, column_of);

	entry->ident = palloc(sizeof(int) * Max(entry->ncolumns, 1));
	if (rel->rd_rel->relreplident == REPLICA_IDENTITY_FULL)
	{
		for (int c = 0; c < entry->ncolumns; c++)
			entry->ident[entry->nident++] = c;
	}
	else
	{
		Bitmapset  *identity = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_IDENTITY_KEY);

		for (int c = 0; c < entry->ncolumns; c++)
		{
			AttrNumber	attnum = entry->columns[c].index + 1;

			if (bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, identity))
				entry->ident[entry->nident++] = c;
		}
	}

	entry->keyless = (entry->npk == 0 && rel->rd_rel->relreplident != REPLICA_IDENTITY_FULL);
	MemoryContextSwitchTo(old);
}

/* The cache entry of a relation, built or rebuilt when needed. */
CdcRelation *
CdcRelationGet(Relation rel, const CdcOptions *opts)
{
	Oid			relid = RelationGetRelid(rel);
	bool		found;
	CdcRelation *entry;

	Assert(cache != NULL);
	entry = hash_search(cache->entries, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->warned = false;
		entry->context = NULL;
	}
	if (!entry->valid)
		RelationBuild(entry, rel, opts);
	return entry;
}
