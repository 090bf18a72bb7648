/*
 * src/raft/raft_snapshot.c
 *	  Snapshots of the replicated tables: what the raft worker writes when
 *	  its applied log grows past geoshard.raft_snapshot_threshold, sends to a
 *	  follower the leader's log no longer reaches, and installs when it
 *	  receives one (docs/raft.md, "Snapshots and log compaction").
 *
 * A snapshot's data is the replicated tables at the applied index, one JSON
 * array of rows (to_jsonb of each row) per table, in a framing that names
 * the tables:
 *
 *     "GSS" version(1) count(4)  count x { name_length(2) name rows_length(4) rows }
 *
 * The tables are RaftReplicatedTables, the one list of them.  An install
 * refuses data whose framing or table list differs from ours, empties the
 * tables in reverse order and fills them in order with
 * jsonb_populate_recordset (so regions come before the fences naming them);
 * no SQL is ever built from the data.  Snapshots are stored in
 * geoshard.raft_snapshots (metadata and libraft's encoding of the
 * configuration) and raft_snapshot_chunks (the data, in pieces), only the
 * newest one kept; raft_state.snapshot_index names it.
 *
 * Runs in the raft worker only, inside the transaction of one unit of work,
 * which the caller makes synchronous (RaftStorageForceSync): storing a
 * snapshot, truncating the log behind it and, for an install, replacing the
 * tables and moving applied_index all commit together or not at all.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "libpq/pqformat.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "raft/raft_message.h"
#include "raft/raft_snapshot.h"
#include "raft/raft_storage.h"

#define RAFT_SNAPSHOT_VERSION 1
#define RAFT_SNAPSHOT_HEADER_BYTES 8

/*
 * The replicated tables, in schema geoshard: everything applying the log
 * writes.  An install fills them in this order and empties them in the
 * reverse one.
 */
const char *const RaftReplicatedTables[] = {
	"settings", "nodes", "regions", "geo_fences", "shards"
};
const int	RaftReplicatedTableCount = lengthof(RaftReplicatedTables);

static void
check(int rc, int expected, const char *what)
{
	if (rc != expected)
		elog(ERROR, "raft snapshot: %s failed: %s", what, SPI_result_code_string(rc));
}

static uint64
get_int8(uint64 row, int col)
{
	bool		isnull;

	return (uint64) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull));
}

static const char *
table_name(int i)
{
	return quote_qualified_identifier("geoshard", RaftReplicatedTables[i]);
}

/* The replicated tables as they are now, in the snapshot format, in cxt. */
char *
RaftSnapshotBuild(uint64 *len, MemoryContext cxt)
{
	StringInfoData buf;
	char	   *out;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, "GSS", 3);
	appendStringInfoChar(&buf, RAFT_SNAPSHOT_VERSION);
	pq_sendint32(&buf, (uint32) RaftReplicatedTableCount);
	for (int i = 0; i < RaftReplicatedTableCount; i++)
	{
		const char *name = RaftReplicatedTables[i];
		bool		isnull;
		text	   *rows;
		Size		rlen;

		/* rows in a fixed order: equal tables give equal snapshots */
		check(SPI_execute(psprintf("SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), "
								   "'[]')::text FROM %s t", table_name(i)),
						  true, 1),
			  SPI_OK_SELECT, "reading a replicated table");
		rows = DatumGetTextPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		rlen = VARSIZE_ANY_EXHDR(rows);
		if ((uint64) buf.len + rlen + strlen(name) + 6 > RAFT_SNAPSHOT_MAX_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("raft snapshot exceeds the limit of %d bytes", RAFT_SNAPSHOT_MAX_BYTES),
					 errdetail("Table %s alone takes %zu bytes.", table_name(i), rlen)));
		pq_sendint16(&buf, (uint16) strlen(name));
		appendBinaryStringInfo(&buf, name, (int) strlen(name));
		pq_sendint32(&buf, (uint32) rlen);
		appendBinaryStringInfo(&buf, VARDATA_ANY(rows), (int) rlen);
	}
	out = MemoryContextAllocHuge(cxt, Max(buf.len, 1));
	memcpy(out, buf.data, buf.len);
	*len = (uint64) buf.len;
	pfree(buf.data);
	return out;
}

/*
 * Walk the framing of data; with rows non-NULL, point rows[i] / rows_len[i]
 * at table i's rows.  False when anything differs from what we write.
 */
