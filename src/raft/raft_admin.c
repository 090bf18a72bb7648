/*
 * src/raft/raft_admin.c
 *	  The SQL functions that create, join and change a raft group and
 *	  propose replicated commands: raft_bootstrap, raft_join, raft_add_node,
 *	  raft_remove_node, raft_transfer_leadership, raft_set_setting, and the
 *	  trigger that keeps direct writes off the replicated tables.
 *
 * Runs in ordinary backends.  bootstrap and join only write this node's
 * initial state (synchronously) and wake the raft worker once they commit.
 * Everything else is a proposal (raft_propose.c): made on the leader, or
 * forwarded to it from a follower, and returned once applied here.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include <raft.h>

#include "core/guc.h"
#include "raft/raft_call.h"
#include "raft/raft_message.h"
#include "raft/raft_propose.h"
#include "raft/raft_shmem.h"
#include "raft/raft_storage.h"

static bool wake_at_commit = false;
static bool xact_callback_registered = false;

static void
wake_worker_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_at_commit)
		RaftWakeWorker();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		wake_at_commit = false;
}

/* Wake the raft worker once this transaction commits. */
static void
wake_worker_at_commit(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(wake_worker_callback, NULL);
		xact_callback_registered = true;
	}
	wake_at_commit = true;
}

static void
require_node_id(void)
{
	if (geoshard_node_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("geoshard.node_id is not set"),
				 errhint("Give every node of a raft group its own geoshard.node_id in postgresql.conf.")));
}

/* Refuse a second group on a node that has one. */
static void
require_no_group(void)
{
	int			rc = SPI_execute("SELECT (SELECT count(*) FROM geoshard.raft_state) + "
								 "(SELECT count(*) FROM geoshard.raft_log)", true, 0);
	bool		isnull;

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading geoshard.raft_state failed: %s", SPI_result_code_string(rc));
	if (DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node is already in a raft group"),
				 errhint("See geoshard.raft_status; a node belongs to one group at a time.")));
}

/* A conninfo must parse; its text is not repeated (it may hold a password). */
static void
check_conninfo(const char *conninfo)
{
	char	   *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);

	if (opts == NULL)
	{
		char	   *msg = err ? pstrdup(err) : pstrdup("out of memory");

		if (err)
			PQfreemem(err);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid connection string for a raft node"),
				 errdetail("%s", msg)));
	}
	PQconninfoFree(opts);
}

static void
check_name(const char *name)
{
	if (name[0] == '\0' || strlen(name) > NAMEDATALEN - 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid raft node name: \"%s\"", name),
				 errdetail("A node name has 1 to %d bytes.", NAMEDATALEN - 1)));
}

static void
insert_entry(int64 index, const char *type, const char *data, size_t len)
{
	Oid			types[3] = {INT8OID, TEXTOID, BYTEAOID};
	Datum		values[3];
	bytea	   *payload = palloc(VARHDRSZ + len);
	int			rc;

	SET_VARSIZE(payload, VARHDRSZ + len);
	memcpy(VARDATA(payload), data, len);
	values[0] = Int64GetDatum(index);
	values[1] = CStringGetTextDatum(type);
	values[2] = PointerGetDatum(payload);
	rc = SPI_execute_with_args("INSERT INTO geoshard.raft_log (index, term, type, payload) "
							   "VALUES ($1, 1, $2, $3)", 3, types, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "writing geoshard.raft_log failed: %s", SPI_result_code_string(rc));
}

/*
 * raft_bootstrap(name, conninfo): a new group with this node as its only
 * voter.  The C name has our prefix: libraft exports a raft_bootstrap.
 */
