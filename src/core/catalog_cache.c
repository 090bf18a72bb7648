/*
 * src/core/catalog_cache.c
 *	  Loading geoshard's catalogue caches (the shard map in shardmap.c, the
 *	  routing table in routing_table.c): SPI queries that run on behalf of
 *	  whoever happens to call shard_for or route_region first, and whose
 *	  result other calls (and, for the routing table, other sessions) trust.
 *
 * Three rules make such a load the same whoever runs it and wherever:
 *   - The caller's search_path plays no part: the load runs with
 *     search_path = pg_catalog, pg_temp (as a function's SET clause would),
 *     and the queries qualify every name as well.  Otherwise a role that can
 *     create a collation "C" or an operator in a schema early in its path
 *     could change what the load means, for every session sharing the
 *     result.
 *   - Optionally, it runs as a given role (the catalogue's owner), in a
 *     security-restricted operation.
 *   - It reads the latest committed catalogue, not the caller's snapshot: a
 *     cache built from a repeatable-read transaction's old snapshot would
 *     outlive that transaction, and the invalidations it missed are already
 *     processed.  GetLatestSnapshot() refuses to run in parallel mode (the
 *     leader of a parallel query and its workers), only because it would
 *     replace the SecondarySnapshot other code may hold; there the load
 *     takes a snapshot of its own, as GetTransactionSnapshot() itself does
 *     in parallel mode under READ COMMITTED.  A parallel worker's snapshot
 *     sees the leader's uncommitted changes, since the worker shares the
 *     leader's transaction.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/procarray.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

#include "core/catalog_cache.h"

/* the snapshot of loads in parallel mode; GetSnapshotData() allocates its arrays once */
static SnapshotData parallel_snapshot = {SNAPSHOT_MVCC};

/* The latest committed state of the catalogue, in any process. */
static Snapshot
CatalogCacheSnapshot(void)
{
	if (!IsInParallelMode())
		return GetLatestSnapshot();
	return GetSnapshotData(&parallel_snapshot);
}

/*
 * Start a load: connect SPI, switch to as_role (unless InvalidOid) and pin
 * search_path.  CatalogCacheLoadEnd() undoes it; an error undoes it too.
 */
void
CatalogCacheLoadBegin(CatalogCacheLoad *load, Oid as_role)
{
	GetUserIdAndSecContext(&load->save_userid, &load->save_sec_context);
	if (OidIsValid(as_role))
		SetUserIdAndSecContext(as_role,
							   load->save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);

	/* GUC_ACTION_SAVE, as for a function's SET clause: allowed in parallel mode */
	load->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

/*
 * Run one query of a load with the latest snapshot; the rows are left in
 * SPI_tuptable.  read_only is false only inside a trigger, where the
 * statement's own changes must be seen.
 */
void
CatalogCacheLoadQuery(const char *sql, const char *table, bool read_only)
{
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);
	int			ret;

	if (plan == NULL)
		elog(ERROR, "could not prepare the query of %s: %s", table,
			 SPI_result_code_string(SPI_result));
	ret = SPI_execute_snapshot(plan, NULL, NULL, CatalogCacheSnapshot(), InvalidSnapshot,
							   read_only, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read %s: %s", table, SPI_result_code_string(ret));
}

/* End a load; results in SPI memory are gone after this. */
void
CatalogCacheLoadEnd(CatalogCacheLoad *load)
{
	SPI_finish();
	AtEOXact_GUC(true, load->save_nestlevel);
	SetUserIdAndSecContext(load->save_userid, load->save_sec_context);
}
