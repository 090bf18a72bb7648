/*
 * src/cdc/cdc_status.c
 *	  The cdc worker's shared state ("geoshard cdc"): its figures per sink,
 *	  which cdc_status_state() and the view geoshard.cdc_status read, and the
 *	  wake-up that writes to geoshard.cdc_sinks send it.
 *
 * The worker keeps its own copy of every sink's figures and publishes the
 * whole array after each pass that changed it; readers copy it out.  A
 * committed write to cdc_sinks bumps sinks_generation and sets the worker's
 * latch (from a transaction callback, so that the worker reads the table
 * after the change is visible); the worker reads the table again when the
 * generation moved, and at least once a second anyway.  The lock guards
 * every field of CdcShared; it is held only for the copies, never across
 * SPI or network I/O.  Nothing here holds a password: the worker masks
 * Redis URLs before it publishes them.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"

#include "cdc/cdc_status.h"

typedef struct CdcShared
{
	LWLock	   *lock;			/* guards the fields below */
	Latch	   *worker_latch;	/* the cdc worker's, NULL when it is not running */
	uint64		sinks_generation;	/* bumped by each committed write to cdc_sinks */
	int			nsinks;
	CdcSinkStatus sinks[CDC_MAX_SINKS];
} CdcShared;

static CdcShared *cdc_shared = NULL;

/* this backend wrote cdc_sinks in the current transaction */
static bool sinks_write_pending = false;
static bool xact_callback_registered = false;

Size
CdcShmemSize(void)
{
	return MAXALIGN(sizeof(CdcShared));
}

void
CdcShmemInit(void *shared, bool found, LWLockPadded *locks)
{
	cdc_shared = (CdcShared *) shared;
	if (!found)
	{
		memset(cdc_shared, 0, sizeof(CdcShared));
		cdc_shared->lock = &locks[0].lock;
	}
}

/* The worker announces itself, so that writes to cdc_sinks can wake it. */
void
CdcWorkerAttach(void)
{
	if (cdc_shared == NULL)
		return;
	LWLockAcquire(cdc_shared->lock, LW_EXCLUSIVE);
	cdc_shared->worker_latch = MyLatch;
	LWLockRelease(cdc_shared->lock);
}

/* How many committed writes to cdc_sinks there have been. */
uint64
CdcSinksGeneration(void)
{
	uint64		generation;

	if (cdc_shared == NULL)
		return 0;
	LWLockAcquire(cdc_shared->lock, LW_SHARED);
	generation = cdc_shared->sinks_generation;
	LWLockRelease(cdc_shared->lock);
	return generation;
}

static void
CdcSinksXactCallback(XactEvent event, void *arg)
{
	Latch	   *latch;

	if (!sinks_write_pending)
		return;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		sinks_write_pending = false;
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_PARALLEL_COMMIT)
		return;
	sinks_write_pending = false;
	if (cdc_shared == NULL)
		return;
	LWLockAcquire(cdc_shared->lock, LW_EXCLUSIVE);
	cdc_shared->sinks_generation++;
	latch = cdc_shared->worker_latch;
	LWLockRelease(cdc_shared->lock);
	if (latch != NULL)
		SetLatch(latch);
}

/* geoshard.cdc_sinks_changed(): trigger that wakes the worker at commit */
PG_FUNCTION_INFO_V1(cdc_sinks_changed);
Datum
cdc_sinks_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "cdc_sinks_changed must be called as a trigger");
	if (!xact_callback_registered)
	{
		RegisterXactCallback(CdcSinksXactCallback, NULL);
		xact_callback_registered = true;
	}
	sinks_write_pending = true;
	return PointerGetDatum(NULL);
}

/* Replace the published figures by the worker's n sinks. */
void
CdcStatusPublish(const CdcSinkStatus *sinks, int n)
{
	if (cdc_shared == NULL)
		return;
	n = Min(n, CDC_MAX_SINKS);
	LWLockAcquire(cdc_shared->lock, LW_EXCLUSIVE);
	memcpy(cdc_shared->sinks, sinks, sizeof(CdcSinkStatus) * n);
	cdc_shared->nsinks = n;
	LWLockRelease(cdc_shared->lock);
}

/*
 * Copy the published figures of every sink into out (CDC_MAX_SINKS long) and
 * return how many there are; 0 without shared memory.  For the metrics.
 */
int
CdcStatusCopy(CdcSinkStatus *out)
{
	int			n;

	if (cdc_shared == NULL)
		return 0;
	LWLockAcquire(cdc_shared->lock, LW_SHARED);
	n = cdc_shared->nsinks;
	memcpy(out, cdc_shared->sinks, sizeof(CdcSinkStatus) * n);
	LWLockRelease(cdc_shared->lock);
	return n;
}

const char *
CdcStateName(CdcState state)
{
	switch (state)
	{
		case CDC_STATE_STARTING:
			return "starting";
		case CDC_STATE_STREAMING:
			return "streaming";
		case CDC_STATE_RETRYING:
			return "retrying";
		case CDC_STATE_PAUSED:
			return "paused";
		case CDC_STATE_DISABLED:
			return "disabled";
	}
	return "unknown";
}

/* geoshard.cdc_status_state(): the worker's figures per sink */
PG_FUNCTION_INFO_V1(cdc_status_state);
Datum
cdc_status_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CdcSinkStatus *sinks;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	if (cdc_shared == NULL)
		return (Datum) 0;

	sinks = palloc(sizeof(CdcSinkStatus) * CDC_MAX_SINKS);
	LWLockAcquire(cdc_shared->lock, LW_SHARED);
	n = cdc_shared->nsinks;
	memcpy(sinks, cdc_shared->sinks, sizeof(CdcSinkStatus) * n);
	LWLockRelease(cdc_shared->lock);

	for (int i = 0; i < n; i++)
	{
		CdcSinkStatus *s = &sinks[i];
		Datum		values[12];
		bool		nulls[12] = {0};

		values[0] = CStringGetTextDatum(s->sink);
		values[1] = CStringGetTextDatum(CdcStateName(s->state));
		values[2] = CStringGetTextDatum(s->redis_url);
		nulls[2] = s->redis_url[0] == '\0';
		values[3] = CStringGetTextDatum(s->last_id);
		nulls[3] = s->last_id[0] == '\0';
		values[4] = LSNGetDatum(s->last_lsn);
		nulls[4] = s->last_lsn == InvalidXLogRecPtr;
		values[5] = TimestampTzGetDatum(s->behind_since);
		nulls[5] = s->behind_since == 0;
		values[6] = Float8GetDatum(s->events_per_s);
		values[7] = Float8GetDatum(s->rtt_ms);
		nulls[7] = isnan(s->rtt_ms);
		values[8] = Int64GetDatum((int64) s->published);
		values[9] = Int64GetDatum((int64) s->skipped);
		values[10] = CStringGetTextDatum(s->last_error);
		nulls[10] = s->last_error[0] == '\0';
		values[11] = TimestampTzGetDatum(s->last_error_at);
		nulls[11] = s->last_error_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
