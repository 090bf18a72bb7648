/*
 * src/routing/routing_table.c
 *	  The routing table: geoshard.regions and geoshard.geo_fences copied into
 *	  memory, where route_region reads them without running SQL, plus each
 *	  region's circuit breaker state.
 *
 * Where the table lives:
 *   - in shared memory ("geoshard routing"), when geoshard is preloaded and
 *     the backend is connected to geoshard.database: one copy for all
 *     backends, carrying the breaker states the health worker (or
 *     geoshard.set_region_breaker) writes;
 *   - in backend-local memory otherwise (not preloaded, another database,
 *     or a transaction that changed the catalogue and must see its own
 *     changes): reloaded after a relcache invalidation of either table, and
 *     without breaker states, except what it copies from the shared table.
 *
 * Keeping the shared copy current: a statement trigger on both tables
 * (geoshard.routing_changed, firing in every session_replication_role, with
 * a row-level twin for logical replication's apply worker, which fires no
 * statement triggers) marks the transaction, and when it commits the
 * backend bumps the shared counter "changes".  A reader compares the counter
 * with the one the shared table was loaded at; when they differ it loads the
 * catalogue with a snapshot taken after reading the counter and installs it,
 * unless somebody installed a load at least as recent meanwhile.  A commit
 * racing with a load bumps the counter after its data became visible, so at
 * worst it causes one more load.  Loads run SPI outside the lock and copy
 * in under LW_EXCLUSIVE; readers hold LW_SHARED only while scoring.
 *
 * The catalogue is read as the owner of geoshard.regions, with the latest
 * snapshot and a pinned search_path (catalog_cache.c), so that neither the
 * caller's snapshot nor its search_path shapes what every session reads.
 * Parallel workers use the shared table too, unless their leader's
 * transaction has written anything: a worker cannot tell whether that was
 * the catalogue, so it loads a private copy, which sees the leader's
 * uncommitted changes as the leader's own private copy does.
 * The same loader validates every change inside the trigger, so a change
 * the table cannot hold (too many regions, malformed fences) fails at once
 * rather than at the next route_region.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "core/catalog_cache.h"
#include "core/guc.h"
#include "core/shmem.h"
#include "routing/country.h"
#include "routing/routing_table.h"

typedef struct RoutingShared
{
	LWLock	   *lock;			/* guards everything below but changes */
	pg_atomic_uint64 changes;	/* catalogue commits so far; atomic, no lock */
	bool		valid;			/* table holds a load */
	Oid			dbid;			/* database and geoshard.regions of the load */
	Oid			relid;
	uint64		loaded_changes; /* value of changes read before the load */
	RoutingTable table;
} RoutingShared;

static RoutingShared *routing_shared = NULL;

/* this backend's view */
static struct
{
	bool		registered;		/* callbacks installed */
	bool		relids_valid;
	Oid			regions_relid;
	Oid			fences_relid;
	char	   *database_setting;	/* geoshard.database the decision below is for */
	bool		serves_database;	/* connected to geoshard.database */
	RoutingTable *local;		/* backend-local table, in TopMemoryContext */
	bool		local_valid;
	uint64		generation;		/* bumped by every invalidation */
	RoutingTable *scratch;		/* loads destined for shared memory */
	bool		pending;		/* this transaction changed the catalogue */
	bool		locked;			/* holding routing_shared->lock */
} state;

#define ROUTING_REGIONS_QUERY \
	"SELECT id, lat, lon, cost, capacity, load, enabled, drained" \
	" FROM geoshard.regions ORDER BY id COLLATE pg_catalog.\"C\""

#define ROUTING_FENCES_QUERY \
	"SELECT name, countries, regions" \
	" FROM geoshard.geo_fences ORDER BY name COLLATE pg_catalog.\"C\""

Size
RoutingShmemSize(void)
{
	return MAXALIGN(sizeof(RoutingShared));
}

void
RoutingShmemInit(void *shared, bool found, LWLockPadded *locks)
{
	routing_shared = (RoutingShared *) shared;
	if (!found)
	{
		routing_shared->lock = &locks[0].lock;
		pg_atomic_init_u64(&routing_shared->changes, 0);
		routing_shared->valid = false;
	}
}

