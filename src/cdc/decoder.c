/*
 * src/cdc/decoder.c
 *	  The geoshard logical decoding output plugin: one JSON object per event
 *	  (the shape of wal2json's format 2), with an idempotency key.
 *
 *	  SELECT * FROM pg_create_logical_replication_slot('s', 'geoshard');
 *	  pg_recvlogical -S s -P geoshard --start -f -
 *
 * The id.  Every event carries "id": "<C>-<N>", C the commit LSN of its
 * transaction as an unsigned decimal, N its position in the transaction:
 * 0 for the begin record, k for the k-th change, message or truncated
 * relation the decoder hands us (counted whether or not the options print
 * it, so ids depend on the WAL alone), and the last position + 1 for the
 * commit record.  A non-transactional message gets "<L>-0", L the LSN where
 * its record starts (cdc_message says why not where it ends).  Ids are
 * strictly increasing within a slot: a transaction is decoded only at its
 * commit record, transactions in the order of their commit records, and a
 * non-transactional message at its own record, so events come out ordered
 * by (record LSN, position), and two records never share an LSN.  A
 * re-read of the slot (peek, or a consumer restarting from an older
 * confirmed position) decodes the same records and so gives the same ids.
 * "<C>-<N>" is also a valid Redis stream entry id.  No stream_* callbacks
 * are defined, so PostgreSQL never streams a transaction before its commit,
 * and no two-phase callbacks, so a prepared transaction is decoded at its
 * COMMIT PREPARED, with that record's LSN.
 *
 * Memory: every event is built in data->context, reset after each; the
 * output buffer (ctx->out) is reused from event to event.  A transaction
 * larger than logical_decoding_work_mem is spilled to disk by PostgreSQL's
 * reorder buffer before it reaches us, so a huge transaction is decoded
 * with bounded memory (test/t/021_cdc_decoder.pl).  What we keep across
 * changes is per table (relation_cache.c) and the shard map (geo_enrich.c).
 *
 * Runs in the backend that decodes: a walsender, or a session calling
 * pg_logical_slot_get_changes().
 */
#include "postgres.h"

#include "access/xlogreader.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "mb/pg_wchar.h"
#include "replication/logical.h"
#include "replication/output_plugin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "cdc/decoder_options.h"
#include "cdc/geo_enrich.h"
#include "cdc/json_value.h"
#include "cdc/relation_cache.h"

typedef struct CdcDecoder
{
	MemoryContext context;		/* one event's allocations; reset after each */
	CdcOptions	opts;
	uint64		position;		/* of the last event of the current transaction */
	StringInfoData txn_id;		/* {"id":"<commit LSN>- */
	StringInfoData txn_info;	/* ,"xid":..,"commit_lsn":"..","timestamp":".." */
} CdcDecoder;

static void cdc_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init);
static void cdc_shutdown(LogicalDecodingContext *ctx);
static void cdc_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void cdc_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn);
static void cdc_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation relation,
					   ReorderBufferChange *change);
static void cdc_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
						 Relation relations[], ReorderBufferChange *change);
static void cdc_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr lsn,
						bool transactional, const char *prefix, Size size, const char *message);

extern PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);

/* The plugin's callbacks; PostgreSQL looks this symbol up in geoshard.so. */
void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = cdc_startup;
	cb->begin_cb = cdc_begin;
	cb->change_cb = cdc_change;
	cb->truncate_cb = cdc_truncate;
	cb->commit_cb = cdc_commit;
	cb->message_cb = cdc_message;
	cb->shutdown_cb = cdc_shutdown;
}

static void
cdc_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init)
{
	MemoryContext old = MemoryContextSwitchTo(ctx->context);
	CdcDecoder *data = palloc0(sizeof(CdcDecoder));

	CdcOptionsParse(&data->opts, ctx->output_plugin_options);
	data->context = AllocSetContextCreate(ctx->context, "geoshard cdc event",
										  ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&data->txn_id);
	initStringInfo(&data->txn_info);
	CdcRelationCacheStart(ctx->context);
	CdcGeoStart(ctx->context);
	MemoryContextSwitchTo(old);

	ctx->output_plugin_private = data;
	opt->output_type = OUTPUT_PLUGIN_TEXTUAL_OUTPUT;
	opt->receive_rewrites = false;
}

/* Everything lives under ctx->context, which the caller deletes. */
static void
cdc_shutdown(LogicalDecodingContext *ctx)
{
	CdcDecoder *data = ctx->output_plugin_private;

	MemoryContextDelete(data->context);
}

