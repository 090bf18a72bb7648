/*
 * src/cdc/publisher.c
 *	  The cdc worker ("geoshard cdc"): publishes the events of every enabled
 *	  sink of geoshard.cdc_sinks into Redis Streams, exactly once per stream.
 *
 * A pass over one sink, when the WAL has moved past what the sink has seen:
 *   1. Redis: connect when not connected (AUTH, SELECT, a warning when the
 *      server's persistence is weaker than appendonly yes + appendfsync
 *      always), and GET the sink's position key geoshard:cdc:<sink>:position,
 *      the id of the last event Redis holds from this sink.
 *   2. One transaction: create the slot with the geoshard plugin when it is
 *      missing; open a cursor over pg_logical_slot_peek_changes(slot, upto,
 *      batch, 'include-begin-commit', 'true', <sink options>), where upto is
 *      the WAL flush position seen before the pass.  The function stores its
 *      rows in a tuplestore, which spills to disk, and the cursor hands them
 *      out batch_size at a time: memory stays bounded however large a
 *      transaction is.
 *   3. Per batch of rows, one pipeline: MULTI, XADD <key> [MAXLEN ~ n] <id>
 *      action .. schema .. table .. data <event> for each event after the
 *      position (begin and commit rows are not published; they say where
 *      transactions end), SET <position key> <last id>, EXEC.  The stream
 *      entry id is the event's id "<commit LSN>-<position in transaction>",
 *      strictly increasing within the slot and the same on every re-read.
 *   4. After EXEC succeeded, pg_replication_slot_advance() to the end of the
 *      last complete transaction, or to upto when the peek reached it (no
 *      transaction ended before upto beyond what was published, so nothing
 *      is skipped; this also keeps a slot whose tables are idle moving); at
 *      most every CDC_ADVANCE_MS, since each advance decodes again: passes
 *      in between re-read the events since the slot's position and skip
 *      them by the position key's value.
 * Exactly once: an event is re-read only when the slot was not advanced past
 * it, which happens when the worker or the server stopped between EXEC and
 * the advance, or a batch failed.  The position key, written in the same
 * MULTI/EXEC as the entries, tells which of those Redis already holds, and
 * they are not sent again; should the key be lost or stale, XADD itself
 * refuses an id not above the stream's top item, which counts as skipped.
 * Redis down or slow: the pass fails, nothing is advanced, and the sink
 * retries after a capped exponential backoff.
 *
 * Freshness without polling SQL: every geoshard.cdc_poll_interval the loop
 * compares GetFlushRecPtr() with the position each sink has reached, in C,
 * and decodes only when there is new WAL.  Heartbeat: logical decoding moves
 * a slot's restart point only at records of running transactions, which
 * PostgreSQL writes every 15 s at best; every cdc_heartbeat_interval, when
 * WAL was written since the last one, the worker writes one itself
 * (LogStandbySnapshot), so that slots release WAL and each peek re-reads
 * little.  Nothing is published for it.
 *
 * Errors: outside failures (Redis, a stream key that renders empty) are
 * values recorded in the sink's status, retried after a backoff of
 * CDC_BACKOFF_MIN_MS doubling to CDC_BACKOFF_MAX_MS.  An ERROR inside a
 * sink's transaction (options the plugin refuses, a slot that cannot be
 * created) is caught by GeoshardWorkerRun: the sink records its text and
 * retries after GeoshardWorkerRetryDelay, and the other sinks go on.  The
 * slots keep the progress, so a restart of the worker loses nothing.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/standby.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "cdc/cdc_status.h"
#include "cdc/event_id.h"
#include "core/guc.h"
#include "core/redis.h"
#include "core/worker.h"

/* how often the sinks are read again (a write to them, or a reload, wakes the worker at once) */
#define CDC_RELOAD_MS			1000
/* how long to wait while there is nothing to do: no sink, or publishing off */
#define CDC_IDLE_MS				1000
/* retries of a failing sink: the first after the minimum, doubling to the maximum */
#define CDC_BACKOFF_MIN_MS		100
#define CDC_BACKOFF_MAX_MS		5000
/* the slot is advanced at most this often (each advance decodes again) */
#define CDC_ADVANCE_MS			100
/* batches of geoshard.cdc_batch_size events one pass decodes at most */
#define CDC_PASS_BATCHES		10
/* longest stream key a template may render */
#define CDC_STREAM_KEY_MAX		1024
/* the text of Redis's refusal of an id at or below the stream's top item */
#define CDC_DUPLICATE_ERROR		"equal or smaller than the target stream top item"

PGDLLEXPORT void GeoshardCdcMain(Datum main_arg);

#define CDC_SINKS_QUERY \
	"SELECT name, slot_name, stream_key," \
	" coalesce((SELECT pg_catalog.array_agg(x ORDER BY k, i)" \
	"  FROM pg_catalog.jsonb_each_text(options) e(k, v)," \
	"  LATERAL (VALUES (1, k), (2, v)) p(i, x)), '{}')::text," \
	" redis_url, maxlen, enabled" \
	" FROM geoshard.cdc_sinks ORDER BY name"

/* slots of sinks that are gone (drop_cdc_sink found them in use) */
#define CDC_ORPHANS_QUERY \
	"SELECT r.slot_name::text FROM pg_catalog.pg_replication_slots r" \
	" WHERE r.plugin = 'geoshard' AND r.slot_type = 'logical' AND NOT r.active" \
	" AND r.database = pg_catalog.current_database()" \
	" AND r.slot_name::text LIKE 'geoshard\\_cdc\\_%'" \
	" AND NOT EXISTS (SELECT FROM geoshard.cdc_sinks s WHERE s.slot_name = r.slot_name)"

