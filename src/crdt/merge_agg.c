/*
 * src/crdt/merge_agg.c
 *	  crdt_merge_agg for every CRDT type: merge a column in time linear in
 *	  its size (times a log factor), instead of re-copying a growing state
 *	  for every row.
 *
 * 0.1 used crdt_merge itself as the transition function, so every row
 * copied the whole accumulated state: 10,000 one-element sets cost 10,000
 * copies of up to 10,000 elements.  Here the transition state is internal:
 * a stack of states, each with a level, like a binary counter.  A new row
 * enters at level 0; two states of one level merge into one of the next.
 * Each input takes part in at most log2(rows) merges, each merge costs the
 * size of its two sides, and the final function folds what is left on the
 * stack (at most log2(rows) states) without changing it.  The merges are
 * commutative and associative, so the shape of the tree does not change the
 * result.
 *
 * Memory: the states on the stack live in the aggregate's context; a merge
 * runs in a scratch context (reset after each), and its result is copied
 * out, so the garbage of merges never piles up.  For parallel aggregation
 * the state is serialised as one folded state after a byte naming its type.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "crdt/crdt.h"

/* The types, in the order of MergeFns; the number is the serialised tag. */
typedef enum CrdtKind
{
	CRDT_G_COUNTER,
	CRDT_PN_COUNTER,
	CRDT_LWW_REGISTER,
	CRDT_OR_SET,
	CRDT_LWW_SET,
	CRDT_NKINDS
} CrdtKind;

static const PGFunction MergeFns[CRDT_NKINDS] = {
	g_counter_merge, pn_counter_merge, lww_register_merge, or_set_merge, lww_set_merge
};

typedef struct CrdtAggState
{
	CrdtKind	kind;
	MemoryContext context;		/* the aggregate's: stack and states */
	MemoryContext scratch;		/* a merge's own allocations */
	int			n;				/* states on the stack */
	int			cap;
	struct varlena **states;	/* detoasted, in context */
	int		   *levels;
} CrdtAggState;

static MemoryContext
AggContext(FunctionCallInfo fcinfo)
{
	MemoryContext context;

	if (!AggCheckCallContext(fcinfo, &context))
		elog(ERROR, "crdt_merge_agg support function called in non-aggregate context");
	return context;
}

static CrdtAggState *
AggStateNew(MemoryContext context, CrdtKind kind)
{
	CrdtAggState *state = MemoryContextAlloc(context, sizeof(CrdtAggState));

	state->kind = kind;
	state->context = context;
	state->scratch = AllocSetContextCreate(context, "crdt_merge_agg scratch", ALLOCSET_DEFAULT_SIZES);
	state->n = 0;
	state->cap = 16;
	state->states = MemoryContextAlloc(context, sizeof(struct varlena *) * state->cap);
	state->levels = MemoryContextAlloc(context, sizeof(int) * state->cap);
	return state;
}

/* Merge two states in the scratch context; the result is in state->context. */
static struct varlena *
MergeTwo(CrdtAggState *state, struct varlena *a, struct varlena *b)
{
	MemoryContext old = MemoryContextSwitchTo(state->scratch);
	struct varlena *merged;
	struct varlena *result;

	merged = (struct varlena *) DatumGetPointer(DirectFunctionCall2(MergeFns[state->kind],
																	PointerGetDatum(a),
																	PointerGetDatum(b)));
	MemoryContextSwitchTo(old);
	if (merged == a || merged == b)
		result = merged;
	else
	{
		result = MemoryContextAlloc(state->context, VARSIZE(merged));
		memcpy(result, merged, VARSIZE(merged));
	}
	MemoryContextReset(state->scratch);
	if (a != result)
		pfree(a);
	if (b != result)
		pfree(b);
	return result;
}

/* Push a state owned by state->context, merging equal levels. */
static void
AggPush(CrdtAggState *state, struct varlena *value, int level)
{
	while (state->n > 0 && state->levels[state->n - 1] == level)
	{
		value = MergeTwo(state, state->states[state->n - 1], value);
		level++;
		state->n--;
	}
	if (state->n == state->cap)
	{
		state->cap *= 2;
		state->states = repalloc(state->states, sizeof(struct varlena *) * state->cap);
		state->levels = repalloc(state->levels, sizeof(int) * state->cap);
	}
	state->states[state->n] = value;
	state->levels[state->n] = level;
	state->n++;
}

/* Fold the stack into one new state in the current context; the stack stays. */
static struct varlena *
AggFold(CrdtAggState *state)
{
	Datum		result = PointerGetDatum(state->states[state->n - 1]);

	for (int i = state->n - 2; i >= 0; i--)
		result = DirectFunctionCall2(MergeFns[state->kind], PointerGetDatum(state->states[i]), result);
	return (struct varlena *) DatumGetPointer(result);
}

static Datum
AggTrans(FunctionCallInfo fcinfo, CrdtKind kind)
{
	MemoryContext context = AggContext(fcinfo);
	CrdtAggState *state = PG_ARGISNULL(0) ? NULL : (CrdtAggState *) PG_GETARG_POINTER(0);
	MemoryContext old;
	struct varlena *value;

	if (PG_ARGISNULL(1))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}
	if (state == NULL)
		state = AggStateNew(context, kind);
	old = MemoryContextSwitchTo(context);
	value = PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(1));
	MemoryContextSwitchTo(old);
	AggPush(state, value, 0);
	PG_RETURN_POINTER(state);
}