static bool
walk(const char *data, uint64 len, const char **rows, uint32 *rows_len)
{
	const uint8 *p = (const uint8 *) data;
	uint64		left = len;
	uint32		count;

	if (len < RAFT_SNAPSHOT_HEADER_BYTES || len > RAFT_SNAPSHOT_MAX_BYTES ||
		memcmp(data, "GSS", 3) != 0 || p[3] != RAFT_SNAPSHOT_VERSION)
		return false;
	memcpy(&count, p + 4, 4);
	count = pg_ntoh32(count);
	if (count != (uint32) RaftReplicatedTableCount)
		return false;
	p += RAFT_SNAPSHOT_HEADER_BYTES;
	left -= RAFT_SNAPSHOT_HEADER_BYTES;
	for (int i = 0; i < RaftReplicatedTableCount; i++)
	{
		const char *name = RaftReplicatedTables[i];
		uint16		nlen;
		uint32		rlen;

		if (left < 2)
			return false;
		nlen = (uint16) ((p[0] << 8) | p[1]);
		p += 2;
		left -= 2;
		if (nlen != strlen(name) || left < nlen || memcmp(p, name, nlen) != 0)
			return false;
		p += nlen;
		left -= nlen;
		if (left < 4)
			return false;
		memcpy(&rlen, p, 4);
		rlen = pg_ntoh32(rlen);
		p += 4;
		left -= 4;
		if (rlen > left || memchr(p, '\0', rlen) != NULL)
			return false;
		if (rows)
		{
			rows[i] = (const char *) p;
			rows_len[i] = rlen;
		}
		p += rlen;
		left -= rlen;
	}
	return left == 0;
}

/* Is data a snapshot in our format, of our tables? */
bool
RaftSnapshotCheck(const char *data, uint64 len)
{
	return walk(data, len, NULL, NULL);
}

/*
 * Store a snapshot as the node's only one, and truncate the stored log
 * before keep_from (0: keep it all).
 */
void
RaftSnapshotStore(const RaftSnapshotMeta *meta, const char *data, uint64 len, uint64 keep_from)
{
	Oid			types[5] = {INT8OID, INT8OID, BYTEAOID, INT8OID, INT8OID};
	Datum		values[5];
	Oid			ctypes[3] = {INT8OID, INT8OID, BYTEAOID};
	SPIPlanPtr	plan;
	bytea	   *conf = palloc(VARHDRSZ + meta->conf_len);

	SET_VARSIZE(conf, VARHDRSZ + meta->conf_len);
	memcpy(VARDATA(conf), meta->conf, meta->conf_len);

	check(SPI_execute("DELETE FROM geoshard.raft_snapshots", false, 0),
		  SPI_OK_DELETE, "dropping the previous snapshot");
	values[0] = Int64GetDatum((int64) meta->index);
	values[1] = Int64GetDatum((int64) meta->term);
	values[2] = PointerGetDatum(conf);
	values[3] = Int64GetDatum((int64) meta->conf_index);
	values[4] = Int64GetDatum((int64) len);
	check(SPI_execute_with_args("INSERT INTO geoshard.raft_snapshots "
								"(index, term, configuration, configuration_index, size, complete) "
								"VALUES ($1, $2, $3, $4, $5, true)",
								5, types, values, NULL, false, 0),
		  SPI_OK_INSERT, "storing a snapshot");

	plan = SPI_prepare("INSERT INTO geoshard.raft_snapshot_chunks (index, \"offset\", data) "
					   "VALUES ($1, $2, $3)", 3, ctypes);
	if (plan == NULL)
		elog(ERROR, "raft snapshot: preparing the chunk insert failed: %s",
			 SPI_result_code_string(SPI_result));
	for (uint64 off = 0; off < len; off += RAFT_SNAPSHOT_CHUNK_BYTES)
	{
		uint32		n = (uint32) Min(len - off, RAFT_SNAPSHOT_CHUNK_BYTES);
		bytea	   *chunk = palloc(VARHDRSZ + n);
		Datum		cvalues[3];

		SET_VARSIZE(chunk, VARHDRSZ + n);
		memcpy(VARDATA(chunk), data + off, n);
		cvalues[0] = Int64GetDatum((int64) meta->index);
		cvalues[1] = Int64GetDatum((int64) off);
		cvalues[2] = PointerGetDatum(chunk);
		check(SPI_execute_plan(plan, cvalues, NULL, false, 0), SPI_OK_INSERT, "storing a snapshot chunk");
		pfree(chunk);
	}
	SPI_freeplan(plan);

	check(SPI_execute_with_args("UPDATE geoshard.raft_state SET snapshot_index = $1, snapshot_term = $2",
								2, types, values, NULL, false, 0),
		  SPI_OK_UPDATE, "saving the snapshot index");
	if (keep_from > 0)
	{
		Oid			ltypes[1] = {INT8OID};
		Datum		lvalues[1] = {Int64GetDatum((int64) keep_from)};

		check(SPI_execute_with_args("DELETE FROM geoshard.raft_log WHERE index < $1",
									1, ltypes, lvalues, NULL, false, 0),
			  SPI_OK_DELETE, "truncating raft_log");
	}
}