/* An LSN in PostgreSQL's "16/B374D848" form. */
static void
AppendLsn(StringInfo out, XLogRecPtr lsn)
{
	appendStringInfo(out, "%X/%X", LSN_FORMAT_ARGS(lsn));
}

/* Start a transactional event: {"id":..,"action":..,"lsn":.. and the transaction's fields. */
static void
BeginTxnEvent(LogicalDecodingContext *ctx, CdcDecoder *data, uint64 position,
			  char action, XLogRecPtr lsn)
{
	StringInfo	out = ctx->out;
	char		num[MAXINT8LEN + 1];

	OutputPluginPrepareWrite(ctx, true);
	appendBinaryStringInfo(out, data->txn_id.data, data->txn_id.len);
	appendBinaryStringInfo(out, num, pg_ulltoa_n(position, num));
	appendStringInfoString(out, "\",\"action\":\"");
	appendStringInfoChar(out, action);
	appendStringInfoString(out, "\",\"lsn\":\"");
	AppendLsn(out, lsn);
	appendStringInfoChar(out, '"');
	appendBinaryStringInfo(out, data->txn_info.data, data->txn_info.len);
}

static void
cdc_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	CdcDecoder *data = ctx->output_plugin_private;
	char		num[MAXINT8LEN + 1];

	data->position = 0;

	resetStringInfo(&data->txn_id);
	appendStringInfoString(&data->txn_id, "{\"id\":\"");
	appendBinaryStringInfo(&data->txn_id, num, pg_ulltoa_n(txn->final_lsn, num));
	appendStringInfoChar(&data->txn_id, '-');

	resetStringInfo(&data->txn_info);
	if (data->opts.include_xids)
		appendStringInfo(&data->txn_info, ",\"xid\":%u", txn->xid);
	appendStringInfoString(&data->txn_info, ",\"commit_lsn\":\"");
	AppendLsn(&data->txn_info, txn->final_lsn);
	appendStringInfoChar(&data->txn_info, '"');
	if (data->opts.include_timestamp)
	{
		appendStringInfoString(&data->txn_info, ",\"timestamp\":");
		CdcJsonAppendTimestamp(&data->txn_info, txn->xact_time.commit_time);
	}

	if (data->opts.include_begin_commit)
	{
		BeginTxnEvent(ctx, data, 0, 'B', txn->first_lsn);
		appendStringInfoChar(ctx->out, '}');
		OutputPluginWrite(ctx, true);
	}
}

static void
cdc_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
	CdcDecoder *data = ctx->output_plugin_private;
	uint64		position = ++data->position;

	if (data->opts.include_begin_commit)
	{
		BeginTxnEvent(ctx, data, position, 'C', commit_lsn);
		appendStringInfoChar(ctx->out, '}');
		OutputPluginWrite(ctx, true);
	}
}

static inline bool
IsUnchangedToast(CdcColumn *col, Datum value, bool isnull)
{
	return !isnull && col->typlen == -1 && VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(value));
}

/* Append ,"name":[ {column}, ... ] for the listed columns of a tuple. */
static void
AppendColumns(StringInfo out, CdcDecoder *data, CdcRelation *rel, const char *name,
			  const int *list, int n, Datum *values, bool *nulls, Datum *fallback,
			  bool *fallback_nulls)
{
	bool		first = true;

	appendStringInfoString(out, name);
	appendStringInfoChar(out, '[');
	for (int i = 0; i < n; i++)
	{
		CdcColumn  *col = &rel->columns[list[i]];
		Datum		value = values[col->index];
		bool		isnull = nulls[col->index];

		if (IsUnchangedToast(col, value, isnull))
		{
			/*
			 * Only a key column gets here.  PostgreSQL logs the old key when a
			 * key column is stored out of line, so its value is there.
			 */
			isnull = (fallback == NULL || fallback_nulls[col->index] ||
					  IsUnchangedToast(col, fallback[col->index], false));
			if (!isnull)
				value = fallback[col->index];
		}
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		appendBinaryStringInfo(out, col->head, col->headlen);
		if (isnull)
			appendStringInfoString(out, "null");
		else
			CdcJsonAppendValue(out, &col->type, value, data->opts.numeric_as_string);
		appendStringInfoChar(out, '}');
	}
	appendStringInfoChar(out, ']');
}

