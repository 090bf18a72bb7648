/*
 * src/redisview/worker.c
 *	  The redisview worker ("geoshard redisview"): keeps every enabled view of
 *	  geoshard.redis_views in Redis in step with committed rows.
 *
 * One logical slot, geoshard_redisview, of the geoshard output plugin, with
 * include-tables limited to the views' tables, include-xids and
 * include-old.  The worker keeps the slot acquired and one decoding context
 * open across passes, as a walsender does (RvDecodingStart), so that a pass
 * decodes only WAL it has not read before.  A pass, when the WAL moved past
 * the slot:
 *   1. One transaction (GeoshardWorkerRun): WAL records are read and decoded
 *      up to upto, the WAL flush position seen before the pass, and each
 *      event the plugin writes is applied as it comes (RvDecodingWrite).
 *   2. Each source transaction's commands for every view of its tables go
 *      into one MULTI ... EXEC, which also SETs geoshard:rv:position to the
 *      id of the transaction's commit event ("<commit LSN>-<n>", strictly
 *      increasing in the slot).  The blocks of many transactions are
 *      pipelined: sent together, their replies read together.  A reader
 *      therefore sees a source transaction entirely or not at all.
 *   3. After Redis acknowledged the EXECs, LogicalConfirmReceivedLocation()
 *      to the end of the last record decoded.
 * The context is made again from the slot's confirmed position after a pass
 * that failed (an ERROR, a Redis failure: what it decoded past the confirmed
 * position is read again) and when the views' tables change (include-tables
 * is fixed when it starts).  The slot is handed back on an ERROR
 * (GeoshardWorkerRun), before it is dropped and while the worker is paused;
 * at exit the server releases it.
 * Idempotency: a change is re-read only when the slot was not confirmed past
 * it (the worker or the server stopped after EXEC, a pass failed).  The
 * position key, written in the same MULTI/EXEC as the data, says which
 * transactions Redis already holds; their events are skipped.  Besides, each
 * command is state-based (apply.c), so that a change applied twice leaves
 * the same contents.
 *
 * Builds.  A view is built when Redis has no generation for it (new view,
 * Redis lost its data: the epoch key geoshard:rv:epoch is missing on
 * connect), when the view is enabled again, on geoshard.rebuild_redis_view()
 * and after a reply error on one of its keys.  A build, in one pass:
 *   a. a new generation number g' (INCR geoshard:rv:gens);
 *   b. the transaction's snapshot S (taken when GeoshardWorkerRun opened it)
 *      reads the table through a cursor, chunk by chunk, into g' (plain
 *      pipelined commands: nobody reads g' yet);
 *   c. upto is taken after S, and decoding goes on from the slot's confirmed
 *      position C0 as in every pass: each transaction is applied to the live
 *      generation when it is after the position key, as always, and to g'
 *      when S did not see it (its xid is at or above S's xmax or among S's
 *      running xids);
 *   d. when the pass reached upto, one MULTI/EXEC sets the pointer key
 *      geoshard:rv:<view>:gen to g' (readers switch at once), and the keys
 *      of the old generation are deleted afterwards (SCAN + UNLINK).
 * Why nothing is lost or doubled in g': a transaction committed before S
 * was taken is seen by S and skipped by (c); one S did not see commits
 * after S was taken, so before upto or later, and its commit is after C0
 * unless it committed in WAL before the last confirmation but still showed as
 * running in S (the window between a commit's WAL flush and its end in the
 * proc array, long with synchronous replication).  Those are the
 * transactions S lists as running that an earlier pass already decoded:
 * the worker remembers the xids it decoded in its last passes
 * (REDISVIEW_RECENT_XIDS) and, if S lists one of them, drops g' and tries
 * again later.  docs/redisview.md states the limit.
 *
 * Errors: Redis down or slow is a failed pass, retried after a backoff;
 * nothing is confirmed.  A refusal of the whole server (out of memory and
 * the like, RedisErrorIsServerWide) discards the transaction's MULTI: the
 * pass fails at it and is retried the same way, without a rebuild.  A
 * refusal of one key (the wrong type inside EXEC, no permission when
 * queued) is an error of that view, with the key's name: its live
 * generation is left as it is ("failed") and it is built again in a new
 * generation, while the others go on.  RvPipeFlush puts the position key
 * back when Redis applied transactions after a discarded one.  The views
 * are checked every second for the epoch key (a FLUSHALL while connected).
 * geoshard:rv:<view>:built says which rebuild request the live generation
 * answers, so that a build owed is not forgotten across a restart.  An
 * ERROR in a pass is caught by GeoshardWorkerRun and retried after its
 * delay.
 */
#include "postgres.h"

#include <math.h>

#include "access/xlog.h"
#include "access/xlogutils.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/reorderbuffer.h"
#include "replication/slot.h"
#include "storage/standby.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cdc/event_id.h"
#include "core/guc.h"
#include "core/redis.h"
#include "core/worker.h"
#include "redisview/redisview.h"
#include "redisview/view.h"

#define RV_SLOT					"geoshard_redisview"
#define RV_POSITION_KEY			REDISVIEW_PREFIX "position"
#define RV_EPOCH_KEY			REDISVIEW_PREFIX "epoch"
#define RV_GENS_KEY				REDISVIEW_PREFIX "gens"
/* how often the views are read again (a reload reads them at once) */
#define RV_RELOAD_MS			1000
#define RV_IDLE_MS				1000
#define RV_BACKOFF_MIN_MS		100
#define RV_BACKOFF_MAX_MS		5000
/* xids of the transactions decoded lately, for the build's check */
#define REDISVIEW_RECENT_XIDS	65536
/* a pass decodes at most this many batches of changes */
#define RV_PASS_BATCHES			10

PGDLLEXPORT void GeoshardRedisviewMain(Datum main_arg);

#define RV_VIEWS_QUERY \
	"SELECT name, source_schema::text, source_table::text, kind, member_columns," \
	" lat_column, lon_column, quadkey_column, coalesce(shard_level, 0), field_columns," \
	" group_column, value_column, coalesce(ttl_ms, 0), enabled, rebuild_requested_at::text," \
	" created_at::text" \
	" FROM geoshard.redis_views ORDER BY name"

#define RV_SLOT_QUERY \
	"SELECT plugin::text, database::text = pg_catalog.current_database(), confirmed_flush_lsn" \
	" FROM pg_catalog.pg_replication_slots WHERE slot_name = '" RV_SLOT "'"



/* one pass, the argument of RvPassWork */
typedef struct RvPass
{
	XLogRecPtr	upto;
	int			build;			/* index of the view to build, -1 none */
	bool		ok;
	char		error[REDISVIEW_ERROR_LEN];
} RvPass;

static RvView views[REDISVIEW_MAX_VIEWS];
static RedisViewStatus statuses[REDISVIEW_MAX_VIEWS];
static int	nviews = 0;
static bool catalog_exists = false;
static MemoryContext batch_context = NULL;

/* the decoding context kept open across passes, and what it was started with */
static LogicalDecodingContext *dctx = NULL;
static MemoryContext dctx_memory = NULL;	/* holds dctx and its options */
static char *dctx_tables = NULL;	/* its include-tables */

/*
 * The backend's catalog caches serve two times: decoding fills them with
 * entries of the past (a source table as it was when the change was
 * written), the rest of the worker with entries of the present.  Neither
 * may see the other's (pg_logical_slot_get_changes_guts invalidates both
 * ways on every call).  Only a build (the source table, its types, by name)
 * and the reading of the views (the geoshard schema by name) look up what
 * decoding also looks up, so the caches are reset only between those and
 * decoding, not on every pass.  After an ERROR both are assumed.
 */
static bool caches_past = true;		/* decoding ran since the last reset */
static bool caches_present = true;	/* a build ran since the last reset */

static void
RvCachesForPresent(void)
{
	if (caches_past)
		InvalidateSystemCaches();
	caches_past = false;
}

static RedisConn *conn = NULL;
static CdcId position;			/* what geoshard:rv:position holds, 0-0 none */
static char position_text[64];
static bool slot_ready = false;
static XLogRecPtr confirmed = InvalidXLogRecPtr;
static bool more = false;
static TimestampTz next_epoch_check = 0;
static char connected_url[1024];	/* the geoshard.redis_url of conn */
static bool lag_warned = false;
static int	failures = 0;
static TimestampTz retry_at = 0;
static char last_error[REDISVIEW_ERROR_LEN];

/* commands queued inside the open MULTI, sent in earlier flushes; -1: no MULTI open */
static int	multi_queued = -1;

static TransactionId recent_xids[REDISVIEW_RECENT_XIDS];
static int	recent_next = 0;

