/*
 * src/crdt/counter.c
 *	  The state-based counters g_counter (grow-only) and pn_counter
 *	  (increments and decrements).
 *
 * Both keep one entry per node that changed them, sorted by node id: a
 * G-counter one count per node, a PN-counter two (increments, decrements).
 * A node only ever raises its own counts, so the merge takes the per-node
 * maximum of each count, which is commutative, associative and idempotent;
 * the value is the sum of increments minus the sum of decrements.
 *
 * Layout (varlena, 8-byte aligned):
 *	 int32 vl_len_, int32 nnodes,
 *	 int64 data[nnodes * (1 + width)]: node id, then width counts
 * with width 1 for g_counter and 2 for pn_counter.  Text form:
 * {"1":5,"2":3} and {"1":[5,2],"2":[0,3]}; '{}' is empty.
 */
#include "postgres.h"

#include "common/int.h"
#include "common/int128.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "crdt/crdt.h"

typedef struct Counter
{
	int32		vl_len_;
	int32		nnodes;
	int64		data[FLEXIBLE_ARRAY_MEMBER];
} Counter;

#define G_WIDTH		1
#define PN_WIDTH	2

#define CounterStride(width)	(1 + (width))
#define CounterNode(c, i, width)	((c)->data[(i) * CounterStride(width)])
#define CounterCounts(c, i, width)	(&(c)->data[(i) * CounterStride(width) + 1])

#define DatumGetCounterP(X)		((Counter *) PG_DETOAST_DATUM(X))
#define PG_GETARG_COUNTER_P(n)	DatumGetCounterP(PG_GETARG_DATUM(n))

static const char *
CounterTypeName(int width)
{
	return width == G_WIDTH ? "g_counter" : "pn_counter";
}

/* Allocate a counter for up to nnodes entries, refusing impossible sizes. */
static Counter *
CounterAlloc(int64 nnodes, int width)
{
	Size		size;
	Counter    *result;

	if (nnodes > (int64) ((MaxAllocSize - offsetof(Counter, data)) /
						  (sizeof(int64) * CounterStride(width))))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s would have too many nodes (" INT64_FORMAT ")",
						CounterTypeName(width), nnodes)));

	size = offsetof(Counter, data) + sizeof(int64) * CounterStride(width) * nnodes;
	result = palloc(size);
	SET_VARSIZE(result, size);
	result->nnodes = (int32) nnodes;
	return result;
}

/* Shrink the recorded size to nnodes entries (the memory stays). */
static void
CounterSetLength(Counter *c, int nnodes, int width)
{
	c->nnodes = nnodes;
	SET_VARSIZE(c, offsetof(Counter, data) + sizeof(int64) * CounterStride(width) * nnodes);
}

static int
CompareNodeEntries(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

static Counter *
CounterIn(char *str, int width)
{
	CrdtReader	reader;
	int			capacity = 8;
	int			n = 0;
	int64	   *entries;
	Counter    *result;

	CrdtReaderInit(&reader, str, CounterTypeName(width));
	entries = palloc(sizeof(int64) * CounterStride(width) * capacity);

	CrdtExpect(&reader, JSON_TOKEN_OBJECT_START);
	if (CrdtFirstKey(&reader))
	{
		for (;;)
		{
			if (n == capacity)
			{
				capacity *= 2;
				entries = repalloc_huge(entries, mul_size(sizeof(int64) * CounterStride(width), capacity));
			}
			entries[n * CounterStride(width)] = CrdtTokenNode(&reader);
			CrdtExpect(&reader, JSON_TOKEN_COLON);
			if (width == G_WIDTH)
				entries[n * CounterStride(width) + 1] = CrdtReadCount(&reader);
			else
			{
				CrdtExpect(&reader, JSON_TOKEN_ARRAY_START);
				entries[n * CounterStride(width) + 1] = CrdtReadCount(&reader);
				CrdtExpect(&reader, JSON_TOKEN_COMMA);
				entries[n * CounterStride(width) + 2] = CrdtReadCount(&reader);
				CrdtExpect(&reader, JSON_TOKEN_ARRAY_END);
			}
			n++;
			if (!CrdtNextKey(&reader))
				break;
		}
	}
	CrdtExpectEnd(&reader);

	qsort(entries, n, sizeof(int64) * CounterStride(width), CompareNodeEntries);
	for (int i = 1; i < n; i++)
		if (entries[i * CounterStride(width)] == entries[(i - 1) * CounterStride(width)])
			CrdtInvalid(&reader, psprintf("Node %d appears more than once.",
										  (int) entries[i * CounterStride(width)]));

	result = CounterAlloc(n, width);
	memcpy(result->data, entries, sizeof(int64) * CounterStride(width) * n);
	return result;
}

static char *
CounterOut(Counter *c, int width)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < c->nnodes; i++)
	{
		int64	   *counts = CounterCounts(c, i, width);

		if (i > 0)
			appendStringInfoChar(&buf, ',');
		if (width == G_WIDTH)
			appendStringInfo(&buf, "\"%d\":" INT64_FORMAT, (int) CounterNode(c, i, width), counts[0]);
		else
			appendStringInfo(&buf, "\"%d\":[" INT64_FORMAT "," INT64_FORMAT "]",
							 (int) CounterNode(c, i, width), counts[0], counts[1]);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* Binary: int32 nnodes, then per node int32 id and width int64 counts. */
static Counter *
CounterRecv(StringInfo buf, int width)
{
	const char *type = CounterTypeName(width);
	int			n = CrdtRecvCount(buf, sizeof(int32) + sizeof(int64) * width, type);
	Counter    *result = CounterAlloc(n, width);

	for (int i = 0; i < n; i++)
	{
		int64		node = pq_getmsgint(buf, 4);
		int64	   *counts = CounterCounts(result, i, width);

		CrdtCheckNode(node, true);
		if (i > 0 && node <= CounterNode(result, i - 1, width))
			CrdtInvalidBinary(type, psprintf("Node %d is out of order or repeated.", (int) node));
		CounterNode(result, i, width) = node;
		for (int k = 0; k < width; k++)
		{
			counts[k] = pq_getmsgint64(buf);
			if (counts[k] < 0)
				CrdtInvalidBinary(type, psprintf("Negative count " INT64_FORMAT " for node %d.",
												 counts[k], (int) node));
		}
	}
	return result;
}

static bytea *
CounterSend(Counter *c, int width)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, c->nnodes);
	for (int i = 0; i < c->nnodes; i++)
	{
		pq_sendint32(&buf, (int32) CounterNode(c, i, width));
		for (int k = 0; k < width; k++)
			pq_sendint64(&buf, CounterCounts(c, i, width)[k]);
	}
	return pq_endtypsend(&buf);
}