#define CDC_SLOT_QUERY \
	"SELECT plugin::text, database::text = pg_catalog.current_database(), confirmed_flush_lsn" \
	" FROM pg_catalog.pg_replication_slots WHERE slot_name = $1"

#define CDC_CREATE_SLOT_QUERY \
	"SELECT lsn FROM pg_catalog.pg_create_logical_replication_slot($1, 'geoshard')"

/*
 * The event's fields are read once per row from one jsonb (OFFSET 0 keeps
 * the planner from parsing it once per field).
 */
#define CDC_PEEK_QUERY \
	"SELECT lsn, d->>'id', d->>'action', d->>'schema', d->>'table', d->>'node', d->>'prefix', data" \
	" FROM (SELECT lsn, data, data::jsonb AS d" \
	"  FROM pg_catalog.pg_logical_slot_peek_changes($1, $2, $3," \
	"   VARIADIC '{include-begin-commit,true}'::text[] || $4::text[]) OFFSET 0) c"

#define CDC_ADVANCE_QUERY \
	"SELECT pg_catalog.pg_replication_slot_advance($1, $2)"


typedef struct CdcSink
{
	/* configuration, from geoshard.cdc_sinks; strings in config_context */
	char		name[NAMEDATALEN];
	char		slot[NAMEDATALEN];
	char	   *stream_key;		/* the template */
	char	   *options;		/* text[] literal of option, value pairs */
	char	   *redis_url;		/* the sink's own; NULL: geoshard.redis_url */
	int64		maxlen;			/* 0: no trimming */
	bool		enabled;
	MemoryContext config_context;
	bool		seen;			/* found by the current reload */

	/* state of the worker */
	RedisConn  *conn;
	char	   *conn_url;		/* the URL conn was made with */
	char		position_key[NAMEDATALEN + 32];
	bool		position_known; /* position holds what Redis holds */
	CdcId		position;
	CdcId		connect_position;	/* the position Redis had at connection */
	char		position_text[CDC_ID_LEN];	/* "" when Redis had none */
	bool		slot_ready;		/* the slot exists and confirmed is its position */
	XLogRecPtr	confirmed;
	bool		more;			/* the last pass stopped at the batch limit */
	XLogRecPtr	reached;		/* what is before it is published; the slot follows */
	TimestampTz next_advance;	/* the slot is advanced to reached at most this often */
	int			failures;		/* consecutive failed passes */
	TimestampTz retry_at;
	bool		lag_warned;
	uint64		window_events;	/* for events_per_s */
	TimestampTz window_start;
} CdcSink;

/* one pass over a sink, the argument of CdcPassWork */
typedef struct CdcPass
{
	CdcSink    *sink;
	XLogRecPtr	upto;			/* the WAL flush position before the pass */
	bool		ok;				/* false: error says why */
	bool		created_slot;	/* the pass created the sink's slot */
	char		error[CDC_ERROR_LEN];
} CdcPass;


static CdcSink sinks[CDC_MAX_SINKS];
static CdcSinkStatus statuses[CDC_MAX_SINKS];	/* statuses[i] is sinks[i]'s */
static int	nsinks = 0;
static MemoryContext batch_context = NULL;
static bool waiting_for_update_logged = false;

static void CdcSinkFail(CdcSink *sink, const char *fmt,...) pg_attribute_printf(2, 3);

static inline CdcSinkStatus *
CdcStatusOf(CdcSink *sink)
{
	return &statuses[sink - sinks];
}

/*
 * How many rows one pass asks the slot for: CDC_PASS_BATCHES batches.  Each
 * peek decodes again from the slot's restart point, so a backlog is caught
 * up in fewer, larger passes; the rows wait in the function's tuplestore,
 * on disk past work_mem.
 */
static int
CdcPassLimit(void)
{
	return (int) Min((int64) geoshard_cdc_batch_size * CDC_PASS_BATCHES, (int64) PG_INT32_MAX);
}

/* Record a failed pass: the error, the state, and when to retry. */
static void
CdcSinkFail(CdcSink *sink, const char *fmt,...)
{
	CdcSinkStatus *status = CdcStatusOf(sink);
	char		error[CDC_ERROR_LEN];
	va_list		args;
	int			delay;

	va_start(args, fmt);
	vsnprintf(error, CDC_ERROR_LEN, fmt, args);
	va_end(args);

	/* logged once per change of error, not once per retry */
	if (status->state != CDC_STATE_RETRYING || strcmp(status->last_error, error) != 0)
		ereport(LOG,
				(errmsg("cdc sink \"%s\" could not publish: %s", sink->name, error),
				 errdetail("The sink retries with a backoff of up to %d ms.", CDC_BACKOFF_MAX_MS)));
	strlcpy(status->last_error, error, sizeof(status->last_error));
	status->last_error_at = GetCurrentTimestamp();
	status->state = CDC_STATE_RETRYING;
	status->errors++;

	sink->failures = Min(sink->failures + 1, 30);
	delay = CDC_BACKOFF_MIN_MS << Min(sink->failures - 1, 10);
	sink->retry_at = TimestampTzPlusMilliseconds(status->last_error_at, Min(delay, CDC_BACKOFF_MAX_MS));
}