/* generations to delete, "<view>" and its generation (0: every key of the view) */
typedef struct RvGarbage
{
	char		view[NAMEDATALEN];
	int64		gen;
	bool		all_but_live;	/* every generation but gen */
} RvGarbage;
static RvGarbage garbage[REDISVIEW_MAX_VIEWS * 4];
static int	ngarbage = 0;

static void RvFail(const char *fmt,...) pg_attribute_printf(1, 2);
static redisReply *RvCommandReply(char *error, size_t errlen, int argc, const char **argv);

static void
RvGarbageAdd(const char *view, int64 gen, bool all_but_live)
{
	if (ngarbage >= (int) lengthof(garbage))
		return;					/* found again by the next connection's sweep */
	strlcpy(garbage[ngarbage].view, view, NAMEDATALEN);
	garbage[ngarbage].gen = gen;
	garbage[ngarbage].all_but_live = all_but_live;
	ngarbage++;
}

static void
RvDisconnect(void)
{
	RedisDisconnect(conn);
	conn = NULL;
	multi_queued = -1;
}

/* A failed pass: the error on every enabled view, and when to retry. */
static void
RvFail(const char *fmt,...)
{
	char		error[REDISVIEW_ERROR_LEN];
	va_list		args;
	TimestampTz now = GetCurrentTimestamp();

	va_start(args, fmt);
	vsnprintf(error, sizeof(error), fmt, args);
	va_end(args);
	if (strcmp(error, last_error) != 0)
		ereport(LOG,
				(errmsg("geoshard redisview could not apply changes: %s", error),
				 errdetail("The worker retries with a backoff of up to %d ms.", RV_BACKOFF_MAX_MS)));
	strlcpy(last_error, error, sizeof(last_error));
	for (int i = 0; i < nviews; i++)
		if (views[i].enabled)
		{
			strlcpy(statuses[i].last_error, error, REDISVIEW_ERROR_LEN);
			statuses[i].last_error_at = now;
			statuses[i].state = REDISVIEW_STATE_RETRYING;
		}
	failures = Min(failures + 1, 30);
	retry_at = TimestampTzPlusMilliseconds(now, Min(RV_BACKOFF_MIN_MS << Min(failures - 1, 10),
													RV_BACKOFF_MAX_MS));
}

/* An error of one view (a reply error on one of its keys): it is built again. */
static void
RvViewError(int vi, const char *fmt,...) pg_attribute_printf(2, 3);
static void
RvViewError(int vi, const char *fmt,...)
{
	va_list		args;
	char		error[REDISVIEW_ERROR_LEN];

	va_start(args, fmt);
	vsnprintf(error, sizeof(error), fmt, args);
	va_end(args);
	ereport(LOG,
			(errmsg("redis view \"%s\": %s", views[vi].name, error),
			 errdetail("The view is built again in a new generation.")));
	strlcpy(statuses[vi].last_error, error, REDISVIEW_ERROR_LEN);
	statuses[vi].last_error_at = GetCurrentTimestamp();
	views[vi].need_build = true;
}

static void
RvExecute(const char *sql, int expected, int nargs, Oid *types, Datum *values)
{
	int			ret = nargs > 0 ?
		SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0) :
		SPI_execute(sql, false, 0);

	if (ret != expected)
		elog(ERROR, "redisview worker query failed with SPI code %d: %s", ret, sql);
}

static char *
RvConfigString(RvView *view, HeapTuple tuple, TupleDesc desc, int col)
{
	char	   *v = SPI_getvalue(tuple, desc, col);

	return v != NULL ? MemoryContextStrdup(view->config_context, v) : NULL;
}

static int
RvConfigArray(RvView *view, HeapTuple tuple, TupleDesc desc, int col, char ***out)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	*out = NULL;
	if (isnull)
		return 0;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	*out = MemoryContextAlloc(view->config_context, sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		(*out)[i] = MemoryContextStrdup(view->config_context, nulls[i] ? "" : TextDatumGetCString(elems[i]));
	return n;
}

static bool
RvSame(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
RvViewRemove(int i)
{
	MemoryContextDelete(views[i].config_context);
	if (views[i].snap.xip != NULL)
		pfree(views[i].snap.xip);
	memmove(&views[i], &views[i + 1], sizeof(RvView) * (nviews - i - 1));
	memmove(&statuses[i], &statuses[i + 1], sizeof(RedisViewStatus) * (nviews - i - 1));
	nviews--;
}

/*
 * Read geoshard.redis_views (inside a transaction).  A new view, or one
 * whose definition changed, is built; a view that is gone or disabled has
 * its keys deleted.
 */
static void
RvLoadViews(void *arg)
{
	Oid			nspid;

	RvCachesForPresent();
	nspid = get_namespace_oid("geoshard", true);
	catalog_exists = OidIsValid(nspid) && OidIsValid(get_relname_relid("redis_views", nspid));
	if (!catalog_exists)
		return;
	for (int i = 0; i < nviews; i++)
		views[i].seen = false;

	RvExecute(RV_VIEWS_QUERY, SPI_OK_SELECT, 0, NULL, NULL);
	for (uint64 r = 0; r < SPI_processed && r < REDISVIEW_MAX_VIEWS; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tuple, desc, 1);
		char	   *kind = SPI_getvalue(tuple, desc, 4);
		char	   *enabled = SPI_getvalue(tuple, desc, 14);
		char	   *requested = SPI_getvalue(tuple, desc, 15);
		RvView	   *view = NULL;
		RvView		old;
		bool		fresh = false;

		for (int i = 0; i < nviews; i++)
			if (strcmp(views[i].name, name) == 0)
				view = &views[i];
		if (view == NULL)
		{
			view = &views[nviews];
			memset(view, 0, sizeof(RvView));
			memset(&statuses[nviews], 0, sizeof(RedisViewStatus));
			nviews++;
			strlcpy(view->name, name, NAMEDATALEN);
			strlcpy(statuses[view - views].view, name, NAMEDATALEN);
			view->config_context = AllocSetContextCreate(TopMemoryContext, "geoshard redisview view",
														 ALLOCSET_SMALL_SIZES);
			/*
			 * Connected: a view added now is built.  Not yet: the connection
			 * tells whether Redis holds this very view (RvConnect).
			 */
			view->need_build = conn != NULL;
			fresh = true;
		}
		old = *view;
		view->seen = true;

		/* a changed definition (dropped and added again) needs a new build */
		if (!fresh && (strcmp(view->schema, SPI_getvalue(tuple, desc, 2)) != 0 ||
					   strcmp(view->table, SPI_getvalue(tuple, desc, 3)) != 0))
			view->need_build = true;
		strlcpy(view->schema, SPI_getvalue(tuple, desc, 2), NAMEDATALEN);
		strlcpy(view->table, SPI_getvalue(tuple, desc, 3), NAMEDATALEN);
		view->kind = strcmp(kind, "geo") == 0 ? RV_GEO :
			strcmp(kind, "hash") == 0 ? RV_HASH :
			strcmp(kind, "presence") == 0 ? RV_PRESENCE : RV_COUNTER;
		if (!fresh && view->kind != old.kind)
			view->need_build = true;

		/* the old strings die with the reset; keep what is compared below */
		{
			char	   *old_requested = old.requested ? pstrdup(old.requested) : NULL;

			MemoryContextReset(view->config_context);
			view->nmembers = RvConfigArray(view, tuple, desc, 5, &view->members);
			view->lat = RvConfigString(view, tuple, desc, 6);
			view->lon = RvConfigString(view, tuple, desc, 7);
			view->quadkey = RvConfigString(view, tuple, desc, 8);
			view->shard_level = atoi(SPI_getvalue(tuple, desc, 9));
			view->nfields = RvConfigArray(view, tuple, desc, 10, &view->fields);
			view->group = RvConfigString(view, tuple, desc, 11);
			view->value = RvConfigString(view, tuple, desc, 12);
			view->ttl_ms = pg_strtoint64(SPI_getvalue(tuple, desc, 13));
			view->enabled = enabled != NULL && enabled[0] == 't';
			view->requested = RvConfigString(view, tuple, desc, 15);
			view->created = RvConfigString(view, tuple, desc, 16);
			if (!fresh && requested != NULL && !RvSame(old_requested, requested))
				view->need_build = true;
		}
		if (!fresh && view->enabled && !old.enabled)
			view->need_build = true;
		if (view->need_build && view->building)
		{
			/* the definition changed under a build: it starts again */
			view->building = false;
			RvGarbageAdd(view->name, view->build_gen, false);
		}
		if (!view->enabled && (fresh || old.enabled))
		{
			RvGarbageAdd(view->name, 0, false);
			view->gen = 0;
		}
		statuses[view - views].state = view->enabled ? statuses[view - views].state : REDISVIEW_STATE_DISABLED;
	}

	for (int i = nviews - 1; i >= 0; i--)
		if (!views[i].seen)
		{
			RvGarbageAdd(views[i].name, 0, false);
			RvViewRemove(i);
		}
}