PG_FUNCTION_INFO_V1(geoshard_raft_bootstrap);
Datum
geoshard_raft_bootstrap(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *conninfo = text_to_cstring(PG_GETARG_TEXT_PP(1));
	struct raft_configuration conf;
	struct raft_buffer buf;
	StringInfoData cmdbuf;
	RaftCommand cmd;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	pg_uuid_t  *cluster_id;
	int			rc;
	int64		next = 3;
	ListCell   *lc;

	RaftCheckShmem();
	require_node_id();
	check_name(name);
	check_conninfo(conninfo);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	require_no_group();

	/* entry 1: the first configuration, which every member's log starts with */
	raft_configuration_init(&conf);
	if (raft_configuration_add(&conf, (raft_id) geoshard_node_id, conninfo, RAFT_VOTER) != 0 ||
		raft_configuration_encode(&conf, &buf) != 0)
		elog(ERROR, "could not encode the first raft configuration");
	raft_configuration_close(&conf);
	insert_entry(1, "change", buf.base, buf.len);
	raft_free(buf.base);

	/* entry 2: this node's name, for geoshard.nodes */
	cmd.kind = RAFT_CMD_NODE;
	cmd.node_id = (uint64) geoshard_node_id;
	cmd.key = name;
	cmd.value = conninfo;
	initStringInfo(&cmdbuf);
	RaftCommandEncode(&cmdbuf, &cmd);
	insert_entry(2, "command", cmdbuf.data, cmdbuf.len);

	/* then the settings this node had alone: they become the group's */
	rc = SPI_execute("SELECT key, value FROM geoshard.settings ORDER BY key", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading geoshard.settings failed: %s", SPI_result_code_string(rc));
	{
		SPITupleTable *settings = SPI_tuptable;
		uint64		nsettings = SPI_processed;

		for (uint64 i = 0; i < nsettings; i++)
		{
			cmd.kind = RAFT_CMD_SET_SETTING;
			cmd.node_id = 0;
			cmd.key = SPI_getvalue(settings->vals[i], settings->tupdesc, 1);
			cmd.value = SPI_getvalue(settings->vals[i], settings->tupdesc, 2);
			resetStringInfo(&cmdbuf);
			RaftCommandEncode(&cmdbuf, &cmd);
			insert_entry((int64) (3 + i), "command", cmdbuf.data, cmdbuf.len);
		}
		next = 3 + (int64) nsettings;
	}

	/* and so do its regions, fences and shards, as calls of their functions */
	foreach(lc, RaftCallTakeCatalogue())
	{
		StringInfo	call = (StringInfo) lfirst(lc);

		insert_entry(next++, "command", call->data, call->len);
	}

	values[0] = Int64GetDatum(geoshard_node_id);
	rc = SPI_execute_with_args("INSERT INTO geoshard.raft_state (cluster_id, node_id, term) "
							   "VALUES (gen_random_uuid(), $1, 1) RETURNING cluster_id",
							   1, types, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "writing geoshard.raft_state failed: %s", SPI_result_code_string(rc));
	cluster_id = palloc(sizeof(pg_uuid_t));
	memcpy(cluster_id,
		   DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
		   sizeof(pg_uuid_t));
	SPI_finish();

	RaftStorageForceSync();
	wake_worker_at_commit();
	PG_RETURN_UUID_P(cluster_id);
}

/* raft_join(cluster_id): an empty state in that group, for the leader to fill. */
PG_FUNCTION_INFO_V1(raft_join);
Datum
raft_join(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *cluster_id = PG_GETARG_UUID_P(0);
	Oid			types[2] = {UUIDOID, INT8OID};
	Datum		values[2];
	int			rc;

	RaftCheckShmem();
	require_node_id();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	require_no_group();
	rc = SPI_execute("SELECT FROM geoshard.settings LIMIT 1", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading geoshard.settings failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node has settings of its own in geoshard.settings"),
				 errdetail("A joining node receives the group's settings and must have none."),
				 errhint("Delete them (DELETE FROM geoshard.settings) and join again, or set them on the group's leader with geoshard.raft_set_setting().")));
	rc = SPI_execute("SELECT FROM geoshard.regions UNION ALL SELECT FROM geoshard.geo_fences "
					 "UNION ALL SELECT FROM geoshard.shards LIMIT 1", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the catalogue failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node has a catalogue of its own in geoshard.regions, geo_fences or shards"),
				 errdetail("A joining node receives the group's catalogue and must have none."),
				 errhint("Delete those rows and join again, or create them in the group with geoshard.add_region(), add_geo_fence() and add_shard().")));
	values[0] = UUIDPGetDatum(cluster_id);
	values[1] = Int64GetDatum(geoshard_node_id);
	rc = SPI_execute_with_args("INSERT INTO geoshard.raft_state (cluster_id, node_id) VALUES ($1, $2)",
							   2, types, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "writing geoshard.raft_state failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	RaftStorageForceSync();
	wake_worker_at_commit();
	PG_RETURN_VOID();
}