static void
WriteRowEvent(LogicalDecodingContext *ctx, CdcDecoder *data, CdcRelation *rel,
			  Relation relation, ReorderBufferChange *change, uint64 position, char action)
{
	StringInfo	out = ctx->out;
	TupleDesc	desc = RelationGetDescr(relation);
	ReorderBufferTupleBuf *newbuf = change->data.tp.newtuple;
	ReorderBufferTupleBuf *oldbuf = change->data.tp.oldtuple;
	Datum	   *newvalues = NULL;
	bool	   *newnulls = NULL;
	Datum	   *oldvalues = NULL;
	bool	   *oldnulls = NULL;
	Datum	   *keyvalues;
	bool	   *keynulls;
	bool		keyless;

	if (newbuf != NULL)
	{
		newvalues = palloc(sizeof(Datum) * desc->natts);
		newnulls = palloc(sizeof(bool) * desc->natts);
		heap_deform_tuple(&newbuf->tuple, desc, newvalues, newnulls);
	}
	if (oldbuf != NULL)
	{
		oldvalues = palloc(sizeof(Datum) * desc->natts);
		oldnulls = palloc(sizeof(bool) * desc->natts);
		heap_deform_tuple(&oldbuf->tuple, desc, oldvalues, oldnulls);
	}
	keyvalues = (action == 'D') ? oldvalues : newvalues;
	keynulls = (action == 'D') ? oldnulls : newnulls;

	/* an update or delete that cannot name its row */
	keyless = action != 'I' && (rel->keyless || keyvalues == NULL);
	if (keyless && rel->keyless && !rel->warned)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s.%s\" has no primary key or replica identity index",
						get_namespace_name(RelationGetNamespace(relation)),
						RelationGetRelationName(relation)),
				 errdetail("Its update and delete events are marked \"keyless\": they do not say which row changed."),
				 errhint("Add a primary key, or set REPLICA IDENTITY FULL.")));
		rel->warned = true;
	}

	BeginTxnEvent(ctx, data, position, action, change->lsn);
	appendBinaryStringInfo(out, rel->names, rel->nameslen);

	if (rel->quadkey >= 0)
	{
		CdcColumn  *col = &rel->columns[rel->quadkey];

		appendStringInfoString(out, ",\"quadkey\":");
		if (keyvalues == NULL || keynulls[col->index])
			appendStringInfoString(out, "null,\"node\":null");
		else
		{
			CdcJsonAppendValue(out, &col->type, keyvalues[col->index], false);
			CdcGeoAppendNode(out, DatumGetQuadkey(keyvalues[col->index]));
		}
	}

	if (keyless)
		appendStringInfoString(out, ",\"keyless\":true");

	if (keyvalues != NULL)
		AppendColumns(out, data, rel, ",\"pk\":", rel->pk, rel->npk, keyvalues, keynulls,
					  action == 'U' ? oldvalues : NULL, oldnulls);
	else
		appendStringInfoString(out, ",\"pk\":[]");

	if (newvalues != NULL)
	{
		int			nchanged = 0;
		int		   *changed = palloc(sizeof(int) * Max(rel->ncolumns, 1));
		int			nunchanged = 0;
		int		   *unchanged = palloc(sizeof(int) * Max(rel->ncolumns, 1));

		for (int c = 0; c < rel->ncolumns; c++)
		{
			CdcColumn  *col = &rel->columns[c];

			if (IsUnchangedToast(col, newvalues[col->index], newnulls[col->index]))
				unchanged[nunchanged++] = c;
			else
				changed[nchanged++] = c;
		}
		AppendColumns(out, data, rel, ",\"columns\":", changed, nchanged, newvalues, newnulls,
					  NULL, NULL);
		if (data->opts.include_old && oldvalues != NULL)
			AppendColumns(out, data, rel, ",\"identity\":", rel->ident, rel->nident,
						  oldvalues, oldnulls, NULL, NULL);
		if (nunchanged > 0)
		{
			appendStringInfoString(out, ",\"unchanged_toast\":[");
			for (int i = 0; i < nunchanged; i++)
			{
				if (i > 0)
					appendStringInfoChar(out, ',');
				appendStringInfoString(out, rel->columns[unchanged[i]].name);
			}
			appendStringInfoChar(out, ']');
		}
	}
	else if (data->opts.include_old && oldvalues != NULL)
		AppendColumns(out, data, rel, ",\"identity\":", rel->ident, rel->nident,
					  oldvalues, oldnulls, NULL, NULL);

	appendStringInfoChar(out, '}');
	OutputPluginWrite(ctx, true);
}