/* The include-tables option: the views' tables, with , . * \ escaped. */
static char *
RvIncludeTables(void)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < nviews; i++)
	{
		const char *parts[2] = {views[i].schema, views[i].table};

		if (!views[i].enabled)
			continue;
		if (s.len > 0)
			appendStringInfoChar(&s, ',');
		for (int p = 0; p < 2; p++)
		{
			if (p == 1)
				appendStringInfoChar(&s, '.');
			for (const char *c = parts[p]; *c; c++)
			{
				if (*c == ',' || *c == '.' || *c == '*' || *c == '\\')
					appendStringInfoChar(&s, '\\');
				appendStringInfoChar(&s, *c);
			}
		}
	}
	return s.data;
}

/*
 * A reply error on a key of view vi.  One of the whole server (out of
 * memory, say: RedisErrorIsServerWide) is retried as it is; any other (a key
 * of the wrong type, no permission on it) leaves the view's live generation
 * as it is until a build in a new generation replaces it.
 */
static void
RvKeyError(int vi, const char *key, const redisReply *reply)
{
	char		what[REDIS_ERROR_LEN];

	RedisDescribeReply(reply, what, sizeof(what));
	if (vi < 0)
		return;
	if (RedisErrorIsServerWide(reply))
	{
		snprintf(statuses[vi].last_error, REDISVIEW_ERROR_LEN, "key \"%s\": %s", key ? key : "", what);
		statuses[vi].last_error_at = GetCurrentTimestamp();
		return;
	}
	if (!views[vi].failed)
		RvViewError(vi, "key \"%s\": %s", key ? key : "", what);
	views[vi].failed = true;
	views[vi].mark_unbuilt = true;
}

/*
 * Send what the pipeline holds and check every reply.
 *
 * A reply error inside an EXEC is an error of its view (RvKeyError); the
 * rest of the block went through.  A command refused while it was queued
 * (out of memory, no permission on a key) makes Redis discard its whole
 * MULTI (EXECABORT): the flush fails at that block.  Redis may still have
 * applied blocks sent after it, which moved the position key past the
 * discarded transaction: the key is put back to the last block before it,
 * so that the next pass sends it again (the later blocks too; applying a
 * block twice leaves the same contents, see apply.c).  Any other failure
 * returns false with error set, and the connection is dropped.  *acked is
 * the number of EXECs that went through before a failure.
 */
static bool
RvPipeFlush(RvPipe *pipe, char *error, size_t errlen, int *acked)
{
	redisReply **replies;
	int			n = pipe->n;
	int			multi = multi_queued >= 0 ? -1 - multi_queued : INT_MIN;	/* index of the MULTI */
	bool		ok = true;
	bool		refused = false;	/* a command of the open MULTI was refused */
	bool		applied_after = false;	/* an EXEC went through after the failure */
	const char *acked_position = NULL;	/* set by the last EXEC before the failure */
	char		what[REDIS_ERROR_LEN];

	*acked = 0;
	if (n == 0)
		return true;
	pgstat_report_activity(STATE_RUNNING, "sending redis view changes");
	replies = RedisExchange(pipe->conn, geoshard_redis_timeout, error, errlen);
	pipe->n = 0;
	if (replies == NULL)
	{
		multi_queued = -1;
		RvDisconnect();
		return false;
	}
	for (int i = 0; i < n; i++)
	{
		redisReply *r = replies[i];
		int			vi = pipe->views[i];
		bool		unexpected = false;

		switch (pipe->tags[i])
		{
			case 'M':
				multi = i;
				refused = false;
				unexpected = !RedisReplyIsStatus(r, "OK");
				break;
			case 'Q':
				if (RedisReplyIsStatus(r, "QUEUED"))
					break;
				if (r->type != REDIS_REPLY_ERROR)
				{
					unexpected = true;
					break;
				}
				RvKeyError(vi, pipe->keys[i], r);
				if (ok)
				{
					RedisDescribeReply(r, what, sizeof(what));
					if (vi >= 0)
						snprintf(error, errlen, "redis view \"%s\", key \"%s\": %s",
								 views[vi].name, pipe->keys[i] ? pipe->keys[i] : "", what);
					else
						snprintf(error, errlen, "%s", what);
				}
				refused = true;
				ok = false;
				break;
			case 'P':
				if (r->type == REDIS_REPLY_ERROR && ok)
				{
					RedisDescribeReply(r, what, sizeof(what));
					snprintf(error, errlen, "redis view \"%s\", key \"%s\": %s",
							 vi >= 0 ? views[vi].name : "", pipe->keys[i] ? pipe->keys[i] : "", what);
					ok = false;
				}
				break;
			case 'E':
				if (refused && r->type == REDIS_REPLY_ERROR)
				{
					/* EXECABORT: the block was discarded, as said above */
					refused = false;
					multi = INT_MIN;
					break;
				}
				if (r->type != REDIS_REPLY_ARRAY || multi == INT_MIN || r->elements != (size_t) (i - multi - 1))
				{
					unexpected = true;
					break;
				}
				for (size_t e = 0; e < r->elements; e++)
					if (r->element[e]->type == REDIS_REPLY_ERROR)
					{
						int			c = multi + 1 + (int) e;

						if (c >= 0)
							RvKeyError(pipe->views[c], pipe->keys[c], r->element[e]);
						if (RedisErrorIsServerWide(r->element[e]) && ok)
						{
							/* part of the block ran: it is sent again, from its start */
							RedisDescribeReply(r->element[e], what, sizeof(what));
							snprintf(error, errlen, "key \"%s\": %s",
									 c >= 0 && pipe->keys[c] ? pipe->keys[c] : "", what);
							ok = false;
						}
					}
				if (ok)
				{
					(*acked)++;
					acked_position = pipe->keys[i];
				}
				else
					applied_after = true;
				multi = INT_MIN;
				break;
		}
		if (unexpected)
		{
			RedisDescribeReply(r, what, sizeof(what));
			if (ok)
				snprintf(error, errlen, "unexpected reply from Redis: %s", what);
			ok = false;
			applied_after = true;	/* not known: put the position back anyway */
			break;
		}
	}
	RedisFreeReplies(replies, n);
	/* a MULTI still open goes on in the next flush */
	multi_queued = multi != INT_MIN ? n - multi - 1 : -1;

	/* tell a later connection that the failed views need a build (RvConnect) */
	for (int v = 0; v < nviews && conn != NULL; v++)
		if (views[v].mark_unbuilt)
		{
			char		why[REDIS_ERROR_LEN];
			char	   *built = psprintf(REDISVIEW_PREFIX "%s:built", views[v].name);
			const char *del[2] = {"DEL", built};
			redisReply *reply;

			if (multi_queued >= 0 || !ok)
				break;			/* not inside a MULTI; a failed flush reconnects first */
			reply = RvCommandReply(why, sizeof(why), 2, del);
			if (reply == NULL)
				break;
			freeReplyObject(reply);
			views[v].mark_unbuilt = false;
		}

	if (!ok)
	{
		multi_queued = -1;
		if (applied_after && conn != NULL && !RedisBroken(conn))
		{
			char		why[REDIS_ERROR_LEN];
			const char *back = acked_position != NULL ? acked_position : position_text;
			const char *set[3] = {"SET", RV_POSITION_KEY, back};
			const char *del[2] = {"DEL", RV_POSITION_KEY};
			redisReply *reply;

			/* out of the MULTI a failed block may have left open */
			if (multi != INT_MIN)
			{
				const char *discard[1] = {"DISCARD"};

				if ((reply = RedisCommand(conn, geoshard_redis_timeout, why, sizeof(why), 1, discard)) != NULL)
					freeReplyObject(reply);
			}
			reply = conn != NULL && !RedisBroken(conn) ?
				RvCommandReply(why, sizeof(why), back[0] != '\0' ? 3 : 2, back[0] != '\0' ? set : del) : NULL;
			if (reply == NULL)
				ereport(LOG,
						(errmsg("geoshard redisview could not put the position key back after a failed batch: %s", why),
						 errdetail("Transactions of that batch may be missing from Redis until the views are built again.")));
			else
				freeReplyObject(reply);
		}
		RvDisconnect();
	}
	return ok;
}