/* crdt_merge_agg_trans(internal, g_counter) */
PG_FUNCTION_INFO_V1(g_counter_agg_trans);
Datum
g_counter_agg_trans(PG_FUNCTION_ARGS)
{
	return AggTrans(fcinfo, CRDT_G_COUNTER);
}

/* crdt_merge_agg_trans(internal, pn_counter) */
PG_FUNCTION_INFO_V1(pn_counter_agg_trans);
Datum
pn_counter_agg_trans(PG_FUNCTION_ARGS)
{
	return AggTrans(fcinfo, CRDT_PN_COUNTER);
}

/* crdt_merge_agg_trans(internal, lww_register) */
PG_FUNCTION_INFO_V1(lww_register_agg_trans);
Datum
lww_register_agg_trans(PG_FUNCTION_ARGS)
{
	return AggTrans(fcinfo, CRDT_LWW_REGISTER);
}

/* crdt_merge_agg_trans(internal, or_set) */
PG_FUNCTION_INFO_V1(or_set_agg_trans);
Datum
or_set_agg_trans(PG_FUNCTION_ARGS)
{
	return AggTrans(fcinfo, CRDT_OR_SET);
}

/* crdt_merge_agg_trans(internal, lww_set) */
PG_FUNCTION_INFO_V1(lww_set_agg_trans);
Datum
lww_set_agg_trans(PG_FUNCTION_ARGS)
{
	return AggTrans(fcinfo, CRDT_LWW_SET);
}

/* crdt_merge_agg_final(internal, t): the merge of every state; NULL if none */
PG_FUNCTION_INFO_V1(crdt_merge_agg_final);
Datum
crdt_merge_agg_final(PG_FUNCTION_ARGS)
{
	CrdtAggState *state;
	struct varlena *result;
	struct varlena *copy;

	AggContext(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (CrdtAggState *) PG_GETARG_POINTER(0);
	if (state->n == 0)
		PG_RETURN_NULL();

	/* a copy: the result must not point into the state, which lives on */
	result = AggFold(state);
	copy = palloc(VARSIZE(result));
	memcpy(copy, result, VARSIZE(result));
	PG_RETURN_POINTER(copy);
}

/* crdt_merge_agg_combine(internal, internal): state2's states join state1's */
PG_FUNCTION_INFO_V1(crdt_merge_agg_combine);
Datum
crdt_merge_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext context = AggContext(fcinfo);
	CrdtAggState *state1 = PG_ARGISNULL(0) ? NULL : (CrdtAggState *) PG_GETARG_POINTER(0);
	CrdtAggState *state2 = PG_ARGISNULL(1) ? NULL : (CrdtAggState *) PG_GETARG_POINTER(1);

	if (state2 == NULL || state2->n == 0)
	{
		if (state1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state1);
	}
	if (state1 == NULL)
		state1 = AggStateNew(context, state2->kind);
	else if (state1->kind != state2->kind)
		elog(ERROR, "crdt_merge_agg cannot combine states of different types");

	for (int i = 0; i < state2->n; i++)
	{
		struct varlena *copy = MemoryContextAlloc(context, VARSIZE(state2->states[i]));

		memcpy(copy, state2->states[i], VARSIZE(state2->states[i]));
		AggPush(state1, copy, state2->levels[i]);
	}
	PG_RETURN_POINTER(state1);
}

/* crdt_merge_agg_serial(internal) -> bytea: the type's tag, then the folded state */
PG_FUNCTION_INFO_V1(crdt_merge_agg_serial);
Datum
crdt_merge_agg_serial(PG_FUNCTION_ARGS)
{
	CrdtAggState *state = (CrdtAggState *) PG_GETARG_POINTER(0);
	struct varlena *folded;
	bytea	   *result;
	Size		size;

	AggContext(fcinfo);
	if (state->n == 0)
		elog(ERROR, "crdt_merge_agg state is empty");
	folded = AggFold(state);
	size = add_size(VARHDRSZ + 1, VARSIZE(folded));
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("crdt_merge_agg state is too large to pass between parallel workers (%zu bytes)", size)));
	result = palloc(size);
	SET_VARSIZE(result, size);
	VARDATA(result)[0] = (char) state->kind;
	memcpy(VARDATA(result) + 1, folded, VARSIZE(folded));
	PG_RETURN_BYTEA_P(result);
}

/* crdt_merge_agg_deserial(bytea, internal) -> internal */
PG_FUNCTION_INFO_V1(crdt_merge_agg_deserial);
Datum
crdt_merge_agg_deserial(PG_FUNCTION_ARGS)
{
	MemoryContext context = AggContext(fcinfo);
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	Size		len = VARSIZE_ANY_EXHDR(data);
	const char *p = VARDATA_ANY(data);
	CrdtAggState *state;
	struct varlena *value;

	if (len < 1 + VARHDRSZ || (uint8) p[0] >= CRDT_NKINDS)
		elog(ERROR, "invalid crdt_merge_agg state");
	state = AggStateNew(context, (CrdtKind) p[0]);
	value = MemoryContextAlloc(context, len - 1);
	memcpy(value, p + 1, len - 1);
	if (VARSIZE(value) != len - 1)
		elog(ERROR, "invalid crdt_merge_agg state");
	AggPush(state, value, 0);
	PG_RETURN_POINTER(state);
}
