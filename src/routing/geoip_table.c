/*
 * src/routing/geoip_table.c
 *	  The table fallback of geoip_lookup and route_region: the most specific
 *	  network of geoshard.geoip_networks containing an address.
 *
 * Each backend keeps a copy of the table as disjoint address ranges, each
 * naming the most specific network that covers it, sorted per family: a
 * lookup is one binary search, and an empty table costs a test.  Networks
 * nest or are disjoint (they are CIDR blocks), so flattening them is one
 * sweep over the networks sorted by first address, outer before inner.
 *
 * The copy is kept like the shard map (shardmap.c): a statement trigger on
 * the table (ENABLE ALWAYS, with a row-level twin for logical replication's
 * apply worker) sends a relcache invalidation, and the callback below drops
 * the copy; the next lookup loads it again (catalog_cache.c: pinned
 * search_path, latest snapshot, parallel workers load their own).  The load
 * runs as the table's owner; each caller must still have SELECT on it,
 * checked once per role and per load.
 *
 * A table of more than GEOIP_TABLE_MAX_ROWS rows (someone loaded a whole
 * GeoIP database into it) is not copied into every backend: lookups then
 * query it through SPI, as the calling user with the caller's snapshot, one
 * prepared query on its GiST index.
 *
 * Rows that break the table's constraints (dropped by its owner) are kept,
 * and a lookup that finds one raises an error naming its network, as a
 * query finding it would.
 */
#include "postgres.h"

#include <sys/socket.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "core/catalog_cache.h"
#include "routing/geoip_table.h"

#ifndef HAVE_INT128
#error "geoshard needs a 128-bit integer type for IPv6 ranges"
#endif

/* larger tables are queried per lookup instead of copied into each backend */
#define GEOIP_TABLE_MAX_ROWS 100000

/* one row of the table, as read */
typedef struct GeoipTableRow
{
	char	   *network;		/* text form, for error messages */
	text	   *country;		/* NULL when null */
	bool		lat_null;
	bool		lon_null;
	bool		radius_null;
	int32		radius;
	double		latitude;
	double		longitude;
} GeoipTableRow;

/* a range of addresses of one family, covered most specifically by row */
typedef struct GeoipTableRange
{
	uint128		first;
	uint128		last;
	int			row;
} GeoipTableRange;

/* a network while the copy is built */
typedef struct GeoipTableNetwork
{
	uint128		first;
	uint128		last;
	int			bits;
	int			row;
} GeoipTableNetwork;

static struct
{
	MemoryContext context;		/* holds the copy; reset on reload */
	bool		registered;		/* callbacks registered */
	bool		valid;			/* the copy is current */
	uint64		generation;		/* bumped by every invalidation */
	Oid			relid;			/* geoshard.geoip_networks when loaded */
	Oid			acl_userid;		/* role whose SELECT was checked, or InvalidOid */
	bool		too_big;		/* query per lookup instead */
	GeoipTableRow *rows;
	int			nranges[2];		/* [0] IPv4, [1] IPv6 */
	GeoipTableRange *ranges[2];
} table;

/* the query of tables too big to copy, prepared on first use and kept */
static SPIPlanPtr table_plan = NULL;

#define GEOIP_TABLE_QUERY \
	"SELECT network, country, latitude, longitude, accuracy_radius_km" \
	" FROM geoshard.geoip_networks" \
	" WHERE network OPERATOR(pg_catalog.>>=) $1" \
	" ORDER BY pg_catalog.masklen(network) DESC LIMIT 1"

static void
GeoipTableInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == table.relid)
	{
		table.generation++;
		table.valid = false;
		table.acl_userid = InvalidOid;
	}
}

/* Role memberships changed: SELECT may come or go through them. */
static void
GeoipTableRolesChanged(Datum arg, int cacheid, uint32 hashvalue)
{
	table.acl_userid = InvalidOid;
}

/* An address (4 or 16 bytes, network order) as an integer. */
static uint128
GeoipTableKey(const unsigned char *addr, int len)
{
	uint128		key = 0;

	for (int i = 0; i < len; i++)
		key = (key << 8) | addr[i];
	return key;
}

static int
GeoipTableNetworkCmp(const void *a, const void *b)
{
	const GeoipTableNetwork *x = a;
	const GeoipTableNetwork *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->bits - y->bits;	/* outer first */
}

/*
 * Flatten nets (one family, sorted, nested or disjoint) into ranges, which
 * must have room for 2 * n + 1.  Each network opens a range at its first
 * address; when it ends, the network around it (if any) resumes.
 */