static void
CdcSinkDisconnect(CdcSink *sink)
{
	RedisDisconnect(sink->conn);
	sink->conn = NULL;
	sink->position_known = false;
}

/* The URL a sink publishes to, or NULL when it has none. */
static const char *
CdcSinkUrl(CdcSink *sink)
{
	if (sink->redis_url != NULL)
		return sink->redis_url;
	if (geoshard_redis_url == NULL || geoshard_redis_url[0] == '\0')
		return NULL;
	return geoshard_redis_url;
}

/* Is geoshard.cdc_sinks there (the extension may still be at 0.3)? */
static bool
CdcSinksExist(void)
{
	Oid			nspid = get_namespace_oid("geoshard", true);
	bool		exists = OidIsValid(nspid) && OidIsValid(get_relname_relid("cdc_sinks", nspid));

	if (!exists && !waiting_for_update_logged)
		ereport(LOG,
				(errmsg("geoshard cdc is waiting for ALTER EXTENSION geoshard UPDATE in database \"%s\"",
						geoshard_database),
				 errdetail("Table geoshard.cdc_sinks does not exist.")));
	waiting_for_update_logged = !exists;
	return exists;
}

static void
CdcExecute(const char *sql, int expected, int nargs, Oid *types, Datum *values)
{
	int			ret = nargs > 0 ?
		SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0) :
		SPI_execute(sql, false, 0);

	if (ret != expected)
		elog(ERROR, "cdc worker query failed with SPI code %d: %s", ret, sql);
}

static char *
CdcConfigString(CdcSink *sink, const char *value)
{
	return value != NULL ? MemoryContextStrdup(sink->config_context, value) : NULL;
}

static bool
CdcSameString(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Remove sinks[i], keeping statuses[] in step. */
static void
CdcSinkRemove(int i)
{
	CdcSinkDisconnect(&sinks[i]);
	MemoryContextDelete(sinks[i].config_context);
	memmove(&sinks[i], &sinks[i + 1], sizeof(CdcSink) * (nsinks - i - 1));
	memmove(&statuses[i], &statuses[i + 1], sizeof(CdcSinkStatus) * (nsinks - i - 1));
	nsinks--;
}

/*
 * Read geoshard.cdc_sinks into sinks[] (inside a transaction): new sinks are
 * added, changed ones take their new configuration (a new URL drops the
 * connection), removed ones go.  Slots of sinks that are gone are dropped.
 */
static void
CdcLoadSinks(void *arg)
{
	if (!CdcSinksExist())
		return;
	for (int i = 0; i < nsinks; i++)
		sinks[i].seen = false;

	CdcExecute(CDC_SINKS_QUERY, SPI_OK_SELECT, 0, NULL, NULL);
	for (uint64 r = 0; r < SPI_processed && r < CDC_MAX_SINKS; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tuple, desc, 1);
		char	   *slot = SPI_getvalue(tuple, desc, 2);
		char	   *stream_key = SPI_getvalue(tuple, desc, 3);
		char	   *options = SPI_getvalue(tuple, desc, 4);
		char	   *redis_url = SPI_getvalue(tuple, desc, 5);
		char	   *maxlen = SPI_getvalue(tuple, desc, 6);
		char	   *enabled = SPI_getvalue(tuple, desc, 7);
		CdcSink    *sink = NULL;

		for (int i = 0; i < nsinks; i++)
			if (strcmp(sinks[i].name, name) == 0)
				sink = &sinks[i];
		if (sink == NULL)
		{
			CdcSinkStatus *status;

			sink = &sinks[nsinks];
			status = &statuses[nsinks];
			nsinks++;
			memset(sink, 0, sizeof(CdcSink));
			memset(status, 0, sizeof(CdcSinkStatus));
			strlcpy(sink->name, name, NAMEDATALEN);
			strlcpy(status->sink, name, NAMEDATALEN);
			status->rtt_ms = get_float8_nan();
			snprintf(sink->position_key, sizeof(sink->position_key), "geoshard:cdc:%s:position", name);
			sink->config_context = AllocSetContextCreate(TopMemoryContext, "geoshard cdc sink",
														 ALLOCSET_SMALL_SIZES);
		}
		else if (strcmp(sink->slot, slot) != 0 || !CdcSameString(sink->redis_url, redis_url))
		{
			CdcSinkDisconnect(sink);
			sink->slot_ready = false;
		}
		sink->seen = true;
		strlcpy(sink->slot, slot, NAMEDATALEN);
		strlcpy(CdcStatusOf(sink)->slot, slot, NAMEDATALEN);
		MemoryContextReset(sink->config_context);
		sink->stream_key = CdcConfigString(sink, stream_key);
		sink->options = CdcConfigString(sink, options);
		sink->redis_url = CdcConfigString(sink, redis_url);
		sink->maxlen = maxlen != NULL ? pg_strtoint64(maxlen) : 0;
		sink->enabled = enabled != NULL && enabled[0] == 't';
		if (!sink->enabled)
		{
			CdcSinkDisconnect(sink);
			statuses[sink - sinks].state = CDC_STATE_DISABLED;
		}
		else if (statuses[sink - sinks].state == CDC_STATE_DISABLED)
			statuses[sink - sinks].state = CDC_STATE_STARTING;
	}

	for (int i = nsinks - 1; i >= 0; i--)
		if (!sinks[i].seen)
			CdcSinkRemove(i);

	CdcExecute(CDC_ORPHANS_QUERY, SPI_OK_SELECT, 0, NULL, NULL);
	if (SPI_processed > 0)
	{
		SPITupleTable *orphans = SPI_tuptable;
		uint64		n = SPI_processed;

		for (uint64 r = 0; r < n; r++)
		{
			char	   *slot = SPI_getvalue(orphans->vals[r], orphans->tupdesc, 1);
			Oid			type = TEXTOID;
			Datum		value = CStringGetTextDatum(slot);

			CdcExecute("SELECT pg_catalog.pg_drop_replication_slot($1)", SPI_OK_SELECT, 1, &type, &value);
			ereport(LOG, (errmsg("geoshard cdc dropped replication slot \"%s\" of a dropped sink", slot)));
		}
	}
}