static uint64
propose_command(const RaftCommand *cmd)
{
	StringInfoData buf;

	initStringInfo(&buf);
	RaftCommandEncode(&buf, cmd);
	return RaftProposeCommand(buf.data, (uint32) buf.len);
}

static uint64
get_node_id(FunctionCallInfo fcinfo, int arg)
{
	int64		id = PG_GETARG_INT64(arg);

	if (id <= 0 || id > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("raft node id %lld is out of range", (long long) id),
				 errdetail("A node id is a geoshard.node_id, from 1 to %d.", PG_INT32_MAX)));
	return (uint64) id;
}

/*
 * Wait until the leader has replicated its log up to index to node id.
 * A new node must catch up as a standby before it becomes a voter: a voter
 * with an empty log could leave a small group without a majority.
 */
static void
wait_caught_up(uint64 id, uint64 index, TimestampTz deadline)
{
	for (;;)
	{
		uint64		match = 0;
		bool		leader;

		LWLockAcquire(raft_shared->lock, LW_SHARED);
		leader = raft_shared->state == RAFT_LEADER;
		for (int i = 0; i < raft_shared->npeers; i++)
			if (raft_shared->peers[i].id == id)
				match = raft_shared->peers[i].match_index;
		LWLockRelease(raft_shared->lock);
		if (!leader)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("this node lost the raft leadership while node %llu was catching up",
							(unsigned long long) id),
					 errhint("Node %llu stays a standby: remove it with geoshard.raft_remove_node() on the new leader and add it again.",
							 (unsigned long long) id)));
		if (match >= index)
			return;
		if (TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("raft node %llu did not catch up within %d ms",
							(unsigned long long) id, geoshard_raft_propose_timeout_ms),
					 errdetail("It is a standby: it replicates the log but does not vote."),
					 errhint("Check geoshard.raft_peers and that node %llu can be reached; remove it with geoshard.raft_remove_node() and add it again.",
							 (unsigned long long) id)));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * raft_add_node's steps, on the leader: the node's name, then the node as a
 * standby, then (caught up) its promotion to voter; returns the promotion's
 * index.
 */
uint64
RaftAddNodeOnLeader(uint64 id, const char *name, const char *conninfo, TimestampTz deadline)
{
	RaftCommand cmd;
	StringInfoData buf;
	uint64		added;

	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = RAFT_CMD_NODE;
	cmd.node_id = id;
	cmd.key = (char *) name;
	cmd.value = (char *) conninfo;
	initStringInfo(&buf);
	RaftCommandEncode(&buf, &cmd);
	(void) RaftProposeOnLeader(RAFT_PROPOSE_COMMAND, 0, buf.data, (uint32) buf.len, deadline);
	added = RaftProposeOnLeader(RAFT_PROPOSE_ADD, id, conninfo, (uint32) strlen(conninfo) + 1, deadline);
	wait_caught_up(id, added, deadline);
	return RaftProposeOnLeader(RAFT_PROPOSE_PROMOTE, id, "", 0, deadline);
}