/*
 * Install a received snapshot: the replicated tables take its contents, it
 * becomes the stored snapshot, the whole stored log goes (libraft discards
 * its log too) and applied_index moves to the snapshot's index.
 */
void
RaftSnapshotInstall(const RaftSnapshotMeta *meta, const char *data, uint64 len)
{
	const char *rows[lengthof(RaftReplicatedTables)];
	uint32		rows_len[lengthof(RaftReplicatedTables)];

	if (!walk(data, len, rows, rows_len))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("raft snapshot at index %llu is malformed", (unsigned long long) meta->index)));

	/* the guard triggers on the replicated tables let this process through */
	RaftStorageApplying = true;
	for (int i = RaftReplicatedTableCount - 1; i >= 0; i--)
		check(SPI_execute(psprintf("DELETE FROM %s", table_name(i)), false, 0),
			  SPI_OK_DELETE, "emptying a replicated table");
	for (int i = 0; i < RaftReplicatedTableCount; i++)
	{
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {PointerGetDatum(cstring_to_text_with_len(rows[i], (int) rows_len[i]))};
		const char *name = table_name(i);

		check(SPI_execute_with_args(psprintf("INSERT INTO %s OVERRIDING SYSTEM VALUE "
											 "SELECT * FROM jsonb_populate_recordset(NULL::%s, $1::jsonb)",
											 name, name),
									1, types, values, NULL, false, 0),
			  SPI_OK_INSERT, "filling a replicated table");
	}
	RaftStorageApplying = false;

	RaftSnapshotStore(meta, data, len, 0);
	check(SPI_execute("DELETE FROM geoshard.raft_log", false, 0), SPI_OK_DELETE, "discarding raft_log");
	RaftStorageSetApplied(meta->index);
}

/* The stored snapshot's metadata, in cxt; false when there is none. */
bool
RaftSnapshotLoadMeta(RaftSnapshotMeta *meta, MemoryContext cxt)
{
	bool		isnull;
	bytea	   *conf;

	check(SPI_execute("SELECT s.index, s.term, s.configuration_index, s.configuration "
					  "FROM geoshard.raft_snapshots s JOIN geoshard.raft_state r "
					  "ON r.snapshot_index = s.index WHERE s.complete", true, 0),
		  SPI_OK_SELECT, "reading raft_snapshots");
	if (SPI_processed == 0)
		return false;
	meta->index = get_int8(0, 1);
	meta->term = get_int8(0, 2);
	meta->conf_index = get_int8(0, 3);
	conf = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	meta->conf_len = VARSIZE_ANY_EXHDR(conf);
	if (!RaftConfigurationCheck(VARDATA_ANY(conf), meta->conf_len))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("raft snapshot at index %llu has a malformed configuration",
						(unsigned long long) meta->index)));
	meta->conf = MemoryContextAlloc(cxt, meta->conf_len);
	memcpy(meta->conf, VARDATA_ANY(conf), meta->conf_len);
	return true;
}

/* The data of the stored snapshot at index, in cxt. */
char *
RaftSnapshotLoadData(uint64 index, uint64 *len, MemoryContext cxt)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum((int64) index)};
	bool		isnull;
	uint64		size;
	uint64		off = 0;
	char	   *data;

	check(SPI_execute_with_args("SELECT size FROM geoshard.raft_snapshots WHERE index = $1 AND complete",
								1, types, values, NULL, true, 0),
		  SPI_OK_SELECT, "reading raft_snapshots");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("raft snapshot at index %llu is not stored", (unsigned long long) index)));
	size = get_int8(0, 1);
	if (size > RAFT_SNAPSHOT_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("raft snapshot at index %llu claims %llu bytes", (unsigned long long) index,
						(unsigned long long) size)));
	data = MemoryContextAllocHuge(cxt, Max(size, 1));

	check(SPI_execute_with_args("SELECT \"offset\", data FROM geoshard.raft_snapshot_chunks "
								"WHERE index = $1 ORDER BY \"offset\"",
								1, types, values, NULL, true, 0),
		  SPI_OK_SELECT, "reading raft_snapshot_chunks");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		uint64		at = get_int8(i, 1);
		bytea	   *chunk = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		uint64		n = VARSIZE_ANY_EXHDR(chunk);

		if (at != off || n > size - off)
			break;
		memcpy(data + off, VARDATA_ANY(chunk), n);
		off += n;
	}
	if (off != size)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("raft snapshot at index %llu has missing or overlapping chunks",
						(unsigned long long) index)));
	*len = size;
	return data;
}