/* A command whose error reply is a failure; a broken connection is dropped. */
static redisReply *
RvCommandReply(char *error, size_t errlen, int argc, const char **argv)
{
	redisReply *reply = RedisCommandChecked(conn, geoshard_redis_timeout, error, errlen, argc, argv);

	if (reply == NULL && RedisBroken(conn))
		RvDisconnect();
	return reply;
}

/* Is key (matched by RvCollectGarbage's pattern) one of the generation g's? */
static bool
RvGarbageWanted(const char *key, void *arg)
{
	RvGarbage  *g = (RvGarbage *) arg;
	const char *rest = key + strlen(REDISVIEW_PREFIX) + strlen(g->view) + 1;
	char	   *end;
	int64		gen;

	if (g->gen == 0 && !g->all_but_live)
		return true;
	/* "<gen>" exactly, then ":" or the end; the pointer keys (gen, def, built) are no generation */
	gen = strtoi64(rest, &end, 10);
	if (end == rest || (*end != ':' && *end != '\0'))
		return false;
	return g->all_but_live ? gen != g->gen : gen == g->gen;
}

/* Delete the keys of the generations in garbage[]; false after a Redis failure. */
static bool
RvCollectGarbage(void)
{
	char		error[REDIS_ERROR_LEN];

	while (ngarbage > 0)
	{
		RvGarbage  *g = &garbage[ngarbage - 1];
		char	   *pattern;

		if (g->gen != 0 && !g->all_but_live)
			pattern = psprintf(REDISVIEW_PREFIX "%s:" INT64_FORMAT "*", g->view, g->gen);
		else
			pattern = psprintf(REDISVIEW_PREFIX "%s:*", g->view);
		if (!RedisUnlinkMatching(conn, geoshard_redis_timeout, pattern, RvGarbageWanted, g,
								 error, sizeof(error)))
		{
			if (RedisBroken(conn))
			{
				RvDisconnect();
				return false;
			}
			/* refused (no permission on the view's keys, say): the next connection sweeps again */
			ereport(LOG,
					(errmsg("geoshard redisview could not delete old keys of redis view \"%s\": %s",
							g->view, error)));
		}
		pfree(pattern);
		ngarbage--;
	}
	return true;
}

/*
 * What geoshard:rv:<view>:built holds once a build of the view's current
 * definition and last rebuild request is live.
 */
static const char *
RvBuiltValue(RvView *view)
{
	return view->requested != NULL ? view->requested : "-";
}

/*
 * Connect to geoshard.redis_url; learn the position and each view's live
 * generation.  A missing epoch key means Redis lost its data (or never had
 * ours): every view is built again.  Generations other than the live ones
 * (left by a build that stopped half way) are deleted.
 */
static bool
RvConnect(void)
{
	char		error[REDIS_ERROR_LEN];
	const char *get_epoch[2] = {"GET", RV_EPOCH_KEY};
	redisReply *reply;
	char	   *masked;
	bool		lost;

	if (geoshard_redis_url == NULL || geoshard_redis_url[0] == '\0')
	{
		RvFail("no Redis URL: geoshard.redis_url is empty");
		return false;
	}
	masked = RedisMaskUrl(geoshard_redis_url);
	pgstat_report_activity(STATE_RUNNING, "connecting to Redis");
	conn = RedisConnect(geoshard_redis_url, geoshard_redis_timeout, error, sizeof(error));
	strlcpy(connected_url, geoshard_redis_url, sizeof(connected_url));
	if (conn == NULL)
	{
		RvFail("could not connect to Redis at %s: %s", masked, error);
		return false;
	}
	reply = RvCommandReply(error, sizeof(error), 2, get_epoch);
	if (reply == NULL)
		goto fail;
	lost = reply->type != REDIS_REPLY_STRING;
	freeReplyObject(reply);
	if (lost)
	{
		/* a fresh Redis: forget what the old one held, then mark this one as ours */
		char		epoch[64];
		const char *flush_argv[3] = {"DEL", RV_POSITION_KEY, RV_EPOCH_KEY};
		const char *set_epoch[3] = {"SET", RV_EPOCH_KEY, epoch};

		snprintf(epoch, sizeof(epoch), INT64_FORMAT "-%d", (int64) GetCurrentTimestamp(), MyProcPid);
		if ((reply = RvCommandReply(error, sizeof(error), 3, flush_argv)) == NULL)
			goto fail;
		freeReplyObject(reply);
		if ((reply = RvCommandReply(error, sizeof(error), 3, set_epoch)) == NULL)
			goto fail;
		freeReplyObject(reply);
		ereport(LOG, (errmsg("geoshard redisview found no epoch key in Redis at %s: every view is built again",
							 masked)));
	}

	{
		const char *get_position[2] = {"GET", RV_POSITION_KEY};

		if ((reply = RvCommandReply(error, sizeof(error), 2, get_position)) == NULL)
			goto fail;
		memset(&position, 0, sizeof(position));
		position_text[0] = '\0';
		if (reply->type == REDIS_REPLY_STRING && reply->len < (int) sizeof(position_text) &&
			CdcParseId(reply->str, &position))
			strlcpy(position_text, reply->str, sizeof(position_text));
		freeReplyObject(reply);
	}

	for (int i = 0; i < nviews; i++)
	{
		RvView	   *view = &views[i];
		char	   *ptr = psprintf(REDISVIEW_PREFIX "%s:gen", view->name);
		char	   *def = psprintf(REDISVIEW_PREFIX "%s:def", view->name);
		char	   *built = psprintf(REDISVIEW_PREFIX "%s:built", view->name);
		const char *get_gen[4] = {"MGET", ptr, def, built};
		bool		same;
		bool		current;

		view->building = false;
		if (!view->enabled)
			continue;
		if ((reply = RvCommandReply(error, sizeof(error), 4, get_gen)) == NULL)
		{
			if (conn == NULL)
				goto fail;

			/*
			 * Refused for this view's keys (no permission, say): an error of
			 * that view, which keeps the generation it knew until a build
			 * goes through; the other views go on.
			 */
			if (!view->failed)
				RvViewError(i, "key \"%s\": %s", ptr, error);
			view->failed = true;
			continue;
		}
		if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
		{
			freeReplyObject(reply);
			strlcpy(error, "unexpected reply to MGET", sizeof(error));
			goto fail;
		}
		view->gen = reply->element[0]->type == REDIS_REPLY_STRING ?
			strtoi64(reply->element[0]->str, NULL, 10) : 0;
		/* the view of that name that Redis holds is this one (not one dropped since) */
		same = reply->element[1]->type == REDIS_REPLY_STRING && view->created != NULL &&
			strcmp(reply->element[1]->str, view->created) == 0;
		/*
		 * The live generation answers the last rebuild request and saw no
		 * TRUNCATE or key error since: a build asked for or begun before
		 * the worker stopped is not forgotten.
		 */
		current = reply->element[2]->type == REDIS_REPLY_STRING &&
			strcmp(reply->element[2]->str, RvBuiltValue(view)) == 0;
		freeReplyObject(reply);
		if (!current)
			view->need_build = true;
		if (view->gen <= 0 || !same)
		{
			view->gen = 0;
			view->need_build = true;
		}
		statuses[i].generation = view->gen;
		RvGarbageAdd(view->name, view->gen, true);
	}
	if (!RvCollectGarbage())
	{
		strlcpy(error, "deleting old generations failed", sizeof(error));
		goto fail;
	}
	next_epoch_check = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), RV_RELOAD_MS);
	pgstat_report_activity(STATE_IDLE, NULL);
	return true;

fail:
	if (conn != NULL)
		RvDisconnect();
	RvFail("Redis at %s: %s", masked, error);
	return false;
}

/*
 * Is the epoch key still in Redis?  A FLUSHALL, or a failover to a server
 * that never had our keys, leaves the connection up but the keys gone: the
 * connection is dropped, and the next one (RvConnect) builds every view.
 */
static bool
RvEpochPresent(void)
{
	char		error[REDIS_ERROR_LEN];
	const char *exists[2] = {"EXISTS", RV_EPOCH_KEY};
	redisReply *reply = RvCommandReply(error, sizeof(error), 2, exists);
	bool		present;

	if (reply == NULL)
	{
		RvDisconnect();
		RvFail("could not read the epoch key: %s", error);
		return false;
	}
	present = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
	freeReplyObject(reply);
	if (!present)
	{
		char	   *masked = RedisMaskUrl(geoshard_redis_url);

		ereport(LOG,
				(errmsg("geoshard redisview found the epoch key gone from Redis at %s", masked),
				 errdetail("Redis lost the views' keys while the worker was connected (FLUSHALL, or a failover to a server without them); every view is built again.")));
		RvDisconnect();
	}
	return present;
}

