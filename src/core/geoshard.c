/*
 * src/core/geoshard.c
 *	  Module entry point: PG_MODULE_MAGIC and _PG_init, which only hands over
 *	  to each area's initialisation.
 *
 * The library works both ways it can be loaded: by CREATE EXTENSION (types
 * and query functions only) and through shared_preload_libraries (which also
 * reserves shared memory and starts the background workers).
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "core/guc.h"
#include "core/shmem.h"
#include "core/worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	GeoshardGucInit();

	if (process_shared_preload_libraries_in_progress)
	{
		GeoshardShmemInit();
		GeoshardWorkersRegister();
	}
}
