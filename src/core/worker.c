/*
 * src/core/worker.c
 *	  Every geoshard background worker is registered here, from one table,
 *	  and shares the start-up, loop and transaction helpers below.
 *
 * Workers run only when geoshard is in shared_preload_libraries.  Each one
 * connects to geoshard.database and runs a loop of this shape (worker_spi,
 * pg_cron):
 *
 *     GeoshardWorkerStart("geoshard <area>");
 *     for (;;)
 *     {
 *         GeoshardWorkerWait(timeout);        latch, timeout, postmaster death,
 *                                             SIGTERM, SIGHUP
 *         switch (GeoshardWorkerRun("...", work, arg))   one transaction
 *             GEOSHARD_WORK_DONE: ...
 *             GEOSHARD_WORK_NO_EXTENSION: wait, look again later
 *             GEOSHARD_WORK_FAILED: wait GeoshardWorkerRetryDelay(failures)
 *         ... network work, outside any transaction and any lock ...
 *     }
 *
 * A worker never sleeps with pg_usleep: a latch wait wakes at once for a
 * signal or the postmaster's death.  An ERROR raised by a unit of work run
 * by GeoshardWorkerRun is logged, its transaction rolled back, and the
 * worker goes on: one bad row or one failing table cannot take the others
 * down, and the worker keeps what it holds in memory (a connection, a
 * queue of events to record).  The caller waits a growing delay before it
 * retries, so a lasting failure is a log line every minute at most, not a
 * loop.  An ERROR anywhere else ends the worker, and the postmaster starts
 * it again after bgw_restart_time.  Failures of the outside world are
 * values the worker handles.  While the extension is not created in
 * geoshard.database, GeoshardWorkerRun says so once in the log, and the
 * worker waits before it asks again.
 *
 * A worker whose memory must never outlive a failed transaction (the raft
 * worker: libraft's state must match what is durable) opens its units with
 * GeoshardWorkerBeginWork/EndWork instead: there an ERROR ends the worker,
 * which starts again from the tables.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/slot.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "core/guc.h"
#include "core/worker.h"

/* seconds before the postmaster restarts a worker that exited with an error */
#define GEOSHARD_WORKER_RESTART_S	2
/* first and longest wait after a failed unit of work */
#define GEOSHARD_WORKER_RETRY_MIN_MS	1000
#define GEOSHARD_WORKER_RETRY_MAX_MS	60000

typedef struct GeoshardWorker
{
	const char *name;			/* bgw_name and bgw_type: "geoshard <area>" */
	const char *function;		/* entry point, Geoshard<Area>Main */
} GeoshardWorker;

static const GeoshardWorker workers[] = {
	{"geoshard health", "GeoshardHealthMain"},
	{"geoshard cdc", "GeoshardCdcMain"},
	{"geoshard redisview", "GeoshardRedisviewMain"},
	{"geoshard raft", "GeoshardRaftMain"},
	{"geoshard metrics", "GeoshardMetricsMain"},
};

/* this worker's state */
static MemoryContext worker_context = NULL;
static bool extension_missing_logged = false;

/* Register every worker; called from _PG_init during preload only. */
void
GeoshardWorkersRegister(void)
{
	for (int i = 0; i < (int) lengthof(workers); i++)
	{
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = GEOSHARD_WORKER_RESTART_S;
		strlcpy(worker.bgw_library_name, "geoshard", BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, workers[i].function, BGW_MAXLEN);
		strlcpy(worker.bgw_name, workers[i].name, BGW_MAXLEN);
		strlcpy(worker.bgw_type, workers[i].name, BGW_MAXLEN);
		RegisterBackgroundWorker(&worker);
	}
}

/*
 * Start-up of a worker's main function: signals, the database connection,
 * the name in pg_stat_activity, and a memory context of its own that the
 * caller is left in.
 */
void
GeoshardWorkerStart(const char *name)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(geoshard_database, NULL, 0);
	pgstat_report_appname(name);

	worker_context = AllocSetContextCreate(TopMemoryContext, "geoshard worker", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSetIdentifier(worker_context, name);
	MemoryContextSwitchTo(worker_context);
}

/*
 * Act on what signals asked for: SIGTERM ends the worker (die sets an
 * interrupt), SIGHUP re-reads the configuration.  Returns true when the
 * configuration was reloaded, so that the caller recomputes what it derives
 * from settings.
 */
bool
GeoshardWorkerHandleInterrupts(void)
{
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		return true;
	}
	return false;
}

/*
 * Wait for the latch or timeout_ms, whichever comes first; exits with the
 * postmaster.  Returns true when the configuration was reloaded.
 */