static void
cdc_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation relation,
		   ReorderBufferChange *change)
{
	CdcDecoder *data = ctx->output_plugin_private;
	uint64		position = ++data->position;
	CdcRelation *rel;
	MemoryContext old;
	int			bit;
	char		action;

	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			bit = CDC_ACTION_INSERT;
			action = 'I';
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			bit = CDC_ACTION_UPDATE;
			action = 'U';
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			bit = CDC_ACTION_DELETE;
			action = 'D';
			break;
		default:
			elog(ERROR, "unexpected change action %d", (int) change->action);
			return;
	}

	/* cheap filters first: the action, then the table (cached per relation) */
	if ((data->opts.actions & bit) == 0)
		return;
	rel = CdcRelationGet(relation, &data->opts);
	if (!rel->included)
		return;

	old = MemoryContextSwitchTo(data->context);
	WriteRowEvent(ctx, data, rel, relation, change, position, action);
	MemoryContextSwitchTo(old);
	MemoryContextReset(data->context);
}

/* One event per truncated relation, each with its own position. */
static void
cdc_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
			 Relation relations[], ReorderBufferChange *change)
{
	CdcDecoder *data = ctx->output_plugin_private;

	for (int i = 0; i < nrelations; i++)
	{
		uint64		position = ++data->position;
		CdcRelation *rel;

		if ((data->opts.actions & CDC_ACTION_TRUNCATE) == 0)
			continue;
		rel = CdcRelationGet(relations[i], &data->opts);
		if (!rel->included)
			continue;
		BeginTxnEvent(ctx, data, position, 'T', change->lsn);
		appendBinaryStringInfo(ctx->out, rel->names, rel->nameslen);
		appendStringInfoChar(ctx->out, '}');
		OutputPluginWrite(ctx, true);
	}
}

/*
 * A logical message.  Its content is text when it is valid in the database
 * encoding (which excludes NUL bytes), else base64 with
 * "content_encoding":"base64".
 */
static void
cdc_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr lsn,
			bool transactional, const char *prefix, Size size, const char *message)
{
	CdcDecoder *data = ctx->output_plugin_private;
	StringInfo	out = ctx->out;
	uint64		position = transactional ? ++data->position : 0;
	MemoryContext old;

	if (!CdcOptionsPrefixIncluded(&data->opts, prefix))
		return;

	old = MemoryContextSwitchTo(data->context);
	if (transactional)
		BeginTxnEvent(ctx, data, position, 'M', lsn);
	else
	{
		char		num[MAXINT8LEN + 1];

		/*
		 * The id is the LSN where the message's record starts.  The lsn
		 * PostgreSQL gives us (and pg_logical_emit_message returned) is
		 * where it ends, which is also where the next record starts: the
		 * commit record of the enclosing transaction when the message was
		 * the transaction's last record, whose begin would then have the
		 * same id.  A non-transactional message is handed to us while its
		 * own record is being decoded, so the reader is on it.
		 */
		Assert(ctx->reader->ReadRecPtr < lsn);
		OutputPluginPrepareWrite(ctx, true);
		appendStringInfoString(out, "{\"id\":\"");
		appendBinaryStringInfo(out, num, pg_ulltoa_n(ctx->reader->ReadRecPtr, num));
		appendStringInfoString(out, "-0\",\"action\":\"M\",\"lsn\":\"");
		AppendLsn(out, lsn);
		appendStringInfoChar(out, '"');
	}
	appendStringInfoString(out, transactional ? ",\"transactional\":true" : ",\"transactional\":false");
	appendStringInfoString(out, ",\"prefix\":");
	escape_json(out, prefix);
	appendStringInfoString(out, ",\"content\":");
	if (pg_verify_mbstr(GetDatabaseEncoding(), message, (int) size, true))
		escape_json(out, pnstrdup(message, size));
	else
	{
		int			enclen;
		char	   *encoded;
		int			len;

		/* 4 characters per 3 bytes must fit in one allocation */
		if (size > MaxAllocSize / 4 * 3 - 3)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("logical message of %zu bytes with prefix \"%s\" is too large to encode in base64",
							size, prefix)));
		enclen = pg_b64_enc_len((int) size);
		encoded = palloc(enclen + 1);
		len = pg_b64_encode(message, (int) size, encoded, enclen);

		if (len < 0)
			elog(ERROR, "could not encode a logical message in base64");
		appendStringInfoChar(out, '"');
		appendBinaryStringInfo(out, encoded, len);
		appendStringInfoString(out, "\",\"content_encoding\":\"base64\"");
	}
	appendStringInfoChar(out, '}');
	OutputPluginWrite(ctx, true);
	MemoryContextSwitchTo(old);
	MemoryContextReset(data->context);
}