/*
 * Warn once per connection when Redis may lose acknowledged writes in a
 * crash.  False, with error set, when the exchange itself failed.
 */
static bool
CdcCheckPersistence(CdcSink *sink, const char *masked, char *error, size_t errlen)
{
	const char *appendonly[3] = {"CONFIG", "GET", "appendonly"};
	const char *appendfsync[3] = {"CONFIG", "GET", "appendfsync"};
	size_t		lens[3] = {6, 3, 10};
	size_t		lens2[3] = {6, 3, 11};
	redisReply **replies;
	const char *values[2] = {NULL, NULL};

	RedisAppend(sink->conn, 3, appendonly, lens);
	RedisAppend(sink->conn, 3, appendfsync, lens2);
	replies = RedisExchange(sink->conn, geoshard_redis_timeout, error, errlen);
	if (replies == NULL)
		return false;
	for (int i = 0; i < 2; i++)
	{
		redisReply *r = replies[i];

		/* CONFIG may be renamed or refused (managed Redis): say nothing */
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
			r->element[1]->type == REDIS_REPLY_STRING)
			values[i] = r->element[1]->str;
	}
	if ((values[0] != NULL && strcmp(values[0], "yes") != 0) ||
		(values[1] != NULL && strcmp(values[1], "always") != 0))
		ereport(WARNING,
				(errmsg("Redis at %s of cdc sink \"%s\" may lose published events in a crash", masked, sink->name),
				 errdetail("The server has appendonly %s and appendfsync %s.",
						   values[0] ? values[0] : "unknown", values[1] ? values[1] : "unknown"),
				 errhint("For no loss across a Redis crash set appendonly yes and appendfsync always (docs/cdc.md).")));
	RedisFreeReplies(replies, 2);
	return true;
}

/* Connect the sink to Redis and learn its position; false after CdcSinkFail. */
static bool
CdcSinkConnect(CdcSink *sink)
{
	CdcSinkStatus *status = CdcStatusOf(sink);
	const char *url = CdcSinkUrl(sink);
	char		error[REDIS_ERROR_LEN];
	const char *argv[2] = {"GET", sink->position_key};
	redisReply *reply;
	char	   *masked;

	if (url == NULL)
	{
		CdcSinkFail(sink, "no Redis URL: the sink names none and geoshard.redis_url is empty");
		return false;
	}
	masked = RedisMaskUrl(url);
	strlcpy(status->redis_url, masked, sizeof(status->redis_url));
	pgstat_report_activity(STATE_RUNNING, "connecting to Redis");
	sink->conn = RedisConnect(url, geoshard_redis_timeout, error, sizeof(error));
	if (sink->conn == NULL)
	{
		CdcSinkFail(sink, "could not connect to Redis at %s: %s", masked, error);
		return false;
	}
	if (!CdcCheckPersistence(sink, masked, error, sizeof(error)))
	{
		CdcSinkDisconnect(sink);
		CdcSinkFail(sink, "could not read from Redis at %s: %s", masked, error);
		return false;
	}

	reply = RedisCommand(sink->conn, geoshard_redis_timeout, error, sizeof(error), 2, argv);
	if (reply == NULL)
	{
		CdcSinkDisconnect(sink);
		CdcSinkFail(sink, "could not read from Redis at %s: %s", masked, error);
		return false;
	}
	if (reply->type == REDIS_REPLY_NIL)
	{
		sink->position_text[0] = '\0';
		memset(&sink->position, 0, sizeof(CdcId));
	}
	else if (reply->type == REDIS_REPLY_STRING && reply->len < CDC_ID_LEN &&
			 CdcParseId(reply->str, &sink->position))
		strlcpy(sink->position_text, reply->str, CDC_ID_LEN);
	else
	{
		char		what[REDIS_ERROR_LEN];

		RedisDescribeReply(reply, what, sizeof(what));
		freeReplyObject(reply);
		CdcSinkDisconnect(sink);
		CdcSinkFail(sink, "invalid position key \"%s\" in Redis at %s: %s", sink->position_key, masked, what);
		return false;
	}
	freeReplyObject(reply);
	sink->position_known = true;
	sink->connect_position = sink->position;
	if (sink->position_text[0] != '\0')
		strlcpy(status->last_id, sink->position_text, CDC_ID_LEN);
	pgstat_report_activity(STATE_IDLE, NULL);
	return true;
}

/*
 * Make sure the sink's slot exists, with our plugin in our database, and
 * learn its position; false with pass->error set.  Inside a transaction.
 */
