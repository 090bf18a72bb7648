/*
 * test/fuzz/geoshard_fuzz.c
 *	  Mutation fuzzing of a type's binary input function, from SQL.
 *
 * geoshard_fuzz_raft(seeds, iterations, seed) does the same for the raft
 * message decoder (src/raft/raft_message.c, built into this library too):
 * every batch it accepts must encode back to exactly the same bytes.
 *
 * geoshard_fuzz_recv(type, seeds, iterations, seed) takes valid binary
 * encodings as seeds and, per iteration, mutates one (flipped bits, random
 * bytes, counts and lengths overwritten with edge values, truncation,
 * trailing garbage), then calls the type's receive function on it inside a
 * subtransaction.  Errors are expected and counted as rejections.  Every
 * accepted value must survive output, input and send, and its text and
 * binary forms must round-trip; anything else is reported as an ERROR.  A
 * crash takes the server down, which the calling test notices.  The random
 * generator is PostgreSQL's pg_prng with the given seed, so a failure
 * replays exactly.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "raft/raft_message.h"

PG_MODULE_MAGIC;

/* Values that tend to break length and count checks */
static const int32 edge_values[] = {0, 1, -1, 2, 7, 8, 255, 256, 65535, 65536,
	PG_INT32_MAX, PG_INT32_MIN, PG_INT32_MAX / 8, 1 << 20};

static void
Mutate(pg_prng_state *rng, StringInfo buf)
{
	int			kind = (int) pg_prng_uint64_range(rng, 0, 5);

	switch (kind)
	{
		case 0:					/* flip one bit */
			if (buf->len > 0)
				buf->data[pg_prng_uint64_range(rng, 0, buf->len - 1)] ^= (char) (1 << pg_prng_uint64_range(rng, 0, 7));
			break;
		case 1:					/* overwrite a byte */
			if (buf->len > 0)
				buf->data[pg_prng_uint64_range(rng, 0, buf->len - 1)] = (char) pg_prng_uint32(rng);
			break;
		case 2:					/* an aligned 4-byte field gets an edge value */
			if (buf->len >= 4)
			{
				int			at = (int) pg_prng_uint64_range(rng, 0, (buf->len - 4) / 4) * 4;
				uint32		v = pg_hton32((uint32) edge_values[pg_prng_uint64_range(rng, 0, lengthof(edge_values) - 1)]);

				memcpy(buf->data + at, &v, 4);
			}
			break;
		case 3:					/* truncate */
			if (buf->len > 0)
				buf->len = (int) pg_prng_uint64_range(rng, 0, buf->len - 1);
			break;
		case 4:					/* trailing garbage */
			for (int n = (int) pg_prng_uint64_range(rng, 1, 16); n > 0; n--)
				appendStringInfoChar(buf, (char) pg_prng_uint32(rng));
			break;
		default:				/* several at once */
			for (int n = (int) pg_prng_uint64_range(rng, 2, 4); n > 0; n--)
				Mutate(rng, buf);
			break;
	}
	buf->data[buf->len] = '\0';
}

/* Check that an accepted value round-trips through text and binary. */
static void
CheckRoundTrip(Oid type, Datum value, Oid recv, Oid in, Oid out, Oid send, Oid ioparam)
{
	char	   *text = OidOutputFunctionCall(out, value);
	Datum		again = OidInputFunctionCall(in, text, ioparam, -1);
	char	   *text2 = OidOutputFunctionCall(out, again);
	bytea	   *bin = OidSendFunctionCall(send, value);
	StringInfoData buf;
	Datum		from_bin;
	bytea	   *bin2;

	if (strcmp(text, text2) != 0)
		elog(ERROR, "fuzz: text form of %s does not round-trip: \"%s\" then \"%s\"",
			 format_type_be(type), text, text2);

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA(bin), VARSIZE(bin) - VARHDRSZ);
	from_bin = OidReceiveFunctionCall(recv, &buf, ioparam, -1);
	bin2 = OidSendFunctionCall(send, from_bin);
	if (VARSIZE(bin) != VARSIZE(bin2) || memcmp(bin, bin2, VARSIZE(bin)) != 0)
		elog(ERROR, "fuzz: binary form of %s does not round-trip", format_type_be(type));
}

