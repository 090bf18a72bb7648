/*
 * src/raft/raft_storage.c
 *	  SPI access of the raft worker to geoshard.raft_state, raft_log, nodes
 *	  and settings.
 *
 * Runs in the raft worker only, each call inside the transaction of one
 * unit of work.  Writes that libraft's safety depends on (term, vote,
 * entries) go through transactions that RaftStorageForceSync has made
 * synchronous whatever the session or server default says; the worker
 * sends nothing that depends on a term or vote, and no acknowledgement of
 * entries, before that transaction committed (a leader's own entries travel
 * while it stores them).  Applying a command and moving applied_index happen
 * in one transaction, so each committed entry changes the tables exactly
 * once; that transaction does not wait for its flush (RaftStorageNoSync).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "raft/raft_call.h"
#include "raft/raft_message.h"
#include "raft/raft_storage.h"

/* Force synchronous_commit = on for the current transaction only. */
void
RaftStorageForceSync(void)
{
	(void) set_config_option("synchronous_commit", "on", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * Make the current transaction commit without waiting for its WAL flush:
 * for applying committed entries, which are durable in raft_log already.
 * Its commit record follows the log's in the WAL, so a crash can lose the
 * apply (redone at restart: applied_index moves with it) but never keep it
 * without the entries.
 */
void
RaftStorageNoSync(void)
{
	(void) set_config_option("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

static void
check(int rc, int expected, const char *what)
{
	if (rc != expected)
		elog(ERROR, "raft storage: %s failed: %s", what, SPI_result_code_string(rc));
}

/*
 * The statements of every proposal's path (store the entry, apply it, move
 * applied_index), prepared once per worker: parsing and planning them anew
 * cost more CPU than running them.  The plan cache replans them after DDL.
 */
typedef enum StoragePlan
{
	PLAN_SAVE_HARD_STATE,
	PLAN_TRUNCATE_LOG,
	PLAN_APPEND_LOG,
	PLAN_SET_SETTING,
	PLAN_SET_APPLIED,
	STORAGE_PLANS
} StoragePlan;

static const struct
{
	const char *sql;
	int			nargs;
	Oid			types[4];
}			plan_defs[STORAGE_PLANS] = {
	[PLAN_SAVE_HARD_STATE] = {"UPDATE geoshard.raft_state SET term = $1, voted_for = $2", 2, {INT8OID, INT8OID}},
	[PLAN_TRUNCATE_LOG] = {"DELETE FROM geoshard.raft_log WHERE index >= $1", 1, {INT8OID}},
	[PLAN_APPEND_LOG] = {"INSERT INTO geoshard.raft_log (index, term, type, payload) VALUES ($1, $2, $3, $4)",
	4, {INT8OID, INT8OID, TEXTOID, BYTEAOID}},
	/* a key no catalogue accepts is skipped alike on every node */
	[PLAN_SET_SETTING] = {"INSERT INTO geoshard.settings (key, value, raft_index) "
		"SELECT $1, $2, $3 WHERE $1 ~ '^[a-z][a-z0-9_.]{0,62}$' "
		"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, raft_index = EXCLUDED.raft_index",
	3, {TEXTOID, TEXTOID, INT8OID}},
	[PLAN_SET_APPLIED] = {"UPDATE geoshard.raft_state SET applied_index = $1", 1, {INT8OID}},
};

static SPIPlanPtr plans[STORAGE_PLANS];

/* Run one of the prepared statements; its SPI result code must be expected. */
static void
run_plan(StoragePlan which, Datum *values, int expected, const char *what)
{
	if (plans[which] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(plan_defs[which].sql, plan_defs[which].nargs,
									   (Oid *) plan_defs[which].types);

		if (plan == NULL)
			elog(ERROR, "raft storage: preparing %s failed: %s", what,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "raft storage: keeping the plan for %s failed", what);
		plans[which] = plan;
	}
	check(SPI_execute_plan(plans[which], values, NULL, false, 0), expected, what);
}

const char *
RaftEntryTypeName(enum raft_entry_type type)
{
	switch (type)
	{
		case RAFT_COMMAND:
			return "command";
		case RAFT_BARRIER:
			return "barrier";
		case RAFT_CHANGE:
			return "change";
	}
	return "command";
}

static enum raft_entry_type
entry_type(const char *name)
{
	if (strcmp(name, "barrier") == 0)
		return RAFT_BARRIER;
	if (strcmp(name, "change") == 0)
		return RAFT_CHANGE;
	return RAFT_COMMAND;
}

static uint64
get_int8(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0 : (uint64) DatumGetInt64(d);
}

static bool waiting_for_update_logged = false;

/* true while this process (the raft worker) applies committed entries */
bool		RaftStorageApplying = false;

/*
 * Is this process the raft worker, applying the log (or installing a
 * snapshot)?  The one test that lets writes through to the replicated
 * tables on a node in a group (raft_guard_dml), and that makes the
 * catalogue functions take their single-node path (raft_proposing):
 * RaftStorageApplying is only ever set in the raft worker.
 */
bool
RaftWorkerIsApplying(void)
{
	return RaftStorageApplying;
}

/* Are the raft tables there (the extension may still be at 0.3)? */
bool
RaftStorageExists(void)
{
	Oid			nspid = get_namespace_oid("geoshard", true);
	bool		exists = OidIsValid(nspid) && OidIsValid(get_relname_relid("raft_state", nspid));

	if (!exists && !waiting_for_update_logged)
		ereport(LOG,
				(errmsg("geoshard raft is waiting for ALTER EXTENSION geoshard UPDATE"),
				 errdetail("Table geoshard.raft_state does not exist.")));
	waiting_for_update_logged = !exists;
	return exists;
}

/* This node's hard state; false when it is in no group. */
bool
RaftStorageLoadState(RaftHardState *hs)
{
	bool		isnull;

	check(SPI_execute("SELECT cluster_id, node_id, term, voted_for, applied_index "
					  "FROM geoshard.raft_state", true, 0), SPI_OK_SELECT, "reading raft_state");
	if (SPI_processed == 0)
		return false;
	memcpy(&hs->cluster_id,
		   DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
		   sizeof(pg_uuid_t));
	hs->node_id = get_int8(0, 2);
	hs->term = get_int8(0, 3);
	hs->voted_for = get_int8(0, 4);
	hs->applied_index = get_int8(0, 5);
	return true;
}

/*
 * The stored log, entry *first + i at [i], allocated in cxt.  It starts
 * after the last snapshot's truncation (at 1 without one: *first is then 1
 * for an empty log too) and runs without a gap.
 */
RaftLogEntry *
RaftStorageLoadLog(uint64 *first, uint64 *n, MemoryContext cxt)
{
	RaftLogEntry *entries;

	check(SPI_execute("SELECT index, term, type, payload FROM geoshard.raft_log ORDER BY index",
					  true, 0), SPI_OK_SELECT, "reading raft_log");
	*n = SPI_processed;
	*first = SPI_processed > 0 ? get_int8(0, 1) : 1;
	entries = MemoryContextAllocZero(cxt, sizeof(RaftLogEntry) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		char	   *type = SPI_getvalue(tup, SPI_tuptable->tupdesc, 3);
		bytea	   *payload = DatumGetByteaPP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 4, &isnull));

		if (get_int8(i, 1) != *first + i)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("geoshard.raft_log has a gap before index %llu",
							(unsigned long long) get_int8(i, 1))));
		entries[i].term = get_int8(i, 2);
		entries[i].type = entry_type(type);
		entries[i].len = VARSIZE_ANY_EXHDR(payload);
		entries[i].data = MemoryContextAlloc(cxt, Max(entries[i].len, 1));
		memcpy(entries[i].data, VARDATA_ANY(payload), entries[i].len);
	}
	return entries;
}

