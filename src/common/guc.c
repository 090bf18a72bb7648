/*
 * src/common/guc.c
 *	  Defines every geoshard.* setting, in one place.
 *
 * Settings that SQL functions read are defined whether or not the library is
 * preloaded; settings that size shared memory or control workers are defined
 * only while shared_preload_libraries is processed.  No other file calls
 * DefineCustom*Variable.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "common/guc.h"
#include "routing/geoip.h"

int			geoshard_cover_max_cells = 100000;
int			geoshard_node_id = 0;
int			geoshard_hlc_max_offset = 500;
char	   *geoshard_geoip_database = NULL;

void
GeoshardGucInit(void)
{
	DefineCustomIntVariable("geoshard.cover_max_cells",
							"Sets the largest number of cells quadkey_cover may return.",
							"A cover that would need more cells is refused; ask for a coarser level instead.",
							&geoshard_cover_max_cells,
							100000,
							1,
							10000000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.node_id",
							"Sets this node's id, stamped into HLC timestamps and CRDT states.",
							"Every node that mutates CRDT values needs its own id; 0 means unset.",
							&geoshard_node_id,
							0,
							0,
							PG_INT32_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.hlc_max_offset",
							"Sets how far a received HLC timestamp may run ahead of the local wall clock.",
							"Timestamps further ahead are refused rather than dragging the clock forward.",
							&geoshard_hlc_max_offset,
							500,
							0,
							PG_INT32_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * Superuser-only because the server opens whatever file this names; SET
	 * is allowed so that a session can try a new file before it goes into
	 * postgresql.conf.  The check hook never refuses a value (the file may
	 * appear later) but warns when the file cannot be opened.
	 */
	DefineCustomStringVariable("geoshard.geoip_database",
							   "Sets the MaxMind DB (.mmdb) file geoip_lookup reads.",
							   "Empty means no file: geoip_lookup answers from geoshard.geoip_networks alone.",
							   &geoshard_geoip_database,
							   "",
							   PGC_SUSET,
							   0,
							   GeoipDatabaseCheckHook, NULL, NULL);

	MarkGUCPrefixReserved("geoshard");
}
