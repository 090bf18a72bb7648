/*
 * src/raft/raft_call.c
 *	  Replicated calls of the catalogue functions (add_region, split_shard,
 *	  add_shard, ...): what a node in a raft group proposes instead of
 *	  writing geoshard.regions, geo_fences and shards itself, and how every
 *	  node applies it.
 *
 * The log carries the call, not the rows: an id from the fixed list below
 * (never renumbered: ids are stored in logs) and the arguments as text.
 * Each node applies a committed call by running the same SQL function with
 * constant SQL text and the arguments as parameters, in a subtransaction,
 * in the raft worker while RaftWorkerIsApplying() holds, so that the
 * function takes its single-node path.  The function bodies are
 * deterministic given the same tables (no now(), random() or sequences), so
 * an ERROR is the same on every node: the entry is then skipped everywhere
 * alike, and its SQLSTATE and texts are kept in a small ring in shared
 * memory, keyed by log index, for the backend that proposed it.  Errors that
 * depend on the node rather than the tables (out of memory, a lock timeout,
 * a cancel, a deadlock) are not skipped: the worker's transaction fails and
 * the entry is applied again after the worker restarts.
 *
 * Shared memory: one LWLock guards applied, evicted and the ring; the
 * condition variable is broadcast after each applied batch commits.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/guc.h"
#include "raft/raft_call.h"
#include "raft/raft_propose.h"
#include "raft/raft_shmem.h"
#include "raft/raft_storage.h"

/* the extension's quadkey type, resolved when a call is applied */
#define QUADKEYOID_PLACEHOLDER InvalidOid

typedef struct RaftCallDef
{
	uint16		id;				/* stored in log entries: never reuse one */
	const char *name;			/* what the SQL functions propose */
	const char *sql;			/* run on every node to apply it */
	int			nargs;
	Oid			argtypes[RAFT_CALL_MAX_ARGS];	/* InvalidOid: quadkey */
} RaftCallDef;

static const RaftCallDef calls[] = {
	{1, "add_region",
		"SELECT FROM geoshard.add_region($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", 11,
	{TEXTOID, FLOAT8OID, FLOAT8OID, TEXTOID, TEXTOID, FLOAT8OID, FLOAT8OID, FLOAT8OID, BOOLOID, INT4OID, TEXTOID}},
	{2, "update_region",
		"SELECT FROM geoshard.update_region($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", 11,
	{TEXTOID, TEXTOID, FLOAT8OID, FLOAT8OID, TEXTOID, FLOAT8OID, FLOAT8OID, FLOAT8OID, BOOLOID, INT4OID, TEXTOID}},
	{3, "remove_region", "SELECT FROM geoshard.remove_region($1)", 1, {TEXTOID}},
	{4, "drain_region", "SELECT FROM geoshard.drain_region($1)", 1, {TEXTOID}},
	{5, "undrain_region", "SELECT FROM geoshard.undrain_region($1)", 1, {TEXTOID}},
	{6, "add_geo_fence", "SELECT FROM geoshard.add_geo_fence($1, $2, $3)", 3,
	{TEXTOID, TEXTARRAYOID, TEXTARRAYOID}},
	{7, "remove_geo_fence", "SELECT FROM geoshard.remove_geo_fence($1)", 1, {TEXTOID}},
	{8, "split_shard", "SELECT FROM geoshard.split_shard($1)", 1, {QUADKEYOID_PLACEHOLDER}},
	{9, "merge_shard", "SELECT FROM geoshard.merge_shard($1)", 1, {QUADKEYOID_PLACEHOLDER}},
	{10, "add_shard", "SELECT FROM geoshard.add_shard($1, $2)", 2, {QUADKEYOID_PLACEHOLDER, TEXTOID}},
	{11, "remove_shard", "SELECT FROM geoshard.remove_shard($1)", 1, {QUADKEYOID_PLACEHOLDER}},
};

typedef struct RaftCallShared
{
	LWLock	   *lock;
	ConditionVariable applied_cv;	/* broadcast when applied moves */
	uint64		applied;		/* highest index applied and committed */
	uint64		evicted;		/* highest index whose error left the ring */
	int			next;			/* ring slot written next */
	RaftCallError errors[RAFT_CALL_ERRORS];
} RaftCallShared;

static RaftCallShared *call_shared = NULL;

Size
RaftCallShmemSize(void)
{
	return MAXALIGN(sizeof(RaftCallShared));
}

void
RaftCallShmemInit(void *shared, bool found, LWLockPadded *locks)
{
	call_shared = (RaftCallShared *) shared;
	if (!found)
	{
		memset(call_shared, 0, sizeof(RaftCallShared));
		call_shared->lock = &locks[0].lock;
		ConditionVariableInit(&call_shared->applied_cv);
	}
}