/* raft_add_node(id, name, conninfo): a new voter, through the log, from any member. */
PG_FUNCTION_INFO_V1(raft_add_node);
Datum
raft_add_node(PG_FUNCTION_ARGS)
{
	uint64		id = get_node_id(fcinfo, 0);
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *conninfo = text_to_cstring(PG_GETARG_TEXT_PP(2));

	check_name(name);
	check_conninfo(conninfo);
	PG_RETURN_INT64((int64) RaftProposeAddNode(id, name, conninfo));
}

/* raft_remove_node(id): a member leaves, through the log. */
PG_FUNCTION_INFO_V1(raft_remove_node);
Datum
raft_remove_node(PG_FUNCTION_ARGS)
{
	uint64		id = get_node_id(fcinfo, 0);

	PG_RETURN_INT64((int64) RaftPropose(RAFT_PROPOSE_REMOVE, id, "", 0));
}

/* raft_set_setting(key, value): set or (value NULL) delete a replicated setting. */
PG_FUNCTION_INFO_V1(raft_set_setting);
Datum
raft_set_setting(PG_FUNCTION_ARGS)
{
	RaftCommand cmd;
	char	   *key;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("replicated setting key must not be null")));
	key = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strlen(key) < 1 || strlen(key) > 63 || !(key[0] >= 'a' && key[0] <= 'z') ||
		strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_.") != strlen(key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid replicated setting key: \"%s\"", key),
				 errdetail("A key has 1 to 63 characters: lower-case letters, digits, '_' and '.', starting with a letter.")));
	cmd.node_id = 0;
	cmd.key = key;
	if (PG_ARGISNULL(1))
	{
		cmd.kind = RAFT_CMD_DELETE_SETTING;
		cmd.value = NULL;
	}
	else
	{
		cmd.kind = RAFT_CMD_SET_SETTING;
		cmd.value = text_to_cstring(PG_GETARG_TEXT_PP(1));
		if (strlen(cmd.value) > 4096)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("replicated setting value of %zu bytes exceeds the limit of 4096",
							strlen(cmd.value))));
	}
	PG_RETURN_INT64((int64) propose_command(&cmd));
}

/* raft_transfer_leadership(id): hand the leadership to a voter; returns once it leads. */
PG_FUNCTION_INFO_V1(raft_transfer_leadership);
Datum
raft_transfer_leadership(PG_FUNCTION_ARGS)
{
	uint64		id = get_node_id(fcinfo, 0);

	(void) RaftPropose(RAFT_PROPOSE_TRANSFER, id, "", 0);
	PG_RETURN_VOID();
}

/* The functions that change a replicated table, for the guard's hint. */
static int
guard_hint(const char *table)
{
	if (strcmp(table, "settings") == 0)
		return errhint("Use geoshard.raft_set_setting().");
	if (strcmp(table, "nodes") == 0)
		return errhint("Use geoshard.raft_add_node() and geoshard.raft_remove_node().");
	if (strcmp(table, "regions") == 0)
		return errhint("Use geoshard.add_region(), update_region(), remove_region(), drain_region() or undrain_region().");
	if (strcmp(table, "geo_fences") == 0)
		return errhint("Use geoshard.add_geo_fence() or remove_geo_fence().");
	return errhint("Use geoshard.add_shard(), remove_shard(), split_shard() or merge_shard().");
}

/*
 * raft_guard_dml(): statement trigger on the replicated tables.  On a node
 * in a group only the raft worker, applying committed entries, writes
 * them; a node in no group keeps the tables as plain tables.
 */
PG_FUNCTION_INFO_V1(raft_guard_dml);
Datum
raft_guard_dml(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *table;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("raft_guard_dml() must be called as a trigger")));
	if (RaftWorkerIsApplying() || !RaftStateStored())
		return PointerGetDatum(NULL);

	table = RelationGetRelationName(trigdata->tg_relation);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("table geoshard.%s is replicated by this node's raft group", table),
			 errdetail("Only the raft worker writes it, applying committed log entries."),
			 guard_hint(table)));
	PG_RETURN_NULL();
}
