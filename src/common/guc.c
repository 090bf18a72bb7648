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

int			geoshard_cover_max_cells = 100000;

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

	MarkGUCPrefixReserved("geoshard");
}