static int
GeoipTableFlatten(const GeoipTableNetwork *nets, int n, GeoipTableRange *ranges)
{
	const GeoipTableNetwork **stack = palloc(sizeof(GeoipTableNetwork *) * (n + 1));
	int			depth = 0;
	int			nranges = 0;
	uint128		cursor = 0;		/* first address not yet assigned */
	bool		exhausted = false;	/* the last address was assigned */

	for (int i = 0; i <= n; i++)
	{
		/* close the networks that end before nets[i] (all, at the end) */
		while (depth > 0 && (i == n || stack[depth - 1]->last < nets[i].first))
		{
			const GeoipTableNetwork *top = stack[--depth];

			if (!exhausted && cursor <= top->last)
			{
				ranges[nranges++] = (GeoipTableRange) {cursor, top->last, top->row};
				exhausted = (top->last == ~(uint128) 0);
				cursor = top->last + 1;
			}
		}
		if (i == n)
			break;
		if (depth > 0 && cursor < nets[i].first)
			ranges[nranges++] = (GeoipTableRange) {cursor, nets[i].first - 1, stack[depth - 1]->row};
		stack[depth++] = &nets[i];
		cursor = nets[i].first;
		exhausted = false;
	}
	pfree(stack);
	return nranges;
}

/* Load the copy of geoshard.geoip_networks. */
static void
GeoipTableLoad(void)
{
	Oid			nspid = get_namespace_oid("geoshard", true);
	Oid			relid = OidIsValid(nspid) ? get_relname_relid("geoip_networks", nspid) : InvalidOid;
	uint64		generation = table.generation;
	CatalogCacheLoad load;
	HeapTuple	classtup;
	Oid			owner;
	GeoipTableNetwork *nets[2];
	int			nnets[2] = {0, 0};
	uint64		nrows;

	if (!table.registered)
	{
		table.context = AllocSetContextCreate(TopMemoryContext, "geoshard geoip_networks",
											  ALLOCSET_DEFAULT_SIZES);
		CacheRegisterRelcacheCallback(GeoipTableInvalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMMEMROLE, GeoipTableRolesChanged, (Datum) 0);
		table.registered = true;
	}
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"geoshard.geoip_networks\" does not exist"),
				 errhint("Run CREATE EXTENSION geoshard in this database.")));

	MemoryContextReset(table.context);
	table.valid = false;
	table.relid = relid;
	table.acl_userid = InvalidOid;
	table.too_big = false;
	table.nranges[0] = table.nranges[1] = 0;

	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(classtup))->relowner;
	ReleaseSysCache(classtup);

	CatalogCacheLoadBegin(&load, owner);
	CatalogCacheLoadQuery(psprintf("SELECT network, country, latitude, longitude, accuracy_radius_km"
								   " FROM geoshard.geoip_networks LIMIT %d",
								   GEOIP_TABLE_MAX_ROWS + 1),
						  "geoshard.geoip_networks", true);
	nrows = SPI_processed;
	table.too_big = nrows > GEOIP_TABLE_MAX_ROWS;
	if (!table.too_big)
	{
		MemoryContext old = MemoryContextSwitchTo(table.context);

		table.rows = palloc(sizeof(GeoipTableRow) * (nrows + 1));
		nets[0] = palloc(sizeof(GeoipTableNetwork) * (nrows + 1));
		nets[1] = palloc(sizeof(GeoipTableNetwork) * (nrows + 1));
		for (uint64 i = 0; i < nrows; i++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			GeoipTableRow *row = &table.rows[i];
			inet	   *network;
			GeoipTableNetwork *net;
			bool		isnull;
			Datum		d;
			int			len;
			int			width;
			uint128		hostmask;

			network = DatumGetInetPP(SPI_getbinval(tuple, desc, 1, &isnull));
			row->network = SPI_getvalue(tuple, desc, 1);
			d = SPI_getbinval(tuple, desc, 2, &isnull);
			row->country = isnull ? NULL : DatumGetTextPCopy(d);
			d = SPI_getbinval(tuple, desc, 3, &row->lat_null);
			row->latitude = row->lat_null ? 0.0 : DatumGetFloat8(d);
			d = SPI_getbinval(tuple, desc, 4, &row->lon_null);
			row->longitude = row->lon_null ? 0.0 : DatumGetFloat8(d);
			d = SPI_getbinval(tuple, desc, 5, &row->radius_null);
			row->radius = row->radius_null ? 0 : DatumGetInt32(d);

			len = ip_family(network) == PGSQL_AF_INET ? 4 : 16;
			width = len * 8;
			net = &nets[len == 16][nnets[len == 16]++];
			hostmask = ip_bits(network) == 0 && width == 128 ? ~(uint128) 0 :
				(((uint128) 1 << (width - ip_bits(network))) - 1);
			net->first = GeoipTableKey(ip_addr(network), len) & ~hostmask;
			net->last = net->first | hostmask;
			net->bits = ip_bits(network);
			net->row = (int) i;
		}
		for (int f = 0; f < 2; f++)
		{
			qsort(nets[f], nnets[f], sizeof(GeoipTableNetwork), GeoipTableNetworkCmp);
			table.ranges[f] = palloc(sizeof(GeoipTableRange) * (2 * nnets[f] + 1));
			table.nranges[f] = GeoipTableFlatten(nets[f], nnets[f], table.ranges[f]);
			pfree(nets[f]);
		}
		MemoryContextSwitchTo(old);
	}
	CatalogCacheLoadEnd(&load);

	/* an invalidation that arrived while loading means the load is stale */
	table.valid = (table.generation == generation);
}