/* Make sure the slot exists (create it when missing) and learn its position. */
static bool
RvPrepareSlot(RvPass *pass)
{
	bool		isnull;

	RvExecute(RV_SLOT_QUERY, SPI_OK_SELECT, 0, NULL, NULL);
	if (SPI_processed == 0)
	{
		RvExecute("SELECT lsn FROM pg_catalog.pg_create_logical_replication_slot('" RV_SLOT "', 'geoshard')",
				  SPI_OK_SELECT, 0, NULL, NULL);
		confirmed = DatumGetLSN(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		ereport(LOG, (errmsg("geoshard redisview created replication slot \"%s\"", RV_SLOT)));

		/*
		 * A new slot: whatever Redis holds was fed by another slot (dropped,
		 * or of the server this database was restored from), whose changes
		 * since are not in this one, and whose ids mean nothing here.  Every
		 * view is built again and the position starts afresh.
		 */
		{
			const char *del[2] = {"DEL", RV_POSITION_KEY};
			redisReply *reply = RvCommandReply(pass->error, sizeof(pass->error), 2, del);

			if (reply == NULL)
			{
				pass->ok = false;
				return false;
			}
			freeReplyObject(reply);
			memset(&position, 0, sizeof(position));
			position_text[0] = '\0';
			for (int i = 0; i < nviews; i++)
				if (views[i].enabled)
					views[i].need_build = true;
		}
	}
	else
	{
		char	   *plugin = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *here = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		Datum		lsn = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);

		if (plugin == NULL || strcmp(plugin, "geoshard") != 0 || here == NULL || here[0] != 't' || isnull)
		{
			snprintf(pass->error, sizeof(pass->error),
					 "replication slot \"%s\" exists but is not a logical slot of plugin geoshard in this database",
					 RV_SLOT);
			pass->ok = false;
			return false;
		}
		confirmed = DatumGetLSN(lsn);
	}
	slot_ready = true;
	return true;
}

static bool
RvRecentXid(TransactionId xid)
{
	for (int i = 0; i < REDISVIEW_RECENT_XIDS; i++)
		if (recent_xids[i] == xid)
			return true;
	return false;
}

/* Did the build's snapshot see the (committed) transaction xid? */
static bool
RvSnapshotSaw(const RvSnapshot *snap, TransactionId xid)
{
	if (TransactionIdPrecedes(xid, snap->xmin))
		return true;
	if (TransactionIdFollowsOrEquals(xid, snap->xmax))
		return false;
	for (int i = 0; i < snap->xcnt; i++)
		if (TransactionIdEquals(snap->xip[i], xid))
			return false;
	return true;
}

/*
 * Steps a and b of a build (see the file's header): a new generation, the
 * table read with the transaction's snapshot into it.  False with
 * pass->error set after a Redis failure; the view then stays unbuilt.
 */
static bool
RvBuildLoad(RvPass *pass, int vi)
{
	RvView	   *view = &views[vi];
	RedisViewStatus *status = &statuses[vi];
	Snapshot	snap = GetActiveSnapshot();
	const char *incr[2] = {"INCR", RV_GENS_KEY};
	redisReply *reply;
	Portal		portal;
	char	   *sql;
	RvPipe		pipe;
	int			acked;

	RvCachesForPresent();
	caches_present = true;

	/* a transaction S lists as running, already decoded: try later */
	for (uint32 i = 0; i < snap->xcnt; i++)
		if (RvRecentXid(snap->xip[i]))
		{
			snprintf(pass->error, sizeof(pass->error),
					 "build of redis view \"%s\" postponed: transaction %u committed in WAL but was still running in the snapshot",
					 view->name, snap->xip[i]);
			return false;
		}

	if ((reply = RvCommandReply(pass->error, sizeof(pass->error), 2, incr)) == NULL)
		return false;
	view->build_gen = reply->integer;
	freeReplyObject(reply);

	view->snap.xmin = snap->xmin;
	view->snap.xmax = snap->xmax;
	view->snap.xcnt = snap->xcnt;
	if (view->snap.xip != NULL)
		pfree(view->snap.xip);
	view->snap.xip = MemoryContextAlloc(TopMemoryContext, sizeof(TransactionId) * Max(snap->xcnt, 1));
	memcpy(view->snap.xip, snap->xip, sizeof(TransactionId) * snap->xcnt);

	status->state = REDISVIEW_STATE_BUILDING;
	status->build_rows = 0;
	status->build_total = 0;
	{
		Oid			relid = get_relname_relid(view->table, get_namespace_oid(view->schema, false));
		Oid			type = OIDOID;
		Datum		value = ObjectIdGetDatum(relid);
		bool		isnull;
		Datum		d;

		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("source table \"%s.%s\" of redis view \"%s\" does not exist",
							view->schema, view->table, view->name)));

		RvExecute("SELECT greatest(reltuples, 0)::int8 FROM pg_catalog.pg_class WHERE oid = $1",
				  SPI_OK_SELECT, 1, &type, &value);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		status->build_total = isnull ? 0 : DatumGetInt64(d);
	}
	RedisViewStatusPublish(statuses, nviews);

	/* values as the output plugin writes them: timestamps in UTC (json_value.c) */
	RvExecute("SET LOCAL TimeZone = 'UTC'", SPI_OK_UTILITY, 0, NULL, NULL);
	sql = psprintf("SELECT pg_catalog.to_jsonb(t) FROM ONLY %s t",
				   quote_qualified_identifier(view->schema, view->table));
	/* read_only: the cursor reads with the active snapshot, S */
	portal = SPI_cursor_open_with_args(NULL, sql, 0, NULL, NULL, NULL, true, 0);

	memset(&pipe, 0, sizeof(pipe));
	pipe.conn = conn;
	for (;;)
	{
		MemoryContext outer;
		bool		skipped;

		SPI_cursor_fetch(portal, true, geoshard_cdc_batch_size);
		if (SPI_processed == 0)
			break;
		outer = MemoryContextSwitchTo(batch_context);
		memset(&pipe, 0, sizeof(pipe));
		pipe.conn = conn;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
			Jsonb	   *row = DatumGetJsonbP(d);

			(void) RvAppendRow(&pipe, view, vi, view->build_gen, 'I', row, row, NULL, false, &skipped);
			if (skipped)
				status->skipped++;
		}
		status->build_rows += SPI_processed;
		SPI_freetuptable(SPI_tuptable);
		MemoryContextSwitchTo(outer);
		if (!RvPipeFlush(&pipe, pass->error, sizeof(pass->error), &acked))
		{
			MemoryContextReset(batch_context);
			SPI_cursor_close(portal);
			RvGarbageAdd(view->name, view->build_gen, false);
			status->state = REDISVIEW_STATE_RETRYING;
			return false;
		}
		MemoryContextReset(batch_context);
		RedisViewStatusPublish(statuses, nviews);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	view->building = true;
	view->need_build = false;
	return true;
}

/* Switch the view's readers to its built generation (step d). */
static bool
RvBuildSwitch(RvPass *pass, int vi)
{
	RvView	   *view = &views[vi];
	char	   *ptr = psprintf(REDISVIEW_PREFIX "%s:gen", view->name);
	char	   *def = psprintf(REDISVIEW_PREFIX "%s:def", view->name);
	char	   *built = psprintf(REDISVIEW_PREFIX "%s:built", view->name);
	char	   *gen = psprintf(INT64_FORMAT, view->build_gen);
	const char *set[7] = {"MSET", ptr, gen, def, view->created ? view->created : "",
	built, RvBuiltValue(view)};
	redisReply *reply;

	/* MSET is atomic: readers move to the new generation at once */
	if ((reply = RvCommandReply(pass->error, sizeof(pass->error), 7, set)) == NULL)
		return false;
	freeReplyObject(reply);
	if (view->gen != 0)
		RvGarbageAdd(view->name, view->gen, false);
	view->gen = view->build_gen;
	view->building = false;
	view->failed = false;
	view->mark_unbuilt = false;
	statuses[vi].generation = view->gen;
	statuses[vi].keys = statuses[vi].build_rows;
	statuses[vi].built_at = GetCurrentTimestamp();
	statuses[vi].state = REDISVIEW_STATE_STREAMING;
	ereport(LOG,
			(errmsg("redis view \"%s\" built: generation " INT64_FORMAT ", " INT64_FORMAT " rows",
					view->name, view->gen, statuses[vi].build_rows)));
	return true;
}

/* The views of a table, as indexes into views[]; n of them. */
static int
RvViewsOf(const char *schema, const char *table, int *out)
{
	int			n = 0;

	if (schema == NULL || table == NULL)
		return 0;
	for (int i = 0; i < nviews; i++)
		if (views[i].enabled && strcmp(views[i].schema, schema) == 0 && strcmp(views[i].table, table) == 0)
			out[n++] = i;
	return n;
}