/* Per-node maximum of every count: one pass over both sorted arrays. */
static Counter *
CounterMerge(Counter *a, Counter *b, int width)
{
	Counter    *result = CounterAlloc((int64) a->nnodes + b->nnodes, width);
	int			i = 0,
				j = 0,
				n = 0;
	Size		entry = sizeof(int64) * CounterStride(width);

	while (i < a->nnodes || j < b->nnodes)
	{
		int64	   *out = &result->data[n * CounterStride(width)];

		if (j >= b->nnodes || (i < a->nnodes && CounterNode(a, i, width) < CounterNode(b, j, width)))
			memcpy(out, &a->data[i++ * CounterStride(width)], entry);
		else if (i >= a->nnodes || CounterNode(b, j, width) < CounterNode(a, i, width))
			memcpy(out, &b->data[j++ * CounterStride(width)], entry);
		else
		{
			out[0] = CounterNode(a, i, width);
			for (int k = 0; k < width; k++)
				out[1 + k] = Max(CounterCounts(a, i, width)[k], CounterCounts(b, j, width)[k]);
			i++;
			j++;
		}
		n++;
	}
	CounterSetLength(result, n, width);
	return result;
}

/* Add delta to count k of this node's entry, in a new copy of c. */
static Counter *
CounterBump(Counter *c, int k, int64 delta, int width)
{
	int32		node = CrdtNodeId();
	int			lo = 0,
				hi = c->nnodes;
	Counter    *result;
	int64	   *counts;

	/* a change of nothing leaves no trace */
	if (delta == 0)
		return c;

	/* find this node's entry, or where it belongs */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (CounterNode(c, mid, width) < node)
			lo = mid + 1;
		else
			hi = mid;
	}

	if (lo < c->nnodes && CounterNode(c, lo, width) == node)
	{
		result = CounterAlloc(c->nnodes, width);
		memcpy(result->data, c->data, sizeof(int64) * CounterStride(width) * c->nnodes);
	}
	else
	{
		/* open a zeroed entry for this node at position lo */
		Size		entry = sizeof(int64) * CounterStride(width);

		result = CounterAlloc((int64) c->nnodes + 1, width);
		memcpy(result->data, c->data, entry * lo);
		memcpy(&result->data[(lo + 1) * CounterStride(width)], &c->data[lo * CounterStride(width)],
			   entry * (c->nnodes - lo));
		memset(&result->data[lo * CounterStride(width)], 0, entry);
		CounterNode(result, lo, width) = node;
	}

	counts = CounterCounts(result, lo, width);
	if (pg_add_s64_overflow(counts[k], delta, &counts[k]))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s count of node %d is out of range", CounterTypeName(width), node)));
	return result;
}

/* Sum of count k over all nodes, as a 128-bit integer. */
static INT128
CounterSum(Counter *c, int k, int width)
{
	INT128		sum = int64_to_int128(0);

	for (int i = 0; i < c->nnodes; i++)
		int128_add_int64(&sum, CounterCounts(c, i, width)[k]);
	return sum;
}