static const RaftCallDef *
find_call(uint16 id)
{
	for (int i = 0; i < (int) lengthof(calls); i++)
		if (calls[i].id == id)
			return &calls[i];
	return NULL;
}

/* The id of a replicated function by name, or -1. */
int
RaftCallLookup(const char *name)
{
	for (int i = 0; i < (int) lengthof(calls); i++)
		if (strcmp(calls[i].name, name) == 0)
			return calls[i].id;
	return -1;
}

/* Keep the error of an entry every node refuses (raft worker, before commit). */
static void
remember_error(uint64 index, const ErrorData *edata)
{
	RaftCallError *e = NULL;

	LWLockAcquire(call_shared->lock, LW_EXCLUSIVE);
	/* the worker may apply an entry again after a restart */
	for (int i = 0; i < RAFT_CALL_ERRORS; i++)
		if (call_shared->errors[i].index == index)
			e = &call_shared->errors[i];
	if (e == NULL)
	{
		e = &call_shared->errors[call_shared->next];
		call_shared->next = (call_shared->next + 1) % RAFT_CALL_ERRORS;
		call_shared->evicted = Max(call_shared->evicted, e->index);
	}
	e->index = index;
	e->sqlerrcode = edata->sqlerrcode;
	strlcpy(e->message, edata->message ? edata->message : "", RAFT_CALL_TEXT_BYTES);
	strlcpy(e->detail, edata->detail ? edata->detail : "", RAFT_CALL_TEXT_BYTES);
	strlcpy(e->hint, edata->hint ? edata->hint : "", RAFT_CALL_TEXT_BYTES);
	LWLockRelease(call_shared->lock);
}

/*
 * Is this error a property of the tables and the call (the same on every
 * node), or of this node's situation at the moment?
 */
static bool
error_is_deterministic(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_TRANSACTION_ROLLBACK:	/* deadlock, serialization */
		case ERRCODE_INSUFFICIENT_RESOURCES:	/* memory, disk */
		case ERRCODE_OPERATOR_INTERVENTION: /* cancel, shutdown */
		case ERRCODE_SYSTEM_ERROR:
		case ERRCODE_INTERNAL_ERROR:
		case ERRCODE_CONFIG_FILE_ERROR:
			return false;
		default:
			/* max_stack_depth and lock_timeout differ between nodes */
			return sqlerrcode != ERRCODE_STATEMENT_TOO_COMPLEX &&
				sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE;
	}
}

/* Turn the text arguments into the function's types (may raise). */
static void
convert_args(const RaftCallDef *def, const RaftCommand *cmd, Oid *types, Datum *values, char *nulls)
{
	Oid			quadkey = InvalidOid;

	for (int i = 0; i < def->nargs; i++)
	{
		Oid			type = def->argtypes[i];
		Oid			input;
		Oid			ioparam;

		if (type == QUADKEYOID_PLACEHOLDER)
		{
			if (!OidIsValid(quadkey))
			{
				bool		isnull;

				/* in the extension's schema, whatever the search_path */
				if (SPI_execute("SELECT t.oid FROM pg_catalog.pg_type t "
								"JOIN pg_catalog.pg_extension e ON e.extnamespace = t.typnamespace "
								"WHERE e.extname = 'geoshard' AND t.typname = 'quadkey'",
								true, 1) != SPI_OK_SELECT || SPI_processed != 1)
					elog(ERROR, "type quadkey of extension geoshard not found");
				quadkey = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1, &isnull));
			}
			type = quadkey;
		}
		types[i] = type;
		nulls[i] = cmd->args[i] == NULL ? 'n' : ' ';
		values[i] = (Datum) 0;
		if (cmd->args[i] == NULL)
			continue;
		getTypeInputInfo(type, &input, &ioparam);
		values[i] = OidInputFunctionCall(input, cmd->args[i], ioparam, -1);
	}
}

/*
 * Apply one committed call, in the raft worker, inside the transaction that
 * also moves applied_index.  The worker has SPI connected.
 */