void
RaftStorageSaveHardState(uint64 term, uint64 voted_for)
{
	Datum		values[2] = {Int64GetDatum((int64) term), Int64GetDatum((int64) voted_for)};

	run_plan(PLAN_SAVE_HARD_STATE, values, SPI_OK_UPDATE, "saving term and vote");
	if (SPI_processed != 1)
		elog(ERROR, "raft storage: geoshard.raft_state has no row");
}

/*
 * Store entries from index on; overwrite when the log already holds entries
 * there (a follower's conflicting suffix), which are deleted first.
 */
void
RaftStorageAppend(uint64 index, const struct raft_entry *entries, unsigned n, bool overwrite)
{
	if (overwrite)
	{
		Datum		values[1] = {Int64GetDatum((int64) index)};

		run_plan(PLAN_TRUNCATE_LOG, values, SPI_OK_DELETE, "truncating raft_log");
	}
	for (unsigned i = 0; i < n; i++)
	{
		bytea	   *payload = palloc(VARHDRSZ + entries[i].buf.len);
		Datum		values[4];

		SET_VARSIZE(payload, VARHDRSZ + entries[i].buf.len);
		memcpy(VARDATA(payload), entries[i].buf.base, entries[i].buf.len);
		values[0] = Int64GetDatum((int64) (index + i));
		values[1] = Int64GetDatum((int64) entries[i].term);
		values[2] = CStringGetTextDatum(RaftEntryTypeName(entries[i].type));
		values[3] = PointerGetDatum(payload);
		run_plan(PLAN_APPEND_LOG, values, SPI_OK_INSERT, "appending to raft_log");
		pfree(payload);
	}
}

/*
 * Apply one committed command.  A command that does not decode, or that
 * the tables refuse for a reason every node sees alike, is logged and
 * skipped on every node: the tables stay identical.  A call of a catalogue
 * function runs in a subtransaction (raft_call.c), which keeps its error
 * for the proposer.
 */