const char *
RoutingBreakerName(RoutingBreaker breaker)
{
	switch (breaker)
	{
		case ROUTING_BREAKER_CLOSED:
			return "closed";
		case ROUTING_BREAKER_HALF_OPEN:
			return "half_open";
		case ROUTING_BREAKER_OPEN:
			return "open";
	}
	return "unknown";
}

/* A country code packed big-endian into 8 bytes, so keys sort like codes. */
uint64
RoutingCountryKey(const char *country, int len)
{
	uint64		key = 0;

	for (int i = 0; i < ROUTING_COUNTRY_LEN; i++)
		key = (key << 8) | (uint64) (i < len ? (unsigned char) country[i] : 0);
	return key;
}

/* Stable 64-bit key of a region id, never 0. */
uint64
RoutingRegionIdHash(const char *id)
{
	return hash_bytes_extended((const unsigned char *) id, (int) strlen(id), 0) | 1;
}

/* Slot of region id in table (regions are sorted by id), or -1. */
int
RoutingFindRegion(const RoutingTable *table, const char *id)
{
	int			lo = 0;
	int			hi = table->nregions;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			cmp = strcmp(table->regions[mid].id, id);

		if (cmp == 0)
			return mid;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void
RoutingRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == state.regions_relid || relid == state.fences_relid)
	{
		state.relids_valid = false;
		state.local_valid = false;
		state.generation++;
	}
}

static void
RoutingXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (state.pending)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that changed the routing catalogue"),
						 errdetail("Routing learns of catalogue changes when the changing backend commits.")));
			break;
		case XACT_EVENT_COMMIT:
			if (state.pending && routing_shared != NULL)
				pg_atomic_fetch_add_u64(&routing_shared->changes, 1);
			state.pending = false;
			state.locked = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
			state.pending = false;
			state.locked = false;	/* the abort released every LWLock */
			break;
		default:
			break;
	}
}

static void
RoutingSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		state.locked = false;	/* the abort released every LWLock */
}

static void
RoutingRegisterCallbacks(void)
{
	if (state.registered)
		return;
	state.local = MemoryContextAllocZero(TopMemoryContext, sizeof(RoutingTable));
	CacheRegisterRelcacheCallback(RoutingRelcacheCallback, (Datum) 0);
	RegisterXactCallback(RoutingXactCallback, NULL);
	RegisterSubXactCallback(RoutingSubXactCallback, NULL);
	state.registered = true;
}

/* geoshard.regions of this database; errors when the extension is missing. */
static Oid
RoutingRegionsRelid(void)
{
	if (!state.relids_valid)
	{
		Oid			nspid = get_namespace_oid("geoshard", true);

		state.regions_relid = OidIsValid(nspid) ? get_relname_relid("regions", nspid) : InvalidOid;
		state.fences_relid = OidIsValid(nspid) ? get_relname_relid("geo_fences", nspid) : InvalidOid;
		if (!OidIsValid(state.regions_relid) || !OidIsValid(state.fences_relid))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("relation \"geoshard.regions\" does not exist"),
					 errhint("Run CREATE EXTENSION geoshard in this database.")));
		state.relids_valid = true;
	}
	return state.regions_relid;
}

/* Does this backend use the shared table? */
static bool
RoutingUsesShared(void)
{
	const char *setting = geoshard_database ? geoshard_database : "";

	if (routing_shared == NULL)
		return false;
	if (state.database_setting == NULL || strcmp(state.database_setting, setting) != 0)
	{
		char	   *name = get_database_name(MyDatabaseId);

		if (state.database_setting != NULL)
			pfree(state.database_setting);
		state.database_setting = MemoryContextStrdup(TopMemoryContext, setting);
		state.serves_database = name != NULL && strcmp(name, setting) == 0;
	}
	return state.serves_database;
}

/*
 * Is this backend preloaded and connected to geoshard.database, the one
 * database whose breaker states and measured latencies shared memory keeps?
 */
bool
RoutingServesDatabase(void)
{
	return RoutingUsesShared();
}

static void
pg_attribute_noreturn()
RoutingLimitExceeded(const char *what, int limit)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("too many %s for the routing table", what),
			 errdetail("The routing table holds at most %d.", limit)));
}