bool
GeoshardWorkerWait(long timeout_ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Max(timeout_ms, 0), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	return GeoshardWorkerHandleInterrupts();
}

/*
 * Whether the extension was found, kept until a schema changes: DROP
 * EXTENSION drops schema geoshard, which its script creates.  Looking it up
 * in pg_extension for every unit of work was a tenth of the raft worker's CPU.
 */
static bool extension_seen = false;
static bool extension_callback_registered = false;

static void
forget_extension(Datum arg, int cacheid, uint32 hashvalue)
{
	extension_seen = false;
}

/*
 * Open the transaction of one unit of database work (worker_spi): a
 * statement timestamp, a transaction, SPI and a snapshot.  Returns false,
 * with the transaction open all the same, when the extension is not created
 * in this database yet: logged once, until it appears.
 * GeoshardWorkerEndWork() must follow either way.
 */
bool
GeoshardWorkerBeginWork(const char *activity)
{
	bool		ready;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);

	ready = extension_seen || OidIsValid(get_extension_oid("geoshard", true));
	if (ready && !extension_seen)
	{
		if (!extension_callback_registered)
			CacheRegisterSyscacheCallback(NAMESPACEOID, forget_extension, (Datum) 0);
		extension_callback_registered = true;
		extension_seen = true;
	}
	if (!ready && !extension_missing_logged)
		ereport(LOG,
				(errmsg("%s is waiting for CREATE EXTENSION geoshard in database \"%s\"",
						MyBgworkerEntry->bgw_type, geoshard_database)));
	else if (ready && extension_missing_logged)
		ereport(LOG,
				(errmsg("%s found extension geoshard in database \"%s\"",
						MyBgworkerEntry->bgw_type, geoshard_database)));
	extension_missing_logged = !ready;
	return ready;
}

/* Close what GeoshardWorkerBeginWork opened, and return to the worker's context. */
void
GeoshardWorkerEndWork(void)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	/* the transaction's contexts are gone */
	MemoryContextSwitchTo(worker_context);
}

static void
GeoshardWorkerErrorContext(void *arg)
{
	errcontext("%s: %s", MyBgworkerEntry->bgw_type, (const char *) arg);
}

/*
 * Run one unit of database work, work(arg), in a transaction of its own
 * (GeoshardWorkerBeginWork), unless the extension is not created yet.  An
 * ERROR inside is caught: it is logged as usual, the transaction is rolled
 * back, and GEOSHARD_WORK_FAILED is returned; the caller retries after
 * GeoshardWorkerRetryDelay().  Interrupts that end the backend (SIGTERM,
 * FATAL) are not caught.
 */
GeoshardWorkResult
GeoshardWorkerRun(const char *activity, GeoshardWorkFunction work, void *arg)
{
	volatile GeoshardWorkResult result = GEOSHARD_WORK_NO_EXTENSION;
	ErrorContextCallback context;

	/* errors say which worker and which unit of work */
	context.callback = GeoshardWorkerErrorContext;
	context.arg = unconstify(char *, activity);
	context.previous = error_context_stack;
	error_context_stack = &context;

	PG_TRY();
	{
		if (GeoshardWorkerBeginWork(activity))
		{
			work(arg);
			result = GEOSHARD_WORK_DONE;
		}
		GeoshardWorkerEndWork();
	}
	PG_CATCH();
	{
		/* as PostgreSQL's own error recovery does (PostgresMain, autovacuum) */
		HOLD_INTERRUPTS();
		EmitErrorReport();
		AbortCurrentTransaction();
		LWLockReleaseAll();
		/* an ERROR inside logical decoding leaves the slot acquired (PostgresMain) */
		if (MyReplicationSlot != NULL)
			ReplicationSlotRelease();
		FlushErrorState();
		MemoryContextSwitchTo(worker_context);
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();
		result = GEOSHARD_WORK_FAILED;
	}
	PG_END_TRY();
	error_context_stack = context.previous;
	return result;
}

/*
 * How long to wait before the next try after the given number of failures
 * in a row (at least 1): doubles from GEOSHARD_WORKER_RETRY_MIN_MS up to
 * GEOSHARD_WORKER_RETRY_MAX_MS.
 */
long
GeoshardWorkerRetryDelay(int failures)
{
	long		delay = GEOSHARD_WORKER_RETRY_MIN_MS;

	for (int i = 1; i < failures && delay < GEOSHARD_WORKER_RETRY_MAX_MS; i++)
		delay *= 2;
	return Min(delay, GEOSHARD_WORKER_RETRY_MAX_MS);
}