/* The state of one pass's stream of events, for the write callback. */
typedef struct RvStream
{
	RvPass	   *pass;
	RvPipe		pipe;
	uint64		total;			/* events seen in the pass */
	int			batched;		/* events since the last flush */
	bool		in_txn;
	bool		txn_open;		/* a MULTI was sent for the current transaction */
	TransactionId txn_xid;
	char		txn_text[64];
	int			commits_sent;	/* EXECs in the pipeline */
	CdcId		pending_pos;
	char		pending_text[64];
	bool		ok;
} RvStream;

/* the pass being decoded, for RvDecodingWrite */
static RvStream *stream = NULL;

/*
 * Send what the stream's pipeline holds; on success the position key's
 * value is what Redis now holds.  After a failure the stream ignores the
 * rest of the pass.
 */
static void
RvStreamFlush(RvStream *s)
{
	int			acked;

	if (s->ok && s->pipe.n > 0)
	{
		/* a transaction still open at the batch's end stays queued in Redis */
		s->ok = RvPipeFlush(&s->pipe, s->pass->error, sizeof(s->pass->error), &acked);
		if (s->ok && s->commits_sent > 0)
		{
			position = s->pending_pos;
			strlcpy(position_text, s->pending_text, sizeof(position_text));
		}
	}
	MemoryContextReset(batch_context);
	memset(&s->pipe, 0, sizeof(s->pipe));
	s->pipe.conn = conn;
	s->commits_sent = 0;
	s->batched = 0;
}

/*
 * The array of {"name": .., "value": ..} pairs at key of an event, as one
 * object (what jsonb_object_agg made of it); NULL when missing or empty.
 */
static Jsonb *
RvPairsObject(Jsonb *event, const char *key)
{
	JsonbValue *array = getKeyJsonValueFromContainer(&event->root, key, strlen(key), NULL);
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	JsonbValue *result;
	int			n = 0;

	if (array == NULL || array->type != jbvBinary)
		return NULL;
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(array->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue *name;
		JsonbValue *value;

		if (tok != WJB_ELEM || v.type != jbvBinary)
			continue;
		name = getKeyJsonValueFromContainer(v.val.binary.data, "name", 4, NULL);
		value = getKeyJsonValueFromContainer(v.val.binary.data, "value", 5, NULL);
		if (name == NULL || name->type != jbvString || value == NULL)
			continue;
		(void) pushJsonbValue(&state, WJB_KEY, name);
		(void) pushJsonbValue(&state, WJB_VALUE, value);
		n++;
	}
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return n > 0 ? JsonbValueToJsonb(result) : NULL;
}

/* One event of the output plugin (see the file's header, step 2). */
static void
RvStreamEvent(RvStream *s, const char *text, XLogRecPtr lsn)
{
	Jsonb	   *d = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	char	   *id = RvJsonText(d, "id");
	char	   *action = RvJsonText(d, "action");
	CdcId		event;

	s->total++;
	s->batched++;
	if (id == NULL || !CdcParseId(id, &event) || action == NULL || action[0] == '\0')
	{
		snprintf(s->pass->error, sizeof(s->pass->error), "event with an invalid id or action at LSN %X/%X",
				 LSN_FORMAT_ARGS(lsn));
		s->ok = false;
		return;
	}
	if (strcmp(action, "B") == 0)
	{
		char	   *xid = RvJsonText(d, "xid");

		s->in_txn = true;
		s->txn_open = false;
		s->txn_xid = xid != NULL ? (TransactionId) strtoul(xid, NULL, 10) : InvalidTransactionId;
		recent_xids[recent_next] = s->txn_xid;
		recent_next = (recent_next + 1) % REDISVIEW_RECENT_XIDS;
	}
	else if (strcmp(action, "C") == 0)
	{
		s->in_txn = false;
		strlcpy(s->txn_text, id, sizeof(s->txn_text));
		if (s->txn_open)
		{
			const char *set[3] = {"SET", RV_POSITION_KEY, s->txn_text};
			const char *exec[1] = {"EXEC"};
			size_t		setlens[3] = {3, strlen(RV_POSITION_KEY), strlen(s->txn_text)};
			size_t		execlen = 4;

			RvPipeAppend(&s->pipe, 'Q', -1, NULL, 3, set, setlens);
			RvPipeAppend(&s->pipe, 'E', -1, s->txn_text, 1, exec, &execlen);
			s->commits_sent++;
			s->pending_pos = event;
			strlcpy(s->pending_text, s->txn_text, sizeof(s->pending_text));
		}
		s->txn_open = false;
	}
	else if (action[0] == 'I' || action[0] == 'U' || action[0] == 'D' || action[0] == 'T')
	{
		int			targets[REDISVIEW_MAX_VIEWS];
		int			nt = RvViewsOf(RvJsonText(d, "schema"), RvJsonText(d, "table"), targets);
		Jsonb	   *pk = nt > 0 ? RvPairsObject(d, "pk") : NULL;
		Jsonb	   *row = nt > 0 ? RvPairsObject(d, "columns") : NULL;
		Jsonb	   *identity = nt > 0 ? RvPairsObject(d, "identity") : NULL;
		bool		live_ok = !CdcIdAfter(&position, &event) && !(position.lsn == event.lsn && position.n == event.n);

		for (int t = 0; t < nt; t++)
		{
			RvView	   *view = &views[targets[t]];
			int64		gens[2];
			int			ngens = 0;

			if (view->gen != 0 && live_ok && !view->failed)
				gens[ngens++] = view->gen;
			if (view->building && !RvSnapshotSaw(&view->snap, s->txn_xid))
				gens[ngens++] = view->build_gen;
			for (int g = 0; g < ngens; g++)
			{
				bool		skipped;
				int			delta;

				if (!s->txn_open)
				{
					const char *multi[1] = {"MULTI"};
					size_t		multilen = 5;

					RvPipeAppend(&s->pipe, 'M', -1, NULL, 1, multi, &multilen);
					s->txn_open = true;
				}
				if (action[0] == 'T')
				{
					/*
					 * The live generation stays as it is until the build
					 * switches readers over; deleting its "built" key in
					 * the same block makes a worker that restarts before
					 * then build it too.
					 */
					if (g == 0 && gens[g] == view->gen)
					{
						char	   *built = psprintf(REDISVIEW_PREFIX "%s:built", view->name);
						const char *del[2] = {"DEL", built};
						size_t		lens[2] = {3, strlen(built)};

						RvPipeAppend(&s->pipe, 'Q', targets[t], built, 2, del, lens);
					}
					continue;
				}
				delta = RvAppendRow(&s->pipe, view, targets[t], gens[g], action[0], pk, row,
									action[0] == 'U' ? identity : NULL, true, &skipped);
				if (g == 0 && gens[g] == view->gen)
				{
					statuses[targets[t]].keys += delta;
					statuses[targets[t]].applied++;
					view->window_rows++;
					if (skipped)
					{
						statuses[targets[t]].skipped++;
						if (!view->range_logged)
							ereport(LOG,
									(errmsg("redis view \"%s\" skipped a row of \"%s.%s\" without a position Redis can store",
											view->name, view->schema, view->table),
									 errdetail("Redis GEO sets take latitudes within +/-85.05112878 and longitudes within +/-180; such rows are counted in geoshard.redisview_status.skipped.")));
						view->range_logged = true;
					}
				}
			}
			if (action[0] == 'T')
				view->need_build = true;
		}
	}
	/* other events (messages) are not ours */
}

static void
RvDecodingPrepareWrite(LogicalDecodingContext *ctx, XLogRecPtr lsn, TransactionId xid, bool last_write)
{
	resetStringInfo(ctx->out);
}

/*
 * The output plugin wrote one event: apply it as it comes, so that a big
 * transaction is never held in memory; the pipeline is sent every
 * geoshard.cdc_batch_size events (a MULTI left open goes on in the next
 * flush).
 */
static void
RvDecodingWrite(LogicalDecodingContext *ctx, XLogRecPtr lsn, TransactionId xid, bool last_write)
{
	MemoryContext outer;

	if (stream == NULL)
		elog(ERROR, "redisview decoding wrote outside a pass");
	if (!stream->ok)
		return;					/* the pass failed: the context is made again */
	outer = MemoryContextSwitchTo(batch_context);
	RvStreamEvent(stream, ctx->out->data, lsn);
	MemoryContextSwitchTo(outer);
	if (stream->batched >= geoshard_cdc_batch_size)
		RvStreamFlush(stream);
}