static void
pg_attribute_noreturn()
RoutingInvalidRow(const char *table, const char *key, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid row \"%s\" in %s", key, table),
			 errdetail_internal("%s", detail)));
}

/* Copy a name of at most ROUTING_NAME_LEN - 1 bytes into dst. */
static void
RoutingCopyName(char *dst, text *src, const char *table)
{
	int			len = VARSIZE_ANY_EXHDR(src);

	if (len < 1 || len >= ROUTING_NAME_LEN)
		RoutingInvalidRow(table, text_to_cstring(src),
						  psprintf("Names must have 1 to %d bytes.", ROUTING_NAME_LEN - 1));
	memcpy(dst, VARDATA_ANY(src), len);
	dst[len] = '\0';
}

/*
 * Run a catalogue query (catalog_cache.c); rows are left in SPI_tuptable,
 * and more than limit of them is an error.
 */
static void
RoutingQuery(const char *sql, const char *table, const char *what, int limit, bool read_only)
{
	CatalogCacheLoadQuery(sql, table, read_only);
	if (SPI_processed > (uint64) limit)
		RoutingLimitExceeded(what, limit);
}

/* The columns of result row i, none of which may be null. */
static void
RoutingGetRow(uint64 i, int ncolumns, Datum *values, const char *table)
{
	HeapTuple	tuple = SPI_tuptable->vals[i];
	TupleDesc	desc = SPI_tuptable->tupdesc;

	for (int c = 0; c < ncolumns; c++)
	{
		bool		isnull;

		values[c] = SPI_getbinval(tuple, desc, c + 1, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("null value in column \"%s\" of %s", SPI_fname(desc, c + 1), table)));
	}
}

static void
RoutingLoadRegions(RoutingTable *dst, bool read_only)
{
	const char *table = "geoshard.regions";

	RoutingQuery(ROUTING_REGIONS_QUERY, table, "regions", ROUTING_MAX_REGIONS, read_only);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		RoutingRegion *r = &dst->regions[i];
		Datum		v[8];
		double		capacity;
		double		load;

		RoutingGetRow(i, 8, v, table);
		RoutingCopyName(r->id, DatumGetTextPP(v[0]), table);
		r->lat = DatumGetFloat8(v[1]);
		r->lon = DatumGetFloat8(v[2]);
		r->cost = DatumGetFloat8(v[3]);
		capacity = DatumGetFloat8(v[4]);
		load = DatumGetFloat8(v[5]);
		r->enabled = DatumGetBool(v[6]);
		r->drained = DatumGetBool(v[7]);

		/* the constraints say the same; a dropped constraint must not crash routing */
		if (!(r->lat >= -90.0 && r->lat <= 90.0 && r->lon >= -180.0 && r->lon <= 180.0))
			RoutingInvalidRow(table, r->id, "Latitude must be between -90 and 90 and longitude between -180 and 180.");
		if (!(r->cost >= 0.0 && r->cost < HUGE_VAL && capacity > 0.0 && capacity < HUGE_VAL &&
			  load >= 0.0 && load < HUGE_VAL))
			RoutingInvalidRow(table, r->id, "Cost and load must be finite and 0 or more, capacity finite and above 0.");

		r->coslat = cos(r->lat * (M_PI / 180.0));
		r->sinhalflat = sin(r->lat * (M_PI / 360.0));
		r->coshalflat = cos(r->lat * (M_PI / 360.0));
		r->sinhalflon = sin(r->lon * (M_PI / 360.0));
		r->coshalflon = cos(r->lon * (M_PI / 360.0));
		/* finite over finite overflows for tiny capacities: keep it finite (score.c) */
		r->load_fraction = Min(load / capacity, DBL_MAX);
		r->id_hash = RoutingRegionIdHash(r->id);
		r->breaker = ROUTING_BREAKER_CLOSED;
		r->degraded = false;
	}
	dst->nregions = (int) SPI_processed;
}

static int
RoutingCompareFenceCountries(const void *a, const void *b)
{
	const RoutingFenceCountry *x = a;
	const RoutingFenceCountry *y = b;

	if (x->country != y->country)
		return x->country < y->country ? -1 : 1;
	return x->fence - y->fence;
}