/* Raise the error for an out-of-range value in a row of geoip_networks. */
static void
pg_attribute_noreturn()
GeoipInvalidRow(const char *network, const char *column, double value, const char *range)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("invalid %s in geoshard.geoip_networks for network %s: %g",
					column, network, value),
			 errdetail("The value must be %s.", range)));
}

/* Fill answer from row, validated; the country is copied into the caller's memory. */
static void
GeoipTableAnswer(const GeoipTableRow *row, GeoipAnswer *answer)
{
	if (row->lat_null != row->lon_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("invalid location in geoshard.geoip_networks for network %s", row->network),
				 errdetail("Latitude and longitude must be both set or both null.")));
	answer->has_location = !row->lat_null;
	answer->latitude = row->latitude;
	answer->longitude = row->longitude;
	if (answer->has_location)
	{
		if (!(row->latitude >= -90.0 && row->latitude <= 90.0))
			GeoipInvalidRow(row->network, "latitude", row->latitude, "between -90 and 90");
		if (!(row->longitude >= -180.0 && row->longitude <= 180.0))
			GeoipInvalidRow(row->network, "longitude", row->longitude, "between -180 and 180");
	}
	answer->has_radius = !row->radius_null;
	answer->accuracy_radius_km = row->radius;
	if (answer->has_radius && row->radius < 0)
		GeoipInvalidRow(row->network, "accuracy_radius_km", row->radius, "zero or more");
	answer->country = row->country ? DatumGetTextPCopy(PointerGetDatum(row->country)) : NULL;
}

/* The table too big to copy: one query through SPI, as the caller. */
static bool
GeoipTableQuery(inet *ip, GeoipAnswer *answer)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		values[1];
	HeapTuple	tuple;
	TupleDesc	desc;
	GeoipTableRow row;
	Datum		d;
	bool		isnull;
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (table_plan == NULL)
	{
		Oid			argtypes[1] = {INETOID};
		SPIPlanPtr	plan = SPI_prepare(GEOIP_TABLE_QUERY, 1, argtypes);

		if (plan == NULL)
			elog(ERROR, "could not prepare the geoip_networks query: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "could not keep the geoip_networks query");
		table_plan = plan;
	}

	values[0] = PointerGetDatum(ip);
	ret = SPI_execute_plan(table_plan, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read geoshard.geoip_networks: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}

	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	row.network = SPI_getvalue(tuple, desc, 1);
	d = SPI_getbinval(tuple, desc, 2, &isnull);
	row.country = isnull ? NULL : DatumGetTextPP(d);
	d = SPI_getbinval(tuple, desc, 3, &row.lat_null);
	row.latitude = row.lat_null ? 0.0 : DatumGetFloat8(d);
	d = SPI_getbinval(tuple, desc, 4, &row.lon_null);
	row.longitude = row.lon_null ? 0.0 : DatumGetFloat8(d);
	d = SPI_getbinval(tuple, desc, 5, &row.radius_null);
	row.radius = row.radius_null ? 0 : DatumGetInt32(d);

	/* copy out before SPI_finish frees SPI's memory */
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		GeoipTableAnswer(&row, answer);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return true;
}

/* Fill answer from geoshard.geoip_networks; false when no network contains ip. */
bool
GeoipTableLookup(inet *ip, GeoipAnswer *answer)
{
	bool		ipv6 = ip_family(ip) != PGSQL_AF_INET;
	const GeoipTableRange *ranges;
	uint128		key;
	int			lo = 0;
	int			hi;

	if (!table.valid)
		GeoipTableLoad();
	if (table.acl_userid != GetUserId())
	{
		if (pg_class_aclcheck(table.relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "geoip_networks");
		table.acl_userid = GetUserId();
	}
	if (table.too_big)
		return GeoipTableQuery(ip, answer);

	hi = table.nranges[ipv6];
	if (hi == 0)
		return false;
	ranges = table.ranges[ipv6];
	key = GeoipTableKey(ip_addr(ip), ipv6 ? 16 : 4);

	/* the last range starting at or before key */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (ranges[mid].first <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || ranges[lo - 1].last < key)
		return false;
	GeoipTableAnswer(&table.rows[ranges[lo - 1].row], answer);
	return true;
}

/* geoshard.geoip_networks_changed(): trigger making every backend reload its copy */
PG_FUNCTION_INFO_V1(geoip_networks_changed);
Datum
geoip_networks_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("geoip_networks_changed() must be called as a trigger")));

	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