void
RaftCallApply(uint64 index, const RaftCommand *cmd)
{
	const RaftCallDef *def = find_call(cmd->call);
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Oid			types[RAFT_CALL_MAX_ARGS];
	Datum		values[RAFT_CALL_MAX_ARGS];
	char		nulls[RAFT_CALL_MAX_ARGS];

	if (def == NULL || def->nargs != cmd->nargs)
	{
		ErrorData	edata;

		memset(&edata, 0, sizeof(edata));
		edata.sqlerrcode = ERRCODE_FEATURE_NOT_SUPPORTED;
		edata.message = psprintf("unrecognized replicated call %u with %u arguments",
								 cmd->call, cmd->nargs);
		edata.hint = "Every node of a raft group must run the same geoshard version.";
		ereport(LOG,
				(errmsg("geoshard raft skipped the entry at index %llu: %s",
						(unsigned long long) index, edata.message)));
		remember_error(index, &edata);
		return;
	}

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			rc;

		convert_args(def, cmd, types, values, nulls);
		rc = SPI_execute_with_args(def->sql, def->nargs, types, values, nulls, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "applying %s failed: %s", def->name, SPI_result_code_string(rc));
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (!error_is_deterministic(edata->sqlerrcode))
			ReThrowError(edata);
		ereport(LOG,
				(errmsg("geoshard raft entry %llu (%s) was refused, alike on every node: %s",
						(unsigned long long) index, def->name, edata->message)));
		remember_error(index, edata);
	}
	PG_END_TRY();
}

/*
 * The raft worker has committed everything up to index: wake the backends
 * waiting for it.
 */
void
RaftCallApplied(uint64 index)
{
	LWLockAcquire(call_shared->lock, LW_EXCLUSIVE);
	call_shared->applied = Max(call_shared->applied, index);
	LWLockRelease(call_shared->lock);
	ConditionVariableBroadcast(&call_shared->applied_cv);
}

static uint64
applied_here(void)
{
	uint64		applied;

	LWLockAcquire(call_shared->lock, LW_SHARED);
	applied = call_shared->applied;
	LWLockRelease(call_shared->lock);
	/* a snapshot installed by the worker moves only the published index */
	LWLockAcquire(raft_shared->lock, LW_SHARED);
	applied = Max(applied, raft_shared->applied_index);
	LWLockRelease(raft_shared->lock);
	return applied;
}