/*
 * Set while the trigger checks a change of geoshard.geo_fences: a country
 * code no GeoIP answer carries ('UK', 'DEU') would never match, so the fence
 * would silently let everyone out.  Checked only when the fences themselves
 * change, never when they are read or when a region changes, so that a fence
 * written before the check existed blocks neither routing nor draining a
 * region in an incident, only the next edit of the fences.
 */
static bool check_fence_countries = false;

static void
RoutingLoadFences(RoutingTable *dst, bool read_only)
{
	const char *table = "geoshard.geo_fences";

	RoutingQuery(ROUTING_FENCES_QUERY, table, "geo-fences", ROUTING_MAX_FENCES, read_only);
	dst->nfences = 0;
	dst->ncountries = 0;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		RoutingFence *f = &dst->fences[i];
		Datum		v[3];
		Datum	   *elems;
		bool	   *elem_nulls;
		int			nelems;

		RoutingGetRow(i, 3, v, table);
		RoutingCopyName(f->name, DatumGetTextPP(v[0]), table);
		memset(f->allowed, 0, sizeof(f->allowed));

		deconstruct_array(DatumGetArrayTypeP(v[1]), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &elem_nulls, &nelems);
		for (int e = 0; e < nelems; e++)
		{
			text	   *code;
			int			len;
			const char *p;

			if (elem_nulls[e])
				RoutingInvalidRow(table, f->name, "Countries must not be null.");
			code = DatumGetTextPP(elems[e]);
			len = VARSIZE_ANY_EXHDR(code);
			p = VARDATA_ANY(code);
			if (len < 1 || len > ROUTING_COUNTRY_LEN)
				RoutingInvalidRow(table, f->name,
								  psprintf("Country \"%s\" is not a country code of 1 to %d letters or digits.",
										   text_to_cstring(code), ROUTING_COUNTRY_LEN));
			for (int c = 0; c < len; c++)
				if (!((p[c] >= 'A' && p[c] <= 'Z') || (p[c] >= '0' && p[c] <= '9')))
					RoutingInvalidRow(table, f->name,
									  psprintf("Country \"%s\" must be upper-case letters and digits, as in GeoIP files.",
											   text_to_cstring(code)));
			if (check_fence_countries)
				CountryCheckCode(p, len);
			if (dst->ncountries >= ROUTING_MAX_FENCE_COUNTRIES)
				RoutingLimitExceeded("geo-fence countries", ROUTING_MAX_FENCE_COUNTRIES);
			dst->countries[dst->ncountries].country = RoutingCountryKey(p, len);
			dst->countries[dst->ncountries].fence = (int) i;
			dst->ncountries++;
		}

		/* regions that do not exist allow nothing: a fence only ever narrows */
		deconstruct_array(DatumGetArrayTypeP(v[2]), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &elem_nulls, &nelems);
		for (int e = 0; e < nelems; e++)
		{
			int			slot;

			if (elem_nulls[e])
				RoutingInvalidRow(table, f->name, "Regions must not be null.");
			slot = RoutingFindRegion(dst, text_to_cstring(DatumGetTextPP(elems[e])));
			if (slot >= 0)
				f->allowed[slot / 64] |= UINT64CONST(1) << (slot % 64);
		}
	}
	dst->nfences = (int) SPI_processed;
	qsort(dst->countries, dst->ncountries, sizeof(RoutingFenceCountry), RoutingCompareFenceCountries);
}

/* Owner of a relation: the catalogue is read as its owner. */
static Oid
RoutingRelationOwner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * Load the catalogue into dst with the latest snapshot, as the owner of
 * geoshard.regions.  read_only is false only inside the trigger, where the
 * statement's own changes must be seen.
 */
static void
RoutingTableLoad(RoutingTable *dst, Oid regions_relid, bool read_only)
{
	CatalogCacheLoad load;

	CatalogCacheLoadBegin(&load, RoutingRelationOwner(regions_relid));
	dst->nregions = 0;
	dst->panic = false;
	dst->nfences = 0;
	dst->ncountries = 0;
	RoutingLoadRegions(dst, read_only);
	RoutingLoadFences(dst, read_only);
	CatalogCacheLoadEnd(&load);
}

