/*
 * src/health/health_worker.c
 *	  The health worker ("geoshard health"): probes every region's endpoint
 *	  each geoshard.health_interval and drives the circuit breakers.
 *
 * A round:
 *   1. one transaction: read geoshard.regions; on the first round after a
 *      server start rebuild the breakers from geoshard.health_events; make
 *      sure the shared routing table is loaded, so that the states can be
 *      published into it;
 *   2. outside any transaction and lock: probe every endpoint at once
 *      (probe.c), bounded by geoshard.health_timeout;
 *   3. apply the results to the breakers (breaker.c) and publish the
 *      effective states into the routing table; answer probe_now;
 *   4. when breakers changed, or pruning is due, one transaction that
 *      appends the transitions to geoshard.health_events and deletes rows
 *      older than geoshard.health_events_max_age.
 * Rounds start health_interval apart (at once when one took longer); a
 * probe_now request sets the latch and starts a round at once.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/guc.h"
#include "core/replicated_settings.h"
#include "core/worker.h"
#include "health/breaker.h"
#include "health/probe.h"
#include "routing/routing_table.h"

/* how often to look again while the extension or its 0.3 objects are missing */
#define HEALTH_RECHECK_MS		5000
/* how long to sleep while geoshard.health_enabled is off (a reload wakes us) */
#define HEALTH_IDLE_MS			60000
/* how often old rows of health_events are pruned */
#define HEALTH_PRUNE_MS			60000
/* transitions one round can record: each region changes at most twice, plus forcing */
#define HEALTH_MAX_EVENTS		(3 * ROUTING_MAX_REGIONS)
/* transitions kept while geoshard.health_events cannot be written */
#define HEALTH_PENDING_EVENTS	(4 * HEALTH_MAX_EVENTS)

PGDLLEXPORT void GeoshardHealthMain(Datum main_arg);

#define HEALTH_REGIONS_QUERY \
	"SELECT id, CASE WHEN enabled AND endpoint <> '' THEN endpoint END, endpoint," \
	" probe_status, probe_body" \
	" FROM geoshard.regions ORDER BY id COLLATE pg_catalog.\"C\""

#define HEALTH_RESTORE_QUERY \
	"SELECT DISTINCT ON (region) region, to_state, reason = 'forced'" \
	" FROM geoshard.health_events ORDER BY region, at DESC, id DESC"

#define HEALTH_INSERT_QUERY \
	"INSERT INTO geoshard.health_events (region, from_state, to_state, reason, error, rtt_ms, at)" \
	" VALUES ($1, $2, $3, $4, $5, $6, $7)"

/* every row older than the age, but each region's latest, which restores it */
#define HEALTH_PRUNE_QUERY \
	"DELETE FROM geoshard.health_events e" \
	" WHERE e.at < pg_catalog.now() - pg_catalog.make_interval(secs => $1)" \
	" AND EXISTS (SELECT FROM geoshard.health_events l" \
	" WHERE l.region = e.region AND (l.at, l.id) > (e.at, e.id))"

static bool waiting_for_update_logged = false;

static RoutingBreaker
HealthBreakerFromName(const char *name)
{
	if (strcmp(name, "open") == 0)
		return ROUTING_BREAKER_OPEN;
	if (strcmp(name, "half_open") == 0)
		return ROUTING_BREAKER_HALF_OPEN;
	return ROUTING_BREAKER_CLOSED;
}

/* Is geoshard.health_events there (the extension may still be at 0.2)? */
static bool
HealthEventsExist(void)
{
	Oid			nspid = get_namespace_oid("geoshard", true);
	bool		exists = OidIsValid(nspid) && OidIsValid(get_relname_relid("health_events", nspid));

	if (!exists && !waiting_for_update_logged)
		ereport(LOG,
				(errmsg("geoshard health is waiting for ALTER EXTENSION geoshard UPDATE in database \"%s\"",
						geoshard_database),
				 errdetail("Table geoshard.health_events does not exist.")));
	waiting_for_update_logged = !exists;
	return exists;
}

/* Run a query of this file; errors when SPI does not return "expected". */
static void
HealthExecute(const char *sql, int expected, int nargs, Oid *types, Datum *values, const char *nulls)
{
	int			ret = nargs > 0 ?
		SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0) :
		SPI_execute(sql, false, 0);

	if (ret != expected)
		elog(ERROR, "health worker query failed with SPI code %d: %s", ret, sql);
}