/* Wait until this node applied the entry at index; false at the deadline. */
bool
RaftCallWaitApplied(uint64 index, TimestampTz deadline)
{
	bool		done;

	RaftCheckShmem();
	ConditionVariablePrepareToSleep(&call_shared->applied_cv);
	for (;;)
	{
		long		remaining;

		done = applied_here() >= index;
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (done || remaining <= 0)
			break;
		/* the worker's status also moves without a broadcast: look again soon */
		(void) ConditionVariableTimedSleep(&call_shared->applied_cv, Min(remaining, 100),
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	return done;
}

/*
 * The outcome of the applied entry at index on this node: false when it
 * is no longer known (more errors since than the ring holds), else true
 * with error->index 0 for success or the error it raised.
 */
bool
RaftCallOutcome(uint64 index, RaftCallError *error)
{
	bool		known = true;

	memset(error, 0, sizeof(RaftCallError));
	if (index == 0)
		return true;			/* no entry: a leadership transfer */
	LWLockAcquire(call_shared->lock, LW_SHARED);
	for (int i = 0; i < RAFT_CALL_ERRORS; i++)
		if (call_shared->errors[i].index == index)
			*error = call_shared->errors[i];
	if (error->index == 0 && index <= call_shared->evicted)
		known = false;
	LWLockRelease(call_shared->lock);
	return known;
}

/* Raise the error an applied entry raised, with its SQLSTATE. */
void
RaftCallRaise(const RaftCallError *error)
{
	ereport(ERROR,
			(errcode(error->sqlerrcode),
			 errmsg("%s", error->message),
			 error->detail[0] ? errdetail("%s", error->detail) : 0,
			 error->hint[0] ? errhint("%s", error->hint) : 0,
			 errcontext("raft log entry %llu, refused alike on every node of the group",
						(unsigned long long) error->index)));
	pg_unreachable();
}

/* One call of the fixed list, encoded, from the text columns of a row. */
static StringInfo
encode_row_call(const char *name, HeapTuple tup, TupleDesc desc, int nargs)
{
	RaftCommand cmd;
	StringInfo	buf = makeStringInfo();

	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = RAFT_CMD_CALL;
	cmd.call = (uint16) RaftCallLookup(name);
	cmd.nargs = (uint16) nargs;
	for (int i = 0; i < nargs; i++)
		cmd.args[i] = SPI_getvalue(tup, desc, i + 1);
	RaftCommandEncode(buf, &cmd);
	return buf;
}

/*
 * raft_bootstrap: the catalogue this node had alone becomes the group's.
 * Returns its rows as encoded calls (regions, then fences, then shards) and
 * empties the tables: the raft worker writes the rows back when it applies
 * these calls, on this node as on every other.  SPI is connected.
 */
List *
RaftCallTakeCatalogue(void)
{
	List	   *calls_out = NIL;
	int			nest = NewGUCNestLevel();
	SPITupleTable *tab;

	/* floats as text that reads back to the same value */
	(void) set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_execute("SELECT id, lat::text, lon::text, name, endpoint, cost::text, capacity::text, "
					"load::text, enabled::text, probe_status::text, probe_body, drained "
					"FROM geoshard.regions ORDER BY id COLLATE \"C\"", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading geoshard.regions failed");
	tab = SPI_tuptable;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		calls_out = lappend(calls_out, encode_row_call("add_region", tab->vals[i], tab->tupdesc, 11));
		if (DatumGetBool(SPI_getbinval(tab->vals[i], tab->tupdesc, 12, &isnull)))
			calls_out = lappend(calls_out, encode_row_call("drain_region", tab->vals[i], tab->tupdesc, 1));
	}
	if (SPI_execute("SELECT name, countries::text, regions::text FROM geoshard.geo_fences "
					"ORDER BY name COLLATE \"C\"", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading geoshard.geo_fences failed");
	tab = SPI_tuptable;
	for (uint64 i = 0; i < SPI_processed; i++)
		calls_out = lappend(calls_out, encode_row_call("add_geo_fence", tab->vals[i], tab->tupdesc, 3));
	if (SPI_execute("SELECT prefix::text, node FROM geoshard.shards ORDER BY prefix", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading geoshard.shards failed");
	tab = SPI_tuptable;
	for (uint64 i = 0; i < SPI_processed; i++)
		calls_out = lappend(calls_out, encode_row_call("add_shard", tab->vals[i], tab->tupdesc, 2));
	AtEOXact_GUC(true, nest);

	if (SPI_execute("DELETE FROM geoshard.geo_fences", false, 0) != SPI_OK_DELETE ||
		SPI_execute("DELETE FROM geoshard.regions", false, 0) != SPI_OK_DELETE ||
		SPI_execute("DELETE FROM geoshard.shards", false, 0) != SPI_OK_DELETE)
		elog(ERROR, "emptying the catalogue for the raft log failed");
	return calls_out;
}

/*
 * raft_proposing(): must a catalogue function propose its change instead of
 * writing the tables?  True on a node in a raft group, except in the raft
 * worker applying the log, where the function writes.
 */
PG_FUNCTION_INFO_V1(raft_proposing);
Datum
raft_proposing(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!RaftWorkerIsApplying() && RaftStateStored());
}

/*
 * raft_propose_call(name, args): propose a call of the fixed list through
 * the log (forwarded to the leader from a follower); returns once it is
 * applied on this node, with its index, or raises the error its apply
 * raised on every node.
 */
PG_FUNCTION_INFO_V1(raft_propose_call);
Datum
raft_propose_call(PG_FUNCTION_ARGS)
{
	char	   *name;
	ArrayType  *array;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	int			id;
	RaftCommand cmd;
	StringInfoData buf;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("replicated call name and arguments must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	array = PG_GETARG_ARRAYTYPE_P(1);
	id = RaftCallLookup(name);
	if (id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized replicated call: \"%s\"", name)));
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("replicated call arguments must be a one-dimensional array")));
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &nelems);
	if (nelems != find_call((uint16) id)->nargs)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("replicated call \"%s\" takes %d arguments, not %d",
						name, find_call((uint16) id)->nargs, nelems)));

	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = RAFT_CMD_CALL;
	cmd.call = (uint16) id;
	cmd.nargs = (uint16) nelems;
	for (int i = 0; i < nelems; i++)
		cmd.args[i] = elem_nulls[i] ? NULL : TextDatumGetCString(elems[i]);
	initStringInfo(&buf);
	RaftCommandEncode(&buf, &cmd);
	PG_RETURN_INT64((int64) RaftProposeCommand(buf.data, (uint32) buf.len));
}

/*
 * raft_barrier(): an empty entry through the log (forwarded to the leader
 * from a follower); once it is applied here, this node has applied
 * everything the leader had committed when it was called.  The C name has
 * our prefix: libraft exports a raft_barrier.
 */
PG_FUNCTION_INFO_V1(geoshard_raft_barrier);
Datum
geoshard_raft_barrier(PG_FUNCTION_ARGS)
{
	RaftCommand cmd;
	StringInfoData buf;

	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = RAFT_CMD_BARRIER;
	initStringInfo(&buf);
	RaftCommandEncode(&buf, &cmd);
	PG_RETURN_INT64((int64) RaftProposeCommand(buf.data, (uint32) buf.len));
}