/* Copy health states of regions that src and dst share (both sorted by id). */
static void
RoutingCarryBreakers(RoutingTable *dst, const RoutingTable *src)
{
	int			i = 0;
	int			j = 0;

	dst->panic = src->panic;
	while (i < dst->nregions && j < src->nregions)
	{
		int			cmp = strcmp(dst->regions[i].id, src->regions[j].id);

		if (cmp == 0)
		{
			dst->regions[i].breaker = src->regions[j].breaker;
			dst->regions[i++].degraded = src->regions[j++].degraded;
		}
		else if (cmp < 0)
			i++;
		else
			j++;
	}
}

/* Is the shared table a load of this database's catalogue? */
static inline bool
RoutingSharedIsOurs(Oid relid)
{
	return routing_shared->valid && routing_shared->dbid == MyDatabaseId &&
		routing_shared->relid == relid;
}

/*
 * The backend-local table, reloaded when invalidated; with breaker states
 * copied from the shared table when there is one for this database.
 */
static const RoutingTable *
RoutingLocalTable(Oid relid)
{
	if (!state.local_valid)
	{
		uint64		generation = state.generation;

		RoutingTableLoad(state.local, relid, true);
		/* an invalidation that arrived while loading makes the load stale */
		state.local_valid = (state.generation == generation);
	}
	if (RoutingUsesShared())
	{
		LWLockAcquire(routing_shared->lock, LW_SHARED);
		if (RoutingSharedIsOurs(relid))
			RoutingCarryBreakers(state.local, &routing_shared->table);
		LWLockRelease(routing_shared->lock);
	}
	return state.local;
}

/*
 * Must this backend route from a private copy because its transaction may
 * have changed the catalogue?
 */
static bool
RoutingSeesOwnChanges(void)
{
	if (state.pending)
		return true;
	/* a worker does not know its leader's pending flag */
	return IsParallelWorker() && TransactionIdIsValid(GetTopTransactionIdIfAny());
}

const RoutingTable *
RoutingTableAcquire(void)
{
	Oid			relid;

	Assert(!state.locked);
	RoutingRegisterCallbacks();
	relid = RoutingRegionsRelid();

	if (!RoutingUsesShared() || RoutingSeesOwnChanges())
		return RoutingLocalTable(relid);

	/*
	 * Two loads at most: a change committed during the second is served by
	 * the next call.
	 */
	for (int attempt = 0; attempt < 3; attempt++)
	{
		uint64		changes = pg_atomic_read_u64(&routing_shared->changes);

		LWLockAcquire(routing_shared->lock, LW_SHARED);
		if (RoutingSharedIsOurs(relid) &&
			(routing_shared->loaded_changes == changes || attempt == 2))
		{
			state.locked = true;
			return &routing_shared->table;
		}
		LWLockRelease(routing_shared->lock);
		if (attempt == 2)
			break;

		if (state.scratch == NULL)
			state.scratch = MemoryContextAllocZero(TopMemoryContext, sizeof(RoutingTable));
		RoutingTableLoad(state.scratch, relid, true);

		LWLockAcquire(routing_shared->lock, LW_EXCLUSIVE);
		if (!RoutingSharedIsOurs(relid) || routing_shared->loaded_changes < changes)
		{
			if (routing_shared->valid && routing_shared->dbid == MyDatabaseId)
				RoutingCarryBreakers(state.scratch, &routing_shared->table);
			memcpy(&routing_shared->table, state.scratch, sizeof(RoutingTable));
			routing_shared->valid = true;
			routing_shared->dbid = MyDatabaseId;
			routing_shared->relid = relid;
			routing_shared->loaded_changes = changes;
		}
		LWLockRelease(routing_shared->lock);
	}

	/*
	 * Another database replaced the shared table each time: backends
	 * disagree on geoshard.database while a reload spreads.  Route from a
	 * private copy rather than fight over it.
	 */
	return RoutingLocalTable(relid);
}

void
RoutingTableRelease(void)
{
	if (state.locked)
	{
		state.locked = false;
		LWLockRelease(routing_shared->lock);
	}
}