/* The regions and their endpoints, into targets; strings go into context. */
static int
HealthLoadTargets(HealthTarget *targets, MemoryContext context)
{
	int			n;

	HealthExecute(HEALTH_REGIONS_QUERY, SPI_OK_SELECT, 0, NULL, NULL, NULL);
	n = (int) Min(SPI_processed, (uint64) ROUTING_MAX_REGIONS);
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *id = SPI_getvalue(tuple, desc, 1);
		char	   *endpoint = SPI_getvalue(tuple, desc, 2);
		char	   *configured = SPI_getvalue(tuple, desc, 3);
		bool		status_null;
		Datum		status = SPI_getbinval(tuple, desc, 4, &status_null);
		char	   *body = SPI_getvalue(tuple, desc, 5);

		strlcpy(targets[i].region, id, ROUTING_NAME_LEN);
		/* SPI's context ends with the transaction; the probes come after it */
		targets[i].endpoint = endpoint != NULL ? MemoryContextStrdup(context, endpoint) : NULL;
		targets[i].configured = configured != NULL ? MemoryContextStrdup(context, configured) : NULL;
		targets[i].probe_status = status_null ? 0 : DatumGetInt32(status);
		targets[i].probe_body = body != NULL ? MemoryContextStrdup(context, body) : NULL;
	}
	return n;
}

/* Rebuild the breakers from each region's latest event. */
static void
HealthRestoreFromEvents(void)
{
	HealthExecute(HEALTH_RESTORE_QUERY, SPI_OK_SELECT, 0, NULL, NULL, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *region = SPI_getvalue(tuple, desc, 1);
		char	   *to = SPI_getvalue(tuple, desc, 2);
		char	   *forced = SPI_getvalue(tuple, desc, 3);

		HealthRestore(region, HealthBreakerFromName(to), forced != NULL && forced[0] == 't');
	}
	HealthRestore(NULL, ROUTING_BREAKER_CLOSED, false);
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("geoshard health rebuilt the circuit breakers of %d regions from geoshard.health_events",
						(int) SPI_processed)));
}

static void
HealthRecord(const HealthEvent *events, int nevents, bool prune)
{
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID, TIMESTAMPTZOID};

	for (int i = 0; i < nevents; i++)
	{
		const HealthEvent *e = &events[i];
		Datum		values[7];
		char		nulls[8] = "       ";

		values[0] = CStringGetTextDatum(e->region);
		values[1] = CStringGetTextDatum(RoutingBreakerName(e->from));
		values[2] = CStringGetTextDatum(RoutingBreakerName(e->to));
		values[3] = CStringGetTextDatum(HealthReasonName(e->reason));
		values[4] = CStringGetTextDatum(e->error);
		if (e->error[0] == '\0')
			nulls[4] = 'n';
		values[5] = Float8GetDatum(e->rtt_ms);
		if (isnan(e->rtt_ms))
			nulls[5] = 'n';
		values[6] = TimestampTzGetDatum(e->at);
		HealthExecute(HEALTH_INSERT_QUERY, SPI_OK_INSERT, 7, types, values, nulls);
	}
	if (prune)
	{
		Oid			type = FLOAT8OID;
		Datum		age = Float8GetDatum((double) geoshard_health_events_max_age);

		HealthExecute(HEALTH_PRUNE_QUERY, SPI_OK_DELETE, 1, &type, &age, NULL);
	}
}

/* One unit of database work of the health worker's round (worker.c). */
typedef struct HealthCatalogWork
{
	HealthTarget *targets;		/* out: the regions */
	MemoryContext context;		/* where their strings go */
	int			ntargets;
	bool		ready;			/* the 0.3 objects are there */
} HealthCatalogWork;

typedef struct HealthRecordWork
{
	const HealthEvent *events;
	int			nevents;
	bool		prune;
	bool		recorded;		/* the 0.3 objects are there */
} HealthRecordWork;

/*
 * The settings a group may set for every node's health worker at once
 * (geoshard.raft_set_setting): how often and how long to probe, and the
 * breakers' thresholds.  Not degraded_penalty_ms, which route_region reads.
 */
static const char *const health_replicated_settings[] = {
	"geoshard.health_interval",
	"geoshard.health_timeout",
	"geoshard.breaker_failures",
	"geoshard.breaker_successes",
	"geoshard.breaker_cooldown",
	"geoshard.health_degraded_ms",
	"geoshard.health_degraded_factor",
	"geoshard.health_panic_threshold",
	"geoshard.health_events_max_age",
	NULL
};

/* 1. of a round: the regions, breakers restored after a start, routing table loaded */
static void
HealthReadCatalog(void *arg)
{
	HealthCatalogWork *work = (HealthCatalogWork *) arg;

	GeoshardApplyReplicatedSettings(health_replicated_settings);
	work->ready = HealthEventsExist();
	if (!work->ready)
		return;
	work->ntargets = HealthLoadTargets(work->targets, work->context);
	HealthSync(work->targets, work->ntargets);
	if (HealthNeedsRestore())
		HealthRestoreFromEvents();
	/* load the shared routing table if nobody has: publishing needs it */
	(void) RoutingTableAcquire();
	RoutingTableRelease();
}

/* 4. of a round: append the transitions to health_events, prune old rows */
static void
HealthRecordEvents(void *arg)
{
	HealthRecordWork *work = (HealthRecordWork *) arg;

	work->recorded = HealthEventsExist();
	if (work->recorded)
		HealthRecord(work->events, work->nevents, work->prune);
}