/*
 * End the decoding context (the slot stays acquired).  In error recovery
 * only its memory and the WAL file go: the shutdown callback and the
 * reorder buffer's cleanup could fail again there, and the files a big
 * transaction spilled are removed when the next context starts.
 */
static void
RvDecodingStop(bool in_error)
{
	LogicalDecodingContext *ctx = dctx;

	if (dctx_memory == NULL)
		return;
	dctx = NULL;
	dctx_tables = NULL;
	if (ctx != NULL && in_error)
		XLogReaderFree(ctx->reader);
	else if (ctx != NULL)
		FreeDecodingContext(ctx);
	MemoryContextDelete(dctx_memory);
	dctx_memory = NULL;
}

/* Hand the slot back (before it is dropped, while paused, at exit). */
static void
RvSlotRelease(void)
{
	RvDecodingStop(false);
	if (MyReplicationSlot != NULL)
		ReplicationSlotRelease();
}

/*
 * Start a decoding context for the views' tables, from the slot's
 * confirmed position, as pg_logical_slot_get_changes does; it stays open
 * across passes, so that each pass decodes only WAL it has not seen.
 */
static void
RvDecodingStart(const char *tables)
{
	MemoryContext outer;
	List	   *options;

	RvDecodingStop(true);		/* what a failed start left */
	if (MyReplicationSlot == NULL)
		ReplicationSlotAcquire(RV_SLOT, true);
	dctx_memory = AllocSetContextCreate(TopMemoryContext, "geoshard redisview decoding",
										ALLOCSET_DEFAULT_SIZES);
	outer = MemoryContextSwitchTo(dctx_memory);
	dctx_tables = pstrdup(tables);
	options = list_make4(makeDefElem("include-begin-commit", (Node *) makeString("true"), -1),
						 makeDefElem("include-xids", (Node *) makeString("true"), -1),
						 makeDefElem("include-old", (Node *) makeString("true"), -1),
						 makeDefElem("include-tables", (Node *) makeString(dctx_tables), -1));
	dctx = CreateDecodingContext(InvalidXLogRecPtr, options, false,
								 XL_ROUTINE(.page_read = read_local_xlog_page,
											.segment_open = wal_segment_open,
											.segment_close = wal_segment_close),
								 RvDecodingPrepareWrite, RvDecodingWrite, NULL);
	MemoryContextSwitchTo(outer);
	XLogBeginRead(dctx->reader, MyReplicationSlot->data.restart_lsn);
}

/*
 * The database part of a pass (see the file's header), inside the
 * transaction GeoshardWorkerRun opened.
 */
static void
RvPassBody(RvPass *pass)
{
	RvStream	s;
	char	   *tables;
	int			limit = geoshard_cdc_batch_size * RV_PASS_BATCHES;
	bool		ok;
	int			build = pass->build;

	if (!slot_ready)
	{
		bool		existed;

		RvExecute(RV_SLOT_QUERY, SPI_OK_SELECT, 0, NULL, NULL);
		existed = SPI_processed > 0;
		if (!RvPrepareSlot(pass))
			return;
		/* a build's snapshot must be taken after the slot exists: next pass */
		if (!existed)
			build = -1;
	}
	if (build >= 0)
	{
		if (!RvBuildLoad(pass, build))
		{
			pass->ok = false;
			return;
		}
		/* step c: upto after S */
		pass->upto = GetFlushRecPtr(NULL);
	}

	/*
	 * include-tables is fixed when the context starts: another list of
	 * tables needs a new context, which reads on from the confirmed
	 * position (everything before it is in Redis).  A context whose slot
	 * was handed back by an ERROR elsewhere is only freed.
	 */
	tables = RvIncludeTables();
	if (dctx != NULL && MyReplicationSlot == NULL)
		RvDecodingStop(true);
	else if (dctx != NULL && strcmp(dctx_tables, tables) != 0)
		RvDecodingStop(false);
	if (dctx == NULL)
		RvDecodingStart(tables);

	memset(&s, 0, sizeof(s));
	s.pass = pass;
	s.ok = true;
	s.pipe.conn = conn;

	/* catalog entries of the present must not serve decoding (caches_past) */
	if (caches_present)
		InvalidateSystemCaches();
	caches_present = false;
	caches_past = true;
	stream = &s;
	pgstat_report_activity(STATE_RUNNING, "decoding changes for redis views");
	while (s.ok && dctx->reader->EndRecPtr < pass->upto && s.total < (uint64) limit)
	{
		char	   *errm = NULL;
		XLogRecord *record;
		MemoryContext outer;

		/*
		 * The reader keeps buffers it allocates here (its decode buffer, an
		 * oversized record) for the next pass: they must outlive the
		 * transaction, as in a walsender's command context.
		 */
		outer = MemoryContextSwitchTo(dctx->context);
		record = XLogReadRecord(dctx->reader, &errm);
		MemoryContextSwitchTo(outer);

		if (errm != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not read WAL for redis views at %X/%X: %s",
							LSN_FORMAT_ARGS(dctx->reader->EndRecPtr), errm)));
		if (record == NULL)
			break;
		/* every transaction committed in the record is written out whole */
		outer = MemoryContextSwitchTo(dctx->context);
		LogicalDecodingProcessRecord(dctx, dctx->reader);
		MemoryContextSwitchTo(outer);
		CHECK_FOR_INTERRUPTS();
	}
	RvStreamFlush(&s);
	stream = NULL;

	ok = s.ok;
	more = ok && dctx->reader->EndRecPtr < pass->upto;
	if (ok && !more && !s.in_txn)
	{
		/* step d: caught up to upto, the built generations go live */
		for (int i = 0; i < nviews; i++)
			if (views[i].building && !RvBuildSwitch(pass, i))
			{
				ok = false;
				break;
			}
	}
	if (!s.ok)
	{
		/* decoded past what Redis acknowledged: the next pass reads from the confirmed position */
		RvDecodingStop(false);
	}
	else
	{
		/*
		 * Everything decoded so far is in Redis (step 3), up to the start
		 * of the oldest transaction still in progress: lag_bytes then
		 * counts its WAL too, which the slot must keep anyway (confirming
		 * less than what was applied is safe: the position key skips it).
		 */
		XLogRecPtr	target = dctx->reader->EndRecPtr;
		ReorderBufferTXN *oldest = ReorderBufferGetOldestTXN(dctx->reorder);

		if (oldest != NULL && oldest->first_lsn < target)
			target = oldest->first_lsn;
		if (target > confirmed)
		{
			LogicalConfirmReceivedLocation(target);
			ReplicationSlotMarkDirty();
			confirmed = target;
		}
	}
	pass->ok = ok;
}

static void
RvPassWork(void *arg)
{
	RvPass	   *pass = (RvPass *) arg;
	MemoryContext context = CurrentMemoryContext;

	PG_TRY();
	{
		RvPassBody(pass);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(context);
		/* the slot is handed back (GeoshardWorkerRun): its context goes first */
		stream = NULL;
		RvDecodingStop(true);
		caches_past = caches_present = true;
		edata = CopyErrorData();
		strlcpy(pass->error, edata->message, sizeof(pass->error));
		FreeErrorData(edata);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/* Drop the slot when no view is left, so that it holds no WAL. */
static void
RvDropSlot(void *arg)
{
	RvSlotRelease();
	RvExecute(RV_SLOT_QUERY, SPI_OK_SELECT, 0, NULL, NULL);
	if (SPI_processed > 0)
	{
		RvExecute("SELECT pg_catalog.pg_drop_replication_slot('" RV_SLOT "')", SPI_OK_SELECT, 0, NULL, NULL);
		ereport(LOG, (errmsg("geoshard redisview dropped replication slot \"%s\": no view left", RV_SLOT)));
	}
	slot_ready = false;
}

/* How far the worker has read the WAL: the open context's end, else the slot's position. */
static XLogRecPtr
RvDecoded(void)
{
	return dctx != NULL ? Max(confirmed, dctx->reader->EndRecPtr) : confirmed;
}

static bool
RvRunPass(XLogRecPtr upto, int build)
{
	RvPass		pass;
	GeoshardWorkResult result;

	memset(&pass, 0, sizeof(pass));
	pass.upto = upto;
	pass.build = build;
	pass.ok = true;
	result = GeoshardWorkerRun(build >= 0 ? "building a redis view" : "applying changes to redis views",
							   RvPassWork, &pass);
	/* commands never sent, or a MULTI left open in Redis, would run ahead of the next pass */
	if (conn != NULL && (RedisPending(conn) > 0 || multi_queued >= 0))
		RvDisconnect();
	if (result != GEOSHARD_WORK_DONE || !pass.ok)
	{
		/*
		 * A failed build waits its own backoff, so that a view whose build
		 * keeps failing (its table dropped, say) does not hold the others.
		 */
		if (build >= 0 && build < nviews)
		{
			RvView	   *view = &views[build];

			view->build_failures = Min(view->build_failures + 1, 30);
			view->build_retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															   GeoshardWorkerRetryDelay(view->build_failures));
		}
		/* a build in flight is dropped: it starts again from a new snapshot */
		for (int i = 0; i < nviews; i++)
			if (views[i].building)
			{
				views[i].building = false;
				views[i].need_build = true;
				RvGarbageAdd(views[i].name, views[i].build_gen, false);
			}
		if (result == GEOSHARD_WORK_FAILED)
			slot_ready = false;
		if (build >= 0 && build < nviews && conn != NULL && result != GEOSHARD_WORK_NO_EXTENSION)
		{
			/* the build's own failure: an error of that view (logged above if an ERROR) */
			RedisViewStatus *status = &statuses[build];

			strlcpy(status->last_error, pass.error[0] != '\0' ? pass.error : "an error, see the server log",
					REDISVIEW_ERROR_LEN);
			status->last_error_at = GetCurrentTimestamp();
			status->state = REDISVIEW_STATE_RETRYING;
		}
		else
			RvFail("%s", pass.error[0] != '\0' ? pass.error :
				   result == GEOSHARD_WORK_NO_EXTENSION ? "extension geoshard is not created" :
				   "an error, see the server log");
		if (result == GEOSHARD_WORK_FAILED)
			retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), GeoshardWorkerRetryDelay(failures));
		/* a failed build has its own backoff; the other views go on at once */
		if (build >= 0)
		{
			retry_at = 0;
			failures = 0;
		}
		return false;
	}
	if (build >= 0 && build < nviews)
		views[build].build_failures = 0;
	failures = 0;
	retry_at = 0;
	last_error[0] = '\0';
	return true;
}