/*
 * geoshard.routing_changed(): trigger validating and publishing catalogue
 * changes.  The statement trigger validates; the row-level one fires only
 * with session_replication_role = replica, in logical replication's apply
 * worker (which fires no statement triggers), where the publisher already
 * validated, so it only publishes.
 */
PG_FUNCTION_INFO_V1(routing_changed);
Datum
routing_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("routing_changed() must be called as a trigger")));

	RoutingRegisterCallbacks();
	if (TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
	{
		RoutingTable *check = palloc(sizeof(RoutingTable));
		Oid			regions_relid = RoutingRegionsRelid();

		check_fence_countries = RelationGetRelid(trigdata->tg_relation) != regions_relid;
		PG_TRY();
		{
			RoutingTableLoad(check, regions_relid, false);
		}
		PG_FINALLY();
		{
			check_fence_countries = false;
		}
		PG_END_TRY();
		pfree(check);
	}

	state.pending = true;
	/* backend-local tables reload when this commits; ours at once */
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/* The shared table of this database, loaded; errors when there is none. */
void
RoutingRequireShared(void)
{
	if (!RoutingUsesShared())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("circuit breakers are kept only for the database named by geoshard.database"),
				 errhint(routing_shared == NULL ?
						 "Add geoshard to shared_preload_libraries and restart the server." :
						 "Connect to that database, or change geoshard.database and reload.")));
	RoutingTableAcquire();
	RoutingTableRelease();
}

/* Does this database's shared table have region id?  After RoutingRequireShared(). */
bool
RoutingHasRegion(const char *id)
{
	const RoutingTable *table = RoutingTableAcquire();
	bool		found = RoutingFindRegion(table, id) >= 0;

	RoutingTableRelease();
	return found;
}

/*
 * Install the health area's view of every region (sorted by id) in the
 * shared table: regions it does not list are closed and not degraded.
 * Nothing happens while the shared table holds no load; the health worker
 * loads it before it publishes.
 */
void
RoutingPublishHealth(const RoutingHealth *health, int n, bool panic)
{
	RoutingTable *table;
	int			j = 0;

	if (routing_shared == NULL)
		return;
	LWLockAcquire(routing_shared->lock, LW_EXCLUSIVE);
	table = &routing_shared->table;
	for (int i = 0; i < table->nregions && routing_shared->valid; i++)
	{
		RoutingRegion *r = &table->regions[i];

		while (j < n && strcmp(health[j].id, r->id) < 0)
			j++;
		if (j < n && strcmp(health[j].id, r->id) == 0)
		{
			r->breaker = health[j].breaker;
			r->degraded = health[j].degraded;
		}
		else
		{
			r->breaker = ROUTING_BREAKER_CLOSED;
			r->degraded = false;
		}
	}
	table->panic = panic;
	LWLockRelease(routing_shared->lock);
}

/* geoshard.routing_regions(): the routing table as route_region sees it */
PG_FUNCTION_INFO_V1(routing_regions);
Datum
routing_regions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RoutingRegion *regions = palloc(sizeof(RoutingRegion) * ROUTING_MAX_REGIONS);
	const RoutingTable *table;
	int			n;

	InitMaterializedSRF(fcinfo, 0);

	table = RoutingTableAcquire();
	n = table->nregions;
	memcpy(regions, table->regions, sizeof(RoutingRegion) * n);
	RoutingTableRelease();

	for (int i = 0; i < n; i++)
	{
		RoutingRegion *r = &regions[i];
		Datum		values[9];
		bool		nulls[9] = {0};

		values[0] = CStringGetTextDatum(r->id);
		values[1] = Float8GetDatum(r->lat);
		values[2] = Float8GetDatum(r->lon);
		values[3] = Float8GetDatum(r->cost);
		values[4] = Float8GetDatum(r->load_fraction);
		values[5] = BoolGetDatum(r->enabled);
		values[6] = BoolGetDatum(r->drained);
		values[7] = CStringGetTextDatum(RoutingBreakerName((RoutingBreaker) r->breaker));
		values[8] = BoolGetDatum(r->enabled && !r->drained && r->breaker != ROUTING_BREAKER_OPEN);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
