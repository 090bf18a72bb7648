/*
 * src/crdt/crdt_ops.c
 *	  Equality and hashing of CRDT states (g_counter, pn_counter,
 *	  lww_register, or_set, lww_set), for =, <>, DISTINCT, GROUP BY and hash
 *	  joins.
 *
 * Two states are equal when they are the same state: the same counts per
 * node, the same stamps, the same dots and context, byte for byte.  Every
 * way of building a state (text or binary input, mutators, merges) writes
 * its canonical form (sorted entries, zeroed padding), so comparing the
 * detoasted bytes is exact, and hashing them agrees with it.  States with
 * the same crdt_value can still differ (an or_set that saw a removal, a
 * register written at another time); compare crdt_value for that.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"

#include "crdt/crdt.h"

static bool
StatesEqual(FunctionCallInfo fcinfo)
{
	struct varlena *a = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	struct varlena *b = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(1));
	Size		alen = VARSIZE_ANY_EXHDR(a);
	bool		result;

	/* packed (short-header) datums carry unaligned data: compare payloads */
	result = alen == VARSIZE_ANY_EXHDR(b) && memcmp(VARDATA_ANY(a), VARDATA_ANY(b), alen) == 0;
	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	return result;
}

/* crdt_state_eq(t, t): the = of every CRDT type */
PG_FUNCTION_INFO_V1(crdt_state_eq);
Datum
crdt_state_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(StatesEqual(fcinfo));
}

/* crdt_state_ne(t, t): the <> of every CRDT type */
PG_FUNCTION_INFO_V1(crdt_state_ne);
Datum
crdt_state_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!StatesEqual(fcinfo));
}

/* crdt_state_hash(t): hash opclass support, agreeing with = */
PG_FUNCTION_INFO_V1(crdt_state_hash);
Datum
crdt_state_hash(PG_FUNCTION_ARGS)
{
	struct varlena *a = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	Datum		result = hash_any((unsigned char *) VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a));

	PG_FREE_IF_COPY(a, 0);
	return result;
}

/* crdt_state_hash_extended(t, int8) */
PG_FUNCTION_INFO_V1(crdt_state_hash_extended);
Datum
crdt_state_hash_extended(PG_FUNCTION_ARGS)
{
	struct varlena *a = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	Datum		result = hash_any_extended((unsigned char *) VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
										   PG_GETARG_INT64(1));

	PG_FREE_IF_COPY(a, 0);
	return result;
}