static void
RvUpdateStatus(XLogRecPtr flush, TimestampTz now, bool caught_up)
{
	uint64		lag = flush > confirmed ? flush - confirmed : 0;

	/* as the cdc worker: a WARNING once when the views fall far behind */
	if (geoshard_cdc_max_lag > 0 && lag > (uint64) geoshard_cdc_max_lag * 1024)
	{
		if (!lag_warned)
			ereport(WARNING,
					(errmsg("redis views have " UINT64_FORMAT " bytes of WAL left to apply", lag),
					 last_error[0] != '\0' ?
					 errdetail("geoshard.cdc_max_lag is %d kB. The last error was: %s.", geoshard_cdc_max_lag, last_error) :
					 errdetail("geoshard.cdc_max_lag is %d kB.", geoshard_cdc_max_lag),
					 errhint("Slot \"%s\" keeps that WAL on disk; see geoshard.redisview_status for each view's state.",
							 RV_SLOT)));
		lag_warned = true;
	}
	else if (lag < (uint64) geoshard_cdc_max_lag * 512)
		lag_warned = false;
	for (int i = 0; i < nviews; i++)
	{
		RvView	   *view = &views[i];
		RedisViewStatus *s = &statuses[i];
		long		ms = TimestampDifferenceMilliseconds(view->window_start, now);

		if (!view->enabled)
		{
			s->state = REDISVIEW_STATE_DISABLED;
			continue;
		}
		s->lag_bytes = flush > confirmed ? flush - confirmed : 0;
		if (caught_up && view->gen != 0 && !view->need_build)
		{
			s->behind_since = 0;
			if (s->state != REDISVIEW_STATE_BUILDING)
				s->state = REDISVIEW_STATE_STREAMING;
		}
		else if (s->behind_since == 0)
			s->behind_since = now;
		if (view->window_start == 0)
			view->window_start = now;
		else if (ms >= 1000)
		{
			s->rows_per_s = view->window_rows * 1000.0 / ms;
			view->window_rows = 0;
			view->window_start = now;
		}
	}
	RedisViewStatusPublish(statuses, nviews);
}

/* Entry point of the redisview worker (core/worker.c registers it). */
void
GeoshardRedisviewMain(Datum main_arg)
{
	TimestampTz next_reload = 0;
	TimestampTz next_heartbeat = 0;
	XLogRecPtr	heartbeat_end = InvalidXLogRecPtr;
	bool		logged_wal_level = false;
	bool		paused = false;

	GeoshardWorkerStart("geoshard redisview");
	CdcQuietDecodingLog();
	batch_context = AllocSetContextCreate(CurrentMemoryContext, "geoshard redisview batch",
										  ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		bool		reloaded;
		bool		any_enabled = false;
		bool		caught_up = false;
		TimestampTz now;
		XLogRecPtr	flush;
		int			build = -1;

		reloaded = GeoshardWorkerWait(paused || nviews == 0 ? RV_IDLE_MS : geoshard_cdc_poll_interval);
		now = GetCurrentTimestamp();

		if (!geoshard_redisview_enabled)
		{
			if (!paused)
			{
				ereport(LOG, (errmsg("geoshard redisview is disabled")));
				if (conn != NULL)
					RvDisconnect();
				/* the slot is free while paused (it may be dropped by hand) */
				RvSlotRelease();
				slot_ready = false;
				for (int i = 0; i < nviews; i++)
					statuses[i].state = REDISVIEW_STATE_DISABLED;
				RedisViewStatusPublish(statuses, nviews);
				paused = true;
			}
			continue;
		}
		paused = false;
		if (wal_level < WAL_LEVEL_LOGICAL)
		{
			if (!logged_wal_level)
				ereport(LOG,
						(errmsg("geoshard redisview cannot run: wal_level is not logical"),
						 errhint("Set wal_level = logical and restart the server.")));
			logged_wal_level = true;
			continue;
		}

		if (reloaded || now >= next_reload)
		{
			int			before = nviews;

			(void) GeoshardWorkerRun("reading geoshard.redis_views", RvLoadViews, NULL);
			next_reload = TimestampTzPlusMilliseconds(now, RV_RELOAD_MS);
			/* another Redis: its epoch key tells whether it holds our views */
			if (conn != NULL && strcmp(connected_url, geoshard_redis_url ? geoshard_redis_url : "") != 0)
				RvDisconnect();
			if (catalog_exists && nviews == 0 && (before > 0 || slot_ready || next_heartbeat == 0))
				(void) GeoshardWorkerRun("dropping the redisview slot", RvDropSlot, NULL);
			RedisViewStatusPublish(statuses, nviews);
		}
		for (int i = 0; i < nviews; i++)
			any_enabled |= views[i].enabled;
		if (!any_enabled && ngarbage == 0)
		{
			next_heartbeat = Max(next_heartbeat, 1);
			continue;
		}
		if (retry_at > now)
			continue;
		if (conn == NULL && !RvConnect())
		{
			RvUpdateStatus(GetFlushRecPtr(NULL), now, false);
			continue;
		}
		if (ngarbage > 0 && !RvCollectGarbage())
		{
			RvDisconnect();
			RvFail("could not delete old generations");
			continue;
		}
		if (!any_enabled)
			continue;
		if (now >= next_epoch_check)
		{
			if (!RvEpochPresent())
				continue;
			next_epoch_check = TimestampTzPlusMilliseconds(now, RV_RELOAD_MS);
		}

		for (int i = 0; i < nviews && build < 0; i++)
			if (views[i].enabled && views[i].need_build && !views[i].building &&
				views[i].build_retry_at <= now)
				build = i;

		flush = GetFlushRecPtr(NULL);
		if (build >= 0 || !slot_ready || more || flush > RvDecoded())
		{
			if (RvRunPass(flush, build))
			{
				caught_up = !more && RvDecoded() >= flush;
				if (ngarbage > 0 && conn != NULL && !RvCollectGarbage())
					RvDisconnect();
			}
		}
		else
			caught_up = true;
		now = GetCurrentTimestamp();
		RvUpdateStatus(GetFlushRecPtr(NULL), now, caught_up);

		/*
		 * As the cdc worker: a record of running transactions lets the slot
		 * release WAL and moves its restart point, from which a new decoding
		 * context starts (after a failed pass or a change of the views'
		 * tables).  No more often than geoshard.cdc_heartbeat_interval: each
		 * move of the restart point writes the slot's state file with an
		 * fsync (LogicalConfirmReceivedLocation), inside a pass.
		 */
		if (geoshard_cdc_heartbeat_interval > 0 && now >= next_heartbeat)
		{
			if (GetXLogInsertRecPtr() != heartbeat_end)
				heartbeat_end = LogStandbySnapshot();
			next_heartbeat = TimestampTzPlusMilliseconds(now, geoshard_cdc_heartbeat_interval);
		}
	}
}