static bool
CdcSinkPrepareSlot(CdcSink *sink, CdcPass *pass)
{
	Oid			type = TEXTOID;
	Datum		value = CStringGetTextDatum(sink->slot);
	bool		isnull;

	CdcExecute(CDC_SLOT_QUERY, SPI_OK_SELECT, 1, &type, &value);
	if (SPI_processed == 0)
	{
		CdcExecute(CDC_CREATE_SLOT_QUERY, SPI_OK_SELECT, 1, &type, &value);
		pass->created_slot = true;
		sink->confirmed = DatumGetLSN(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		sink->reached = sink->confirmed;
	}
	else
	{
		char	   *plugin = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *here = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		Datum		lsn = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);

		if (plugin == NULL || strcmp(plugin, "geoshard") != 0 || here == NULL || here[0] != 't' || isnull)
		{
			snprintf(pass->error, CDC_ERROR_LEN,
					 "replication slot \"%s\" exists but is not a logical slot of plugin geoshard in this database",
					 sink->slot);
			pass->ok = false;
			return false;
		}
		sink->confirmed = DatumGetLSN(lsn);
		sink->reached = sink->confirmed;
	}
	sink->slot_ready = true;
	return true;
}

/* Render the sink's stream key for an event into key; false if empty or too long. */
static bool
CdcRenderKey(CdcSink *sink, StringInfo key, const char *schema, const char *table,
			 const char *node, const char *prefix)
{
	const char *p = sink->stream_key;

	resetStringInfo(key);
	/* a logical message has no table: its prefix takes the place */
	if (table == NULL)
		table = prefix;
	while (*p)
	{
		if (strncmp(p, "{table}", 7) == 0)
		{
			appendStringInfoString(key, table ? table : "");
			p += 7;
		}
		else if (strncmp(p, "{schema}", 8) == 0)
		{
			appendStringInfoString(key, schema ? schema : "");
			p += 8;
		}
		else if (strncmp(p, "{shard}", 7) == 0)
		{
			appendStringInfoString(key, node ? node : "");
			p += 7;
		}
		else
			appendStringInfoChar(key, *p++);
	}
	return key->len > 0 && key->len <= CDC_STREAM_KEY_MAX;
}

/* A column of the current row as text, or NULL. */
static char *
CdcColumn(HeapTuple tuple, TupleDesc desc, int column, int *len)
{
	bool		isnull;
	Datum		value = SPI_getbinval(tuple, desc, column, &isnull);
	text	   *t;

	if (len != NULL)
		*len = 0;
	if (isnull)
		return NULL;
	t = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));
	if (len != NULL)
		*len = VARSIZE_ANY_EXHDR(t);
	return text_to_cstring(t);
}

/*
 * Check the replies of one pipeline: MULTI, n XADDs, SET, EXEC.  Counts
 * published and skipped events; false with an error text when the batch
 * did not go through as a whole.
 */
static bool
CdcCheckReplies(CdcSink *sink, redisReply **replies, int nxadd, char *error, size_t errlen)
{
	CdcSinkStatus *status = CdcStatusOf(sink);
	redisReply *exec = replies[nxadd + 2];
	char		what[REDIS_ERROR_LEN];
	uint64		published = 0;
	uint64		skipped = 0;
	bool		ok = true;

	if (!RedisReplyIsStatus(replies[0], "OK"))
	{
		RedisDescribeReply(replies[0], what, sizeof(what));
		snprintf(error, errlen, "MULTI: %s", what);
		return false;
	}
	for (int i = 1; i <= nxadd + 1; i++)
		if (!RedisReplyIsStatus(replies[i], "QUEUED"))
		{
			RedisDescribeReply(replies[i], what, sizeof(what));
			snprintf(error, errlen, "%s: %s", i <= nxadd ? "XADD" : "SET", what);
			return false;
		}
	if (exec->type != REDIS_REPLY_ARRAY || exec->elements != (size_t) nxadd + 1)
	{
		RedisDescribeReply(exec, what, sizeof(what));
		snprintf(error, errlen, "EXEC: %s", what);
		return false;
	}
	for (int i = 0; i < nxadd; i++)
	{
		redisReply *r = exec->element[i];

		if (r->type == REDIS_REPLY_STRING)
			published++;
		else if (r->type == REDIS_REPLY_ERROR && r->str != NULL && strstr(r->str, CDC_DUPLICATE_ERROR) != NULL)
			skipped++;
		else if (ok)
		{
			RedisDescribeReply(r, what, sizeof(what));
			snprintf(error, errlen, "XADD inside EXEC: %s", what);
			ok = false;
		}
	}
	if (ok && !RedisReplyIsStatus(exec->element[nxadd], "OK"))
	{
		RedisDescribeReply(exec->element[nxadd], what, sizeof(what));
		snprintf(error, errlen, "SET of the position: %s", what);
		ok = false;
	}
	status->published += published;
	status->skipped += skipped;
	sink->window_events += published;
	return ok;
}

/*
 * Put the position key back to what it was before a batch some of whose
 * entries failed (a key of the wrong type, say), so that those are sent
 * again.  Best effort: a failure here drops the connection, and the next
 * connection reads whatever the key holds.
 */