PG_FUNCTION_INFO_V1(geoshard_fuzz_recv);
Datum
geoshard_fuzz_recv(PG_FUNCTION_ARGS)
{
	Oid			type = PG_GETARG_OID(0);
	ArrayType  *seeds = PG_GETARG_ARRAYTYPE_P(1);
	int32		iterations = PG_GETARG_INT32(2);
	int64		seed = PG_GETARG_INT64(3);
	Datum	   *seed_values;
	bool	   *seed_nulls;
	int			nseeds;
	Oid			recv,
				in,
				out,
				send,
				ioparam;
	pg_prng_state rng;
	int64		accepted = 0;
	int64		rejected = 0;
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "geoshard fuzz",
												  ALLOCSET_DEFAULT_SIZES);
	TupleDesc	tupdesc;
	Datum		result[2];
	bool		nulls[2] = {false, false};

	getTypeBinaryInputInfo(type, &recv, &ioparam);
	getTypeInputInfo(type, &in, &ioparam);
	getTypeOutputInfo(type, &out, &(bool){false});
	getTypeBinaryOutputInfo(type, &send, &(bool){false});
	deconstruct_array(seeds, BYTEAOID, -1, false, TYPALIGN_INT, &seed_values, &seed_nulls, &nseeds);
	if (nseeds == 0)
		elog(ERROR, "fuzz: no seeds");
	pg_prng_seed(&rng, (uint64) seed);

	for (int32 i = 0; i < iterations; i++)
	{
		bytea	   *base = DatumGetByteaPP(seed_values[pg_prng_uint64_range(&rng, 0, nseeds - 1)]);
		StringInfoData buf;
		volatile bool ok = true;

		MemoryContextSwitchTo(scratch);
		initStringInfo(&buf);
		appendBinaryStringInfo(&buf, VARDATA_ANY(base), VARSIZE_ANY_EXHDR(base));
		Mutate(&rng, &buf);

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(scratch);
		PG_TRY();
		{
			Datum		value = OidReceiveFunctionCall(recv, &buf, ioparam, -1);

			/* like COPY, refuse input the function did not consume */
			if (buf.cursor != buf.len)
				ok = false;
			else
				CheckRoundTrip(type, value, recv, in, out, send, ioparam);
			ReleaseCurrentSubTransaction();
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(scratch);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(caller);
			CurrentResourceOwner = owner;
			/* round-trip failures are bugs, not rejections */
			if (strncmp(edata->message, "fuzz:", 5) == 0)
				ereport(ERROR, (errmsg("%s (iteration %d, seed " INT64_FORMAT ")", edata->message, i, seed)));
			ok = false;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		MemoryContextReset(scratch);

		if (ok)
			accepted++;
		else
			rejected++;
		CHECK_FOR_INTERRUPTS();
	}

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	result[0] = Int64GetDatum(accepted);
	result[1] = Int64GetDatum(rejected);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), result, nulls)));
}

/* The entries of the AppendEntries being re-encoded, for RaftMessageEncode. */
static const struct raft_append_entries *fuzz_ae = NULL;

static bool
FuzzEntryLookup(raft_index index, struct raft_entry *entry)
{
	if (fuzz_ae == NULL || index <= fuzz_ae->prev_log_index ||
		index > fuzz_ae->prev_log_index + fuzz_ae->n_entries)
		return false;
	*entry = fuzz_ae->entries[index - fuzz_ae->prev_log_index - 1];
	return true;
}

/* Decode a batch; when accepted, encode it again and demand the same bytes. */
static bool
FuzzRaftOne(const char *data, int len)
{
	RaftEnvelope env;
	struct raft_message *msgs;
	RaftSnapshotChunk *chunks;
	char		error[128];
	StringInfoData again;
	bool		same;

	if (!RaftBatchDecode(data, (size_t) len, &env, &msgs, &chunks, error, sizeof(error)))
		return false;
	initStringInfo(&again);
	RaftEnvelopeBegin(&again, &env);
	for (uint32 i = 0; i < env.count; i++)
	{
		fuzz_ae = msgs[i].type == RAFT_APPEND_ENTRIES ? &msgs[i].append_entries : NULL;
		/* snapshot chunks have their own encoder */
		if (msgs[i].type == RAFT_INSTALL_SNAPSHOT)
			RaftSnapshotChunkEncode(&again, &chunks[i]);
		else if (!RaftMessageEncode(&again, &msgs[i], FuzzEntryLookup))
			elog(ERROR, "fuzz: an accepted raft message of type %d does not encode", msgs[i].type);
		RaftMessageRelease(&msgs[i]);
	}
	fuzz_ae = NULL;
	RaftEnvelopeSetCount(&again, env.count);
	same = again.len == len && memcmp(again.data, data, len) == 0;
	if (!same)
		elog(ERROR, "fuzz: an accepted raft batch of %d bytes encodes back to %d different bytes",
			 len, again.len);
	return true;
}

PG_FUNCTION_INFO_V1(geoshard_fuzz_raft);
Datum
geoshard_fuzz_raft(PG_FUNCTION_ARGS)
{
	ArrayType  *seeds = PG_GETARG_ARRAYTYPE_P(0);
	int32		iterations = PG_GETARG_INT32(1);
	int64		seed = PG_GETARG_INT64(2);
	Datum	   *seed_values;
	bool	   *seed_nulls;
	int			nseeds;
	pg_prng_state rng;
	int64		accepted = 0;
	int64		rejected = 0;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "geoshard fuzz raft",
												  ALLOCSET_DEFAULT_SIZES);
	TupleDesc	tupdesc;
	Datum		result[2];
	bool		nulls[2] = {false, false};

	deconstruct_array(seeds, BYTEAOID, -1, false, TYPALIGN_INT, &seed_values, &seed_nulls, &nseeds);
	if (nseeds == 0)
		elog(ERROR, "fuzz: no seeds");
	pg_prng_seed(&rng, (uint64) seed);

	/* the seeds themselves must be accepted */
	for (int i = 0; i < nseeds; i++)
	{
		bytea	   *b = DatumGetByteaPP(seed_values[i]);

		if (!FuzzRaftOne(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)))
			elog(ERROR, "fuzz: raft seed %d is refused", i + 1);
	}

	for (int32 i = 0; i < iterations; i++)
	{
		bytea	   *base = DatumGetByteaPP(seed_values[pg_prng_uint64_range(&rng, 0, nseeds - 1)]);
		StringInfoData buf;

		MemoryContextSwitchTo(scratch);
		initStringInfo(&buf);
		appendBinaryStringInfo(&buf, VARDATA_ANY(base), VARSIZE_ANY_EXHDR(base));
		Mutate(&rng, &buf);
		if (FuzzRaftOne(buf.data, buf.len))
			accepted++;
		else
			rejected++;
		MemoryContextSwitchTo(caller);
		MemoryContextReset(scratch);
		CHECK_FOR_INTERRUPTS();
	}

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	result[0] = Int64GetDatum(accepted);
	result[1] = Int64GetDatum(rejected);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), result, nulls)));
}
