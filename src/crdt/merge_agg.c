/*
 * src/crdt/merge_agg.c
 *	  crdt_merge_agg for every CRDT type: merge a column in time linear in
 *	  its size (times a log factor), instead of re-copying a growing state
 *	  for every row.
 *
 * crdt_merge_agg(t) is, as in 0.1, the aggregate with crdt_merge as its
 * transition and combine function and t as its state type.  Keeping that
 * definition lets ALTER EXTENSION UPDATE leave the aggregates (and the
 * users' views that call them) alone; the speed comes from here instead.
 * Called as an aggregate's transition function, crdt_merge does not merge:
 * it returns a read-write expanded object (utils/expandeddatum.h) holding a
 * stack of states, each with a level, like a binary counter.  A new row
 * enters at level 0; two states of one level merge into one of the next.
 * Each input takes part in at most log2(rows) merges, each costing the size
 * of its two sides.  The executor keeps a read-write expanded transition
 * value as it is (no copy per row), and flattens it only when the result
 * is used: then the stack, at most log2(rows) states, is folded once.  The
 * merges are commutative and associative, so the shape of the tree does
 * not change the result.
 *
 * 0.1 merged row by row: every row copied the whole accumulated state, so
 * 10,000 one-element sets cost 10,000 copies of up to 10,000 elements.
 *
 * Memory: the object lives in its own context, a child of the aggregate's
 * (as the executor requires to keep it); the states on the stack live
 * there, and a merge runs in a scratch context reset after each.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/expandeddatum.h"
#include "utils/memutils.h"

#include "crdt/crdt.h"

static const PGFunction MergeFns[CRDT_NKINDS] = {
	g_counter_merge, pn_counter_merge, lww_register_merge, or_set_merge, lww_set_merge
};

typedef struct CrdtAggState
{
	ExpandedObjectHeader hdr;
	CrdtKind	kind;
	MemoryContext scratch;		/* a merge's own allocations */
	int			n;				/* states on the stack */
	int			cap;
	struct varlena **states;	/* flat, in hdr.eoh_context */
	int		   *levels;
	struct varlena *folded;		/* the merge of the stack, once asked for */
} CrdtAggState;

static Size CrdtAggFlatSize(ExpandedObjectHeader *eohptr);
static void CrdtAggFlatten(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

static const ExpandedObjectMethods CrdtAggMethods = {
	CrdtAggFlatSize,
	CrdtAggFlatten
};

static CrdtAggState *
AggStateNew(MemoryContext aggcontext, CrdtKind kind)
{
	MemoryContext context = AllocSetContextCreate(aggcontext, "crdt_merge_agg",
												  ALLOCSET_DEFAULT_SIZES);
	CrdtAggState *state = MemoryContextAlloc(context, sizeof(CrdtAggState));

	EOH_init_header(&state->hdr, &CrdtAggMethods, context);
	state->kind = kind;
	state->scratch = AllocSetContextCreate(context, "crdt_merge_agg scratch",
										   ALLOCSET_DEFAULT_SIZES);
	state->n = 0;
	state->cap = 16;
	state->states = MemoryContextAlloc(context, sizeof(struct varlena *) * state->cap);
	state->levels = MemoryContextAlloc(context, sizeof(int) * state->cap);
	state->folded = NULL;
	return state;
}

/* Merge two states in the scratch context; the result is in the object's. */
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
		result = MemoryContextAlloc(state->hdr.eoh_context, VARSIZE(merged));
		memcpy(result, merged, VARSIZE(merged));
	}
	MemoryContextReset(state->scratch);
	if (a != result)
		pfree(a);
	if (b != result)
		pfree(b);
	return result;
}

/* Push a copy of a value (any datum of the type), merging equal levels. */
static void
AggPush(CrdtAggState *state, Datum datum)
{
	MemoryContext old = MemoryContextSwitchTo(state->hdr.eoh_context);
	struct varlena *value = PG_DETOAST_DATUM_COPY(datum);
	int			level = 0;

	MemoryContextSwitchTo(old);
	if (state->folded != NULL)
	{
		/* a window aggregate goes on after a flatten: the fold is stale */
		pfree(state->folded);
		state->folded = NULL;
	}
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

/* Is this datum one of our read-write objects? */
static CrdtAggState *
AggStateOf(Datum datum)
{
	ExpandedObjectHeader *eoh;

	if (!VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(datum)))
		return NULL;
	eoh = DatumGetEOHP(datum);
	return eoh->eoh_methods == &CrdtAggMethods ? (CrdtAggState *) eoh : NULL;
}

/*
 * crdt_merge called as crdt_merge_agg's transition or combine function:
 * add the row's state (argument 1) to the accumulated one (argument 0).
 */
Datum
CrdtMergeAggStep(FunctionCallInfo fcinfo, CrdtKind kind)
{
	MemoryContext aggcontext;
	CrdtAggState *state = NULL;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "crdt_merge_agg step called in non-aggregate context");

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	/* the first state: the executor copies it; no object needed yet */
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));

	state = AggStateOf(PG_GETARG_DATUM(0));
	if (state == NULL)
	{
		state = AggStateNew(aggcontext, kind);
		AggPush(state, PG_GETARG_DATUM(0));
	}
	AggPush(state, PG_GETARG_DATUM(1));
	PG_RETURN_DATUM(EOHPGetRWDatum(&state->hdr));
}

/* Fold the stack once, into the object's context; the stack stays. */
static struct varlena *
AggFold(CrdtAggState *state)
{
	if (state->folded == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(state->hdr.eoh_context);
		Datum		result = PointerGetDatum(state->states[state->n - 1]);

		for (int i = state->n - 2; i >= 0; i--)
			result = DirectFunctionCall2(MergeFns[state->kind],
										 PointerGetDatum(state->states[i]), result);
		/* a merge may return one of its inputs: keep a copy of our own */
		state->folded = PG_DETOAST_DATUM_COPY(result);
		MemoryContextSwitchTo(old);
	}
	return state->folded;
}

static Size
CrdtAggFlatSize(ExpandedObjectHeader *eohptr)
{
	return VARSIZE(AggFold((CrdtAggState *) eohptr));
}

static void
CrdtAggFlatten(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	struct varlena *folded = AggFold((CrdtAggState *) eohptr);

	Assert(allocated_size == VARSIZE(folded));
	memcpy(result, folded, allocated_size);
}