static void
CdcRestorePosition(CdcSink *sink)
{
	char		error[REDIS_ERROR_LEN];
	redisReply *reply;

	if (sink->position_text[0] != '\0')
	{
		const char *argv[3] = {"SET", sink->position_key, sink->position_text};

		reply = RedisCommand(sink->conn, geoshard_redis_timeout, error, sizeof(error), 3, argv);
	}
	else
	{
		const char *argv[2] = {"DEL", sink->position_key};

		reply = RedisCommand(sink->conn, geoshard_redis_timeout, error, sizeof(error), 2, argv);
	}
	if (reply != NULL)
		freeReplyObject(reply);
}

/*
 * The database part of a pass over a sink (see the file's header), inside
 * the transaction GeoshardWorkerRun opened.  Outside failures set
 * pass->ok = false and pass->error.
 */
static void
CdcPassBody(CdcPass *pass)
{
	CdcSink    *sink = pass->sink;
	XLogRecPtr	upto = pass->upto;
	CdcSinkStatus *status = CdcStatusOf(sink);
	Portal		portal;
	Oid			types[4] = {TEXTOID, LSNOID, INT4OID, TEXTOID};
	Datum		values[4];
	uint64		total = 0;
	XLogRecPtr	last_end = InvalidXLogRecPtr;
	XLogRecPtr	target;
	CdcId		last_id = {0, 0};
	bool		in_txn = false;
	bool		ok = true;
	StringInfoData key;
	char		maxlen[32];
	char	   *error = pass->error;

	if (!CdcSinksExist())
	{
		snprintf(error, CDC_ERROR_LEN, "table geoshard.cdc_sinks does not exist");
		pass->ok = false;
		return;
	}
	if (!sink->slot_ready && !CdcSinkPrepareSlot(sink, pass))
		return;

	values[0] = CStringGetTextDatum(sink->slot);
	values[1] = LSNGetDatum(upto);
	values[2] = Int32GetDatum(CdcPassLimit());
	values[3] = CStringGetTextDatum(sink->options);
	portal = SPI_cursor_open_with_args(NULL, CDC_PEEK_QUERY, 4, types, values, NULL, false, 0);
	snprintf(maxlen, sizeof(maxlen), INT64_FORMAT, sink->maxlen);

	for (;;)
	{
		MemoryContext outer;
		int			nxadd = 0;
		char		last_text[CDC_ID_LEN] = "";
		XLogRecPtr	chunk_end = last_end;	/* taken only once Redis acknowledged */
		redisReply **replies;
		TimestampTz sent;

		SPI_cursor_fetch(portal, true, geoshard_cdc_batch_size);
		if (SPI_processed == 0)
			break;
		total += SPI_processed;

		outer = MemoryContextSwitchTo(batch_context);
		initStringInfo(&key);
		for (uint64 r = 0; r < SPI_processed && ok; r++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			XLogRecPtr	lsn = DatumGetLSN(SPI_getbinval(tuple, desc, 1, &isnull));
			char	   *id = CdcColumn(tuple, desc, 2, NULL);
			char	   *action = CdcColumn(tuple, desc, 3, NULL);
			CdcId		event;

			if (!CdcParseId(id, &event) || action == NULL || action[0] == '\0')
			{
				snprintf(error, CDC_ERROR_LEN, "event with an invalid id or action at LSN %X/%X",
						 LSN_FORMAT_ARGS(lsn));
				ok = false;
				break;
			}
			last_id = event;
			strlcpy(last_text, id, sizeof(last_text));
			if (action[0] == 'B' && action[1] == '\0')
				in_txn = true;
			else if (action[0] == 'C' && action[1] == '\0')
			{
				in_txn = false;
				chunk_end = lsn;
			}
			else
			{
				if (sink->position_known && !CdcIdAfter(&event, &sink->position))
				{
					/* counted only when an earlier connection published it */
					if (!CdcIdAfter(&event, &sink->connect_position))
						status->skipped++;
				}
				else
				{
					char	   *schema = CdcColumn(tuple, desc, 4, NULL);
					char	   *table = CdcColumn(tuple, desc, 5, NULL);
					char	   *node = CdcColumn(tuple, desc, 6, NULL);
					char	   *prefix = CdcColumn(tuple, desc, 7, NULL);
					int			datalen;
					char	   *data = CdcColumn(tuple, desc, 8, &datalen);
					const char *argv[14];
					size_t		lens[14];
					int			argc = 0;

					if (!CdcRenderKey(sink, &key, schema, table, node, prefix))
					{
						snprintf(error, CDC_ERROR_LEN,
								 "stream key template \"%s\" renders %s for event %s",
								 sink->stream_key, key.len == 0 ? "an empty key" : "a key over 1024 bytes", id);
						ok = false;
						break;
					}
					if (nxadd == 0)
					{
						const char *multi = "MULTI";
						size_t		multilen = 5;

						RedisAppend(sink->conn, 1, &multi, &multilen);
					}
#define CDC_ARG(s, l) (argv[argc] = (s), lens[argc] = (l), argc++)
					CDC_ARG("XADD", 4);
					CDC_ARG(key.data, key.len);
					if (sink->maxlen > 0)
					{
						CDC_ARG("MAXLEN", 6);
						CDC_ARG("~", 1);
						CDC_ARG(maxlen, strlen(maxlen));
					}
					CDC_ARG(id, strlen(id));
					CDC_ARG("action", 6);
					CDC_ARG(action, strlen(action));
					if (schema != NULL)
					{
						CDC_ARG("schema", 6);
						CDC_ARG(schema, strlen(schema));
					}
					if (table != NULL)
					{
						CDC_ARG("table", 5);
						CDC_ARG(table, strlen(table));
					}
					CDC_ARG("data", 4);
					CDC_ARG(data != NULL ? data : "", datalen);
#undef CDC_ARG
					RedisAppend(sink->conn, argc, argv, lens);
					nxadd++;
				}
				/* a non-transactional message is complete by itself */
				if (!in_txn)
					chunk_end = lsn + 1;
			}
		}
		MemoryContextSwitchTo(outer);
		SPI_freetuptable(SPI_tuptable);

		if (ok && nxadd > 0)
		{
			const char *set[3] = {"SET", sink->position_key, last_text};
			size_t		setlens[3] = {3, strlen(sink->position_key), strlen(last_text)};
			const char *exec = "EXEC";
			size_t		execlen = 4;

			RedisAppend(sink->conn, 3, set, setlens);
			RedisAppend(sink->conn, 1, &exec, &execlen);
			pgstat_report_activity(STATE_RUNNING, "sending a cdc batch to Redis");
			sent = GetCurrentTimestamp();
			replies = RedisExchange(sink->conn, geoshard_redis_timeout, error, CDC_ERROR_LEN);
			status->rtt_ms = (double) (GetCurrentTimestamp() - sent) / 1000.0;
			if (replies == NULL)
			{
				CdcSinkDisconnect(sink);
				ok = false;
			}
			else
			{
				ok = CdcCheckReplies(sink, replies, nxadd, error, CDC_ERROR_LEN);
				RedisFreeReplies(replies, nxadd + 3);
				if (!ok)
					CdcRestorePosition(sink);
				else
				{
					sink->position = last_id;
					strlcpy(sink->position_text, last_text, CDC_ID_LEN);
					strlcpy(status->last_id, last_text, CDC_ID_LEN);
					status->last_lsn = (XLogRecPtr) last_id.lsn;
				}
			}
		}
		else if (!ok && RedisPending(sink->conn) > 0)
			CdcSinkDisconnect(sink);	/* commands queued and never sent */
		MemoryContextReset(batch_context);
		if (!ok)
			break;
		last_end = chunk_end;
	}
	SPI_cursor_close(portal);

	/*
	 * Reached: the end of the last complete transaction published; when the
	 * peek stopped at upto rather than at the batch limit, upto, since every
	 * transaction that ended before it was in the output.  The slot is
	 * advanced there at most every CDC_ADVANCE_MS (each advance decodes
	 * again): until then a pass re-reads the events in between, and skips
	 * them by the position.
	 */
	target = last_end;
	sink->more = ok && total >= (uint64) CdcPassLimit();
	if (ok && !sink->more && !in_txn)
		target = Max(target, upto);
	sink->reached = Max(sink->reached, target);
	target = sink->reached;
	if (target > sink->confirmed &&
		(sink->more || !sink->position_known || GetCurrentTimestamp() >= sink->next_advance))
	{
		Oid			atypes[2] = {TEXTOID, LSNOID};
		Datum		avalues[2];

		avalues[0] = CStringGetTextDatum(sink->slot);
		avalues[1] = LSNGetDatum(target);
		pgstat_report_activity(STATE_RUNNING, "advancing a cdc slot");
		CdcExecute(CDC_ADVANCE_QUERY, SPI_OK_SELECT, 2, atypes, avalues);
		sink->confirmed = target;
		sink->next_advance = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CDC_ADVANCE_MS);
	}
	pass->ok = ok;
}