static int64
CounterValue(Counter *c, int width)
{
	INT128		total = CounterSum(c, 0, width);

	/* subtract the decrements */
	if (width == PN_WIDTH)
		for (int i = 0; i < c->nnodes; i++)
			int128_add_int64_mul_int64(&total, -1, CounterCounts(c, i, width)[1]);

	if (int128_compare(total, int64_to_int128(PG_INT64_MAX)) > 0 ||
		int128_compare(total, int64_to_int128(PG_INT64_MIN)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s value is out of range for type bigint", CounterTypeName(width))));
	return int128_to_int64(total);
}

/* Merge with NULL meaning "no state yet" on either side. */
static Datum
CounterMergeNullable(FunctionCallInfo fcinfo, int width)
{
	CRDT_MERGE_NULL_SIDES();
	PG_RETURN_POINTER(CounterMerge(PG_GETARG_COUNTER_P(0), PG_GETARG_COUNTER_P(1), width));
}

/* g_counter_in */
PG_FUNCTION_INFO_V1(g_counter_in);
Datum
g_counter_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(CounterIn(PG_GETARG_CSTRING(0), G_WIDTH));
}

/* g_counter_out */
PG_FUNCTION_INFO_V1(g_counter_out);
Datum
g_counter_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(CounterOut(PG_GETARG_COUNTER_P(0), G_WIDTH));
}

/* g_counter_recv */
PG_FUNCTION_INFO_V1(g_counter_recv);
Datum
g_counter_recv(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(CounterRecv((StringInfo) PG_GETARG_POINTER(0), G_WIDTH));
}

/* g_counter_send */
PG_FUNCTION_INFO_V1(g_counter_send);
Datum
g_counter_send(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(CounterSend(PG_GETARG_COUNTER_P(0), G_WIDTH));
}

/* crdt_merge(g_counter, g_counter) */
PG_FUNCTION_INFO_V1(g_counter_merge);
Datum
g_counter_merge(PG_FUNCTION_ARGS)
{
	CRDT_MERGE_AGG_STEP(CRDT_G_COUNTER);
	return CounterMergeNullable(fcinfo, G_WIDTH);
}

/* crdt_value(g_counter) -> bigint */
PG_FUNCTION_INFO_V1(g_counter_value);
Datum
g_counter_value(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(CounterValue(PG_GETARG_COUNTER_P(0), G_WIDTH));
}

/* g_counter_inc(c, n): add n >= 0 to this node's count */
PG_FUNCTION_INFO_V1(g_counter_inc);
Datum
g_counter_inc(PG_FUNCTION_ARGS)
{
	int64		n = PG_GETARG_INT64(1);

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("g_counter cannot be decremented (increment " INT64_FORMAT ")", n),
				 errhint("Use a pn_counter for counts that go down.")));
	PG_RETURN_POINTER(CounterBump(PG_GETARG_COUNTER_P(0), 0, n, G_WIDTH));
}

/* pn_counter_in */
PG_FUNCTION_INFO_V1(pn_counter_in);
Datum
pn_counter_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(CounterIn(PG_GETARG_CSTRING(0), PN_WIDTH));
}

/* pn_counter_out */
PG_FUNCTION_INFO_V1(pn_counter_out);
Datum
pn_counter_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(CounterOut(PG_GETARG_COUNTER_P(0), PN_WIDTH));
}

/* pn_counter_recv */
PG_FUNCTION_INFO_V1(pn_counter_recv);
Datum
pn_counter_recv(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(CounterRecv((StringInfo) PG_GETARG_POINTER(0), PN_WIDTH));
}

/* pn_counter_send */
PG_FUNCTION_INFO_V1(pn_counter_send);
Datum
pn_counter_send(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(CounterSend(PG_GETARG_COUNTER_P(0), PN_WIDTH));
}

/* crdt_merge(pn_counter, pn_counter) */
PG_FUNCTION_INFO_V1(pn_counter_merge);
Datum
pn_counter_merge(PG_FUNCTION_ARGS)
{
	CRDT_MERGE_AGG_STEP(CRDT_PN_COUNTER);
	return CounterMergeNullable(fcinfo, PN_WIDTH);
}

/* crdt_value(pn_counter) -> bigint */
PG_FUNCTION_INFO_V1(pn_counter_value);
Datum
pn_counter_value(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(CounterValue(PG_GETARG_COUNTER_P(0), PN_WIDTH));
}

/* pn_counter_add(c, n): add n to this node's increments, or -n to its decrements */
PG_FUNCTION_INFO_V1(pn_counter_add);
Datum
pn_counter_add(PG_FUNCTION_ARGS)
{
	Counter    *c = PG_GETARG_COUNTER_P(0);
	int64		n = PG_GETARG_INT64(1);
	int64		magnitude;

	if (n >= 0)
		PG_RETURN_POINTER(CounterBump(c, 0, n, PN_WIDTH));
	if (pg_sub_s64_overflow(0, n, &magnitude))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("pn_counter change " INT64_FORMAT " is out of range", n)));
	PG_RETURN_POINTER(CounterBump(c, 1, magnitude, PN_WIDTH));
}