/*
 * Make room for a round's transitions in the queue of those not recorded
 * yet: while health_events cannot be written, the oldest go first.
 */
static int
HealthMakeRoom(HealthEvent *events, int npending)
{
	int			drop = npending - (HEALTH_PENDING_EVENTS - HEALTH_MAX_EVENTS);

	if (drop <= 0)
		return npending;
	ereport(LOG,
			(errmsg("geoshard health dropped %d circuit breaker transitions that could not be recorded in geoshard.health_events",
					drop)));
	memmove(events, events + drop, sizeof(HealthEvent) * (npending - drop));
	return npending - drop;
}

/* Entry point of the health worker (core/worker.c registers it). */
void
GeoshardHealthMain(Datum main_arg)
{
	MemoryContext round_context;
	HealthTarget *targets;
	HealthResult *results;
	HealthEvent *events;
	int			npending = 0;	/* transitions in events not recorded yet */
	TimestampTz next_round = 0;
	TimestampTz next_prune = 0;
	TimestampTz next_record = 0;
	int			catalog_failures = 0;
	int			record_failures = 0;
	uint64		served = 0;
	bool		disabled = false;

	GeoshardWorkerStart("geoshard health");
	HealthWorkerAttach();
	HealthProbeStartup();

	targets = palloc(sizeof(HealthTarget) * ROUTING_MAX_REGIONS);
	results = palloc(sizeof(HealthResult) * ROUTING_MAX_REGIONS);
	events = palloc(sizeof(HealthEvent) * HEALTH_PENDING_EVENTS);
	round_context = AllocSetContextCreate(CurrentMemoryContext, "geoshard health round",
										  ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		uint64		request = HealthRoundRequested();
		long		wait_ms;
		HealthCatalogWork catalog;
		GeoshardWorkResult result;

		if (!geoshard_health_enabled)
			wait_ms = HEALTH_IDLE_MS;
		else if (request > served && catalog_failures == 0)
			wait_ms = 0;
		else
			wait_ms = TimestampDifferenceMilliseconds(now, next_round);
		(void) GeoshardWorkerWait(wait_ms);

		now = GetCurrentTimestamp();
		if (!geoshard_health_enabled)
		{
			if (!disabled)
			{
				ereport(LOG, (errmsg("geoshard health checks are disabled")));
				npending = HealthMakeRoom(events, npending);
				npending += HealthDisable(events + npending, HEALTH_MAX_EVENTS);
				HealthPublish();
				disabled = true;
			}
		}
		else
		{
			disabled = false;
			request = HealthRoundRequested();
			if ((request <= served || catalog_failures > 0) && now < next_round)
				continue;
			next_round = TimestampTzPlusMilliseconds(now, geoshard_health_interval);

			MemoryContextReset(round_context);

			/* 1. the catalogue */
			catalog.targets = targets;
			catalog.context = round_context;
			catalog.ntargets = 0;
			catalog.ready = false;
			result = GeoshardWorkerRun("reading geoshard.regions", HealthReadCatalog, &catalog);
			if (result == GEOSHARD_WORK_FAILED)
			{
				/* probe nothing rather than stale targets; probe_now waits for the retry */
				catalog_failures++;
				next_round = TimestampTzPlusMilliseconds(now, GeoshardWorkerRetryDelay(catalog_failures));
				continue;
			}
			catalog_failures = 0;
			if (!catalog.ready)
			{
				/* nothing to probe: release probe_now's waiters rather than spin for them */
				HealthRoundServed(request);
				served = request;
				next_round = TimestampTzPlusMilliseconds(now, HEALTH_RECHECK_MS);
				continue;
			}

			/* 2. the probes */
			MemoryContextSwitchTo(round_context);
			pgstat_report_activity(STATE_RUNNING, "probing regions");
			HealthProbeRound(targets, results, catalog.ntargets, geoshard_health_timeout);
			pgstat_report_activity(STATE_IDLE, NULL);

			/* 3. the breakers */
			npending = HealthMakeRoom(events, npending);
			npending += HealthApplyResults(targets, results, catalog.ntargets,
										   events + npending, HEALTH_MAX_EVENTS);
			HealthPublish();
			HealthRoundServed(request);
			served = request;
		}

		/* 4. the record, retried later while it fails */
		now = GetCurrentTimestamp();
		if ((npending > 0 || (now >= next_prune && geoshard_health_enabled)) && now >= next_record)
		{
			HealthRecordWork record = {events, npending, now >= next_prune, false};

			result = GeoshardWorkerRun("recording health events", HealthRecordEvents, &record);
			if (result == GEOSHARD_WORK_FAILED)
			{
				record_failures++;
				next_record = TimestampTzPlusMilliseconds(now, GeoshardWorkerRetryDelay(record_failures));
				continue;
			}
			record_failures = 0;
			if (record.recorded)
				npending = 0;
			if (record.prune)
				next_prune = TimestampTzPlusMilliseconds(now, HEALTH_PRUNE_MS);
		}
	}
}