/*
 * GeoshardWorkerRun's unit of work: the body, with the text of an ERROR
 * kept for geoshard.cdc_status before the ERROR goes on to be caught.
 */
static void
CdcPassWork(void *arg)
{
	CdcPass    *pass = (CdcPass *) arg;
	MemoryContext context = CurrentMemoryContext;

	PG_TRY();
	{
		CdcPassBody(pass);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(context);
		edata = CopyErrorData();
		strlcpy(pass->error, edata->message, CDC_ERROR_LEN);
		FreeErrorData(edata);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * One pass over a sink: Redis, then the transaction.  Returns false after
 * CdcSinkFail.
 */
static bool
CdcSinkPass(CdcSink *sink, XLogRecPtr upto)
{
	CdcPass		pass;
	GeoshardWorkResult result;

	if (sink->conn == NULL && !CdcSinkConnect(sink))
		return false;

	memset(&pass, 0, sizeof(pass));
	pass.sink = sink;
	pass.upto = upto;
	pass.ok = true;
	result = GeoshardWorkerRun("publishing a cdc sink", CdcPassWork, &pass);

	if (pass.created_slot && result == GEOSHARD_WORK_DONE)
		ereport(LOG,
				(errmsg("geoshard cdc created replication slot \"%s\" for sink \"%s\"", sink->slot, sink->name)));
	/* what an ERROR left of the batch's memory */
	MemoryContextReset(batch_context);
	/* commands queued but never sent would go out ahead of the next batch */
	if (sink->conn != NULL && RedisPending(sink->conn) > 0)
		CdcSinkDisconnect(sink);
	if (result == GEOSHARD_WORK_FAILED)
	{
		/* the slot may be gone or changed, and the batch was rolled back */
		sink->slot_ready = false;
		CdcSinkFail(sink, "%s", pass.error[0] != '\0' ? pass.error : "an error, see the server log");
		sink->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													 GeoshardWorkerRetryDelay(sink->failures));
		return false;
	}
	if (result == GEOSHARD_WORK_NO_EXTENSION || !pass.ok)
	{
		CdcSinkFail(sink, "%s", pass.error[0] != '\0' ? pass.error : "extension geoshard is not created");
		return false;
	}
	return true;
}

/* After a pass: state, lag, and the lag warning. */
static void
CdcSinkAfterPass(CdcSink *sink, bool ok, XLogRecPtr flush, TimestampTz now)
{
	CdcSinkStatus *status = CdcStatusOf(sink);
	uint64		lag = flush > sink->confirmed ? flush - sink->confirmed : 0;

	if (ok)
	{
		sink->failures = 0;
		sink->retry_at = 0;
		status->state = CDC_STATE_STREAMING;
	}
	if (!ok || sink->more)
	{
		if (status->behind_since == 0)
			status->behind_since = now;
	}
	else
		status->behind_since = 0;

	if (geoshard_cdc_max_lag > 0 && lag > (uint64) geoshard_cdc_max_lag * 1024)
	{
		if (!sink->lag_warned)
			ereport(WARNING,
					(errmsg("cdc sink \"%s\" has " UINT64_FORMAT " bytes of WAL left to publish", sink->name, lag),
					 errdetail("geoshard.cdc_max_lag is %d kB.", geoshard_cdc_max_lag),
					 errhint("Its slot keeps that WAL on disk; see geoshard.cdc_status for the sink's last error.")));
		sink->lag_warned = true;
	}
	else if (lag < (uint64) geoshard_cdc_max_lag * 512)
		sink->lag_warned = false;
}

/* events_per_s over windows of at least a second */
static void
CdcUpdateRates(TimestampTz now)
{
	for (int i = 0; i < nsinks; i++)
	{
		CdcSink    *sink = &sinks[i];
		long		ms = TimestampDifferenceMilliseconds(sink->window_start, now);

		if (sink->window_start == 0)
			sink->window_start = now;
		else if (ms >= 1000)
		{
			statuses[i].events_per_s = sink->window_events * 1000.0 / ms;
			sink->window_events = 0;
			sink->window_start = now;
		}
	}
}

/* Entry point of the cdc worker (core/worker.c registers it). */
void
GeoshardCdcMain(Datum main_arg)
{
	TimestampTz next_reload = 0;
	TimestampTz next_heartbeat = 0;
	XLogRecPtr	heartbeat_end = InvalidXLogRecPtr;
	bool		paused = false;
	uint64		generation = 0;

	GeoshardWorkerStart("geoshard cdc");
	CdcQuietDecodingLog();
	CdcWorkerAttach();
	batch_context = AllocSetContextCreate(CurrentMemoryContext, "geoshard cdc batch",
										  ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		bool		reloaded;
		bool		any_enabled = false;
		TimestampTz now;
		XLogRecPtr	flush;

		reloaded = GeoshardWorkerWait(paused || nsinks == 0 ? CDC_IDLE_MS : geoshard_cdc_poll_interval);
		now = GetCurrentTimestamp();

		if (!geoshard_cdc_enabled)
		{
			if (!paused)
			{
				ereport(LOG, (errmsg("geoshard cdc publishing is disabled")));
				for (int i = 0; i < nsinks; i++)
				{
					CdcSinkDisconnect(&sinks[i]);
					statuses[i].state = CDC_STATE_PAUSED;
				}
				CdcStatusPublish(statuses, nsinks);
				paused = true;
			}
			continue;
		}
		paused = false;

		if (reloaded || now >= next_reload || CdcSinksGeneration() != generation)
		{
			generation = CdcSinksGeneration();
			(void) GeoshardWorkerRun("reading geoshard.cdc_sinks", CdcLoadSinks, NULL);
			next_reload = TimestampTzPlusMilliseconds(now, CDC_RELOAD_MS);
			CdcUpdateRates(now);
			CdcStatusPublish(statuses, nsinks);
		}

		flush = GetFlushRecPtr(NULL);
		for (int i = 0; i < nsinks; i++)
		{
			CdcSink    *sink = &sinks[i];
			bool		ok;

			if (!sink->enabled)
				continue;
			any_enabled = true;
			if (sink->retry_at > now)
				continue;
			/* said only when there is a sink: a server without CDC needs no logical WAL */
			if (wal_level < WAL_LEVEL_LOGICAL)
			{
				CdcSinkFail(sink, "wal_level is not logical: set wal_level = logical and restart the server");
				CdcStatusPublish(statuses, nsinks);
				continue;
			}
			/*
			 * The freshness check: decode only when there is WAL past what
			 * the sink has reached, or when the slot is due to follow.
			 */
			if (sink->slot_ready && sink->conn != NULL && !sink->more && flush <= sink->reached &&
				(sink->reached <= sink->confirmed || now < sink->next_advance))
				continue;
			ok = CdcSinkPass(sink, flush);
			now = GetCurrentTimestamp();
			CdcSinkAfterPass(sink, ok, flush, now);
			CdcStatusPublish(statuses, nsinks);
		}

		/*
		 * Heartbeat: a record of running transactions lets slots move their
		 * restart point (and release WAL) at the next advance.
		 */
		if (any_enabled && geoshard_cdc_heartbeat_interval > 0 && now >= next_heartbeat)
		{
			if (GetXLogInsertRecPtr() != heartbeat_end)
				heartbeat_end = LogStandbySnapshot();
			next_heartbeat = TimestampTzPlusMilliseconds(now, geoshard_cdc_heartbeat_interval);
		}
	}
}