void
RaftStorageApplyCommand(uint64 index, const char *data, uint32 len)
{
	RaftCommand cmd;

	if (!RaftCommandDecode(data, len, &cmd))
	{
		ereport(LOG,
				(errmsg("geoshard raft skipped malformed command at index %llu",
						(unsigned long long) index)));
		return;
	}
	switch (cmd.kind)
	{
		case RAFT_CMD_CALL:
			RaftCallApply(index, &cmd);
			break;
		case RAFT_CMD_BARRIER:
			break;
		case RAFT_CMD_SET_SETTING:
			{
				Datum		values[3] = {CStringGetTextDatum(cmd.key), CStringGetTextDatum(cmd.value),
				Int64GetDatum((int64) index)};

				run_plan(PLAN_SET_SETTING, values, SPI_OK_INSERT, "applying a setting");
				break;
			}
		case RAFT_CMD_DELETE_SETTING:
			{
				Oid			types[1] = {TEXTOID};
				Datum		values[1] = {CStringGetTextDatum(cmd.key)};

				check(SPI_execute_with_args("DELETE FROM geoshard.settings WHERE key = $1",
											1, types, values, NULL, false, 0),
					  SPI_OK_DELETE, "deleting a setting");
				break;
			}
		case RAFT_CMD_NODE:
			{
				Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
				Datum		values[3] = {Int64GetDatum((int64) cmd.node_id), CStringGetTextDatum(cmd.key),
				CStringGetTextDatum(cmd.value)};

				/* a name another member holds, or an id of zero, is skipped alike everywhere */
				check(SPI_execute_with_args("INSERT INTO geoshard.nodes (id, name, conninfo, role) "
											"SELECT $1, $2, $3, 'spare' WHERE $1 > 0 AND $2 <> '' "
											"AND NOT EXISTS (SELECT FROM geoshard.nodes WHERE name = $2 AND id <> $1) "
											"ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
											"conninfo = EXCLUDED.conninfo",
											3, types, values, NULL, false, 0),
					  SPI_OK_INSERT, "applying a node");
				break;
			}
	}
}

/* Make geoshard.nodes list exactly the members of a committed configuration. */
void
RaftStorageApplyConfiguration(const struct raft_configuration *conf)
{
	Datum	   *ids = palloc(sizeof(Datum) * Max(conf->n, 1));
	ArrayType  *idarray;
	Oid			dtypes[1] = {INT8ARRAYOID};
	Datum		dvalues[1];
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};

	for (unsigned i = 0; i < conf->n; i++)
	{
		const struct raft_server *s = &conf->servers[i];
		const char *role = s->role == RAFT_VOTER ? "voter" : s->role == RAFT_STANDBY ? "standby" : "spare";
		char		name[32];
		Datum		values[3];

		ids[i] = Int64GetDatum((int64) s->id);
		values[0] = Int64GetDatum((int64) s->id);
		values[1] = CStringGetTextDatum(s->address);
		values[2] = CStringGetTextDatum(role);
		check(SPI_execute_with_args("UPDATE geoshard.nodes SET conninfo = $2, role = $3 WHERE id = $1",
									3, types, values, NULL, false, 0),
			  SPI_OK_UPDATE, "updating a member");
		if (SPI_processed == 0)
		{
			Oid			itypes[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
			Datum		ivalues[4];

			snprintf(name, sizeof(name), "node%llu", (unsigned long long) s->id);
			ivalues[0] = values[0];
			ivalues[1] = CStringGetTextDatum(name);
			ivalues[2] = values[1];
			ivalues[3] = values[2];
			/* a member named by no command yet; the name may be taken alike everywhere */
			check(SPI_execute_with_args("INSERT INTO geoshard.nodes (id, name, conninfo, role) "
										"VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
										4, itypes, ivalues, NULL, false, 0),
				  SPI_OK_INSERT, "inserting a member");
			if (SPI_processed == 0)
				ereport(LOG,
						(errmsg("geoshard raft member %llu is not listed in geoshard.nodes: the name \"%s\" is taken",
								(unsigned long long) s->id, name)));
		}
	}
	idarray = construct_array(ids, (int) conf->n, INT8OID, 8, true, TYPALIGN_DOUBLE);
	dvalues[0] = PointerGetDatum(idarray);
	check(SPI_execute_with_args("DELETE FROM geoshard.nodes WHERE id <> ALL ($1)",
								1, dtypes, dvalues, NULL, false, 0),
		  SPI_OK_DELETE, "removing former members");
}

void
RaftStorageSetApplied(uint64 index)
{
	Datum		values[1] = {Int64GetDatum((int64) index)};

	run_plan(PLAN_SET_APPLIED, values, SPI_OK_UPDATE, "saving the applied index");
}
