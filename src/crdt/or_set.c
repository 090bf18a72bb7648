/*
 * src/crdt/or_set.c
 *	  or_set: an add-wins observed-remove set of text elements, with dots
 *	  and an exact causal context (delta-CRDT style).
 *
 * Every add by node n tags the element with a dot (n, c) whose counter c is
 * a fresh time of n's hybrid logical clock, so dots are unique per node
 * across every state that node ever builds, not only along one row's
 * history.  The causal context of a state, the set of dots it has seen, is
 * kept exactly:
 *	 - the version vector vv: per node, "every dot (n, c) with c <= vv[n]
 *	   seen".  Only values written by geoshard 0.1 (whose counters ran 1, 2,
 *	   3 ... per row) have one; the merge keeps it by per-node maximum;
 *	 - the dots of the present elements, which are in the context implicitly;
 *	 - the cloud: dots of removed or re-added (superseded) elements that the
 *	   version vector does not cover.  This is what a removal leaves behind:
 *	   16 bytes per removed dot, for good (docs/crdt.md).
 * Merge keeps a dot of one side unless the other side's context holds it
 * and the other side does not tag the same element with it; the contexts
 * merge by union (cloud entries the merged vv covers are dropped).  So two
 * states built independently, even on one node, never lose each other's
 * elements.  0.1 states built independently on one node reused dots; when
 * such a fork shows (one dot on different elements) the merge refuses it
 * instead of dropping both elements.
 *
 * Invariants checked on input: elements unique (sorted by bytes), every
 * element has at least one dot, an element's dots strictly increasing by
 * (node, counter), no dot on two elements or on an element and in the
 * cloud, cloud strictly increasing and not covered by the version vector.
 *
 * Layout (varlena, 8-byte aligned):
 *	 int32 vl_len_, int32 nvv, int32 nelems, int32 ndots,
 *	 OrDot vv[nvv], OrDot dots[ndots], OrElem elems[nelems], char text[]
 * dots[] holds the elements' dots (pad 0) followed by the cloud (pad 1):
 * values of 0.1, which had no cloud and pad 0 everywhere, read unchanged.
 * Text form: {"vv":{"1":3},"elems":{"a":{"1":2},"b":{"1":[3,7],"2":1}},
 * "cloud":{"2":[4,5]}}; a node's dots are a number, or an array when there
 * are several; "cloud" is written only when there is one, so 0.1 values
 * print as they did.  '{}' is the empty set.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "crdt/crdt.h"

typedef struct OrDot
{
	int32		node;
	int32		pad;			/* 0, or OR_DOT_CLOUD in the cloud */
	int64		counter;
} OrDot;

#define OR_DOT_CLOUD	1

typedef struct OrElem
{
	int32		text_off;		/* into the text area */
	int32		text_len;
	int32		dot_start;		/* into dots[] */
	int32		dot_count;
} OrElem;

typedef struct OrSet
{
	int32		vl_len_;
	int32		nvv;
	int32		nelems;
	int32		ndots;			/* the elements' dots and the cloud */
	OrDot		data[FLEXIBLE_ARRAY_MEMBER];	/* vv, then dots, then elems, then text */
} OrSet;

#define OrVV(s)			((s)->data)
#define OrDots(s)		((s)->data + (s)->nvv)
#define OrElems(s)		((OrElem *) ((s)->data + (s)->nvv + (s)->ndots))
#define OrText(s)		((char *) (OrElems(s) + (s)->nelems))

#define PG_GETARG_ORSET_P(n)	((OrSet *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n)))

/* Number of dots the elements hold; the cloud follows them in dots[]. */
static inline int
OrNHeld(const OrSet *s)
{
	const OrElem *last;

	if (s->nelems == 0)
		return 0;
	last = &OrElems(s)[s->nelems - 1];
	return last->dot_start + last->dot_count;
}

#define OrCloud(s)		(OrDots(s) + OrNHeld(s))
#define OrNCloud(s)		((s)->ndots - OrNHeld(s))

static inline int
DotCmp(const OrDot *a, const OrDot *b)
{
	if (a->node != b->node)
		return a->node < b->node ? -1 : 1;
	if (a->counter != b->counter)
		return a->counter < b->counter ? -1 : 1;
	return 0;
}

static int
CompareDots(const void *a, const void *b)
{
	return DotCmp(a, b);
}

/*
 * A set being built: growable arrays, serialised once at the end.  Text is
 * referenced, not copied, until serialisation.
 */
typedef struct OrBuilder
{
	OrDot	   *vv;
	int			nvv;
	OrDot	   *dots;
	int			ndots;
	int			dots_cap;
	OrDot	   *cloud;
	int			ncloud;
	int			cloud_cap;
	const char **text;
	int		   *text_len;
	int		   *dot_start;
	int		   *dot_count;
	int			nelems;
	int			elems_cap;
	Size		text_total;
} OrBuilder;

static void
BuilderInit(OrBuilder *b, int vv_cap, int elems_cap, int dots_cap, int cloud_cap)
{
	b->vv = palloc(sizeof(OrDot) * Max(vv_cap, 1));
	b->nvv = 0;
	b->dots_cap = Max(dots_cap, 4);
	b->dots = palloc(sizeof(OrDot) * b->dots_cap);
	b->ndots = 0;
	b->cloud_cap = Max(cloud_cap, 4);
	b->cloud = palloc(sizeof(OrDot) * b->cloud_cap);
	b->ncloud = 0;
	b->elems_cap = Max(elems_cap, 4);
	b->text = palloc(sizeof(char *) * b->elems_cap);
	b->text_len = palloc(sizeof(int) * b->elems_cap);
	b->dot_start = palloc(sizeof(int) * b->elems_cap);
	b->dot_count = palloc(sizeof(int) * b->elems_cap);
	b->nelems = 0;
	b->text_total = 0;
}

static void
BuilderAddDot(OrBuilder *b, int32 node, int64 counter)
{
	if (b->ndots == b->dots_cap)
	{
		b->dots_cap *= 2;
		b->dots = repalloc_huge(b->dots, mul_size(sizeof(OrDot), b->dots_cap));
	}
	b->dots[b->ndots].node = node;
	b->dots[b->ndots].pad = 0;
	b->dots[b->ndots].counter = counter;
	b->ndots++;
}

/* Append a cloud dot; the caller keeps the cloud sorted. */
static void
BuilderAddCloud(OrBuilder *b, int32 node, int64 counter)
{
	if (b->ncloud == b->cloud_cap)
	{
		b->cloud_cap *= 2;
		b->cloud = repalloc_huge(b->cloud, mul_size(sizeof(OrDot), b->cloud_cap));
	}
	b->cloud[b->ncloud].node = node;
	b->cloud[b->ncloud].pad = OR_DOT_CLOUD;
	b->cloud[b->ncloud].counter = counter;
	b->ncloud++;
}

/* Start an element; its dots are the ones added after this call. */
static void
BuilderAddElem(OrBuilder *b, const char *text, int len)
{
	if (b->nelems == b->elems_cap)
	{
		b->elems_cap *= 2;
		b->text = repalloc_huge(b->text, mul_size(sizeof(char *), b->elems_cap));
		b->text_len = repalloc_huge(b->text_len, mul_size(sizeof(int), b->elems_cap));
		b->dot_start = repalloc_huge(b->dot_start, mul_size(sizeof(int), b->elems_cap));
		b->dot_count = repalloc_huge(b->dot_count, mul_size(sizeof(int), b->elems_cap));
	}
	b->text[b->nelems] = text;
	b->text_len[b->nelems] = len;
	b->dot_start[b->nelems] = b->ndots;
	b->dot_count[b->nelems] = 0;
	b->nelems++;
	b->text_total = add_size(b->text_total, len);
}

/* Close the current element: count its dots; drop it if it has none. */
static void
BuilderEndElem(OrBuilder *b)
{
	int			e = b->nelems - 1;

	b->dot_count[e] = b->ndots - b->dot_start[e];
	if (b->dot_count[e] == 0)
	{
		b->nelems--;
		b->text_total -= b->text_len[e];
	}
}

static void
OrSetTooLarge(Size size)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("or_set is too large (%zu bytes)", size)));
}

static OrSet *
BuilderFinish(OrBuilder *b)
{
	Size		size = offsetof(OrSet, data);
	OrSet	   *result;
	OrElem	   *elems;
	char	   *text;
	int32		off = 0;

	size = add_size(size, mul_size(sizeof(OrDot), (Size) b->nvv + b->ndots + b->ncloud));
	size = add_size(size, mul_size(sizeof(OrElem), b->nelems));
	size = add_size(size, b->text_total);
	if (size > MaxAllocSize)
		OrSetTooLarge(size);

	result = palloc(size);
	SET_VARSIZE(result, size);
	result->nvv = b->nvv;
	result->ndots = b->ndots + b->ncloud;
	result->nelems = b->nelems;
	memcpy(OrVV(result), b->vv, sizeof(OrDot) * b->nvv);
	memcpy(OrDots(result), b->dots, sizeof(OrDot) * b->ndots);
	memcpy(OrDots(result) + b->ndots, b->cloud, sizeof(OrDot) * b->ncloud);
	elems = OrElems(result);
	text = OrText(result);
	for (int i = 0; i < b->nelems; i++)
	{
		elems[i].text_off = off;
		elems[i].text_len = b->text_len[i];
		elems[i].dot_start = b->dot_start[i];
		elems[i].dot_count = b->dot_count[i];
		memcpy(text + off, b->text[i], b->text_len[i]);
		off += b->text_len[i];
	}
	return result;
}

/* The counter a version vector holds for node, 0 if none. */
static int64
VVGet(const OrDot *vv, int nvv, int32 node)
{
	int			lo = 0,
				hi = nvv;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (vv[mid].node < node)
			lo = mid + 1;
		else if (vv[mid].node > node)
			hi = mid;
		else
			return vv[mid].counter;
	}
	return 0;
}

/* The counter a version vector holds for node, 0 if none; short vectors are scanned. */
static inline int64
VVFind(const OrDot *vv, int nvv, int32 node)
{
	if (nvv <= 8)
	{
		for (int i = 0; i < nvv; i++)
			if (vv[i].node >= node)
				return vv[i].node == node ? vv[i].counter : 0;
		return 0;
	}
	return VVGet(vv, nvv, node);
}

/* Position of d in a sorted dot array, or -1. */
static int
DotFind(const OrDot *dots, int n, const OrDot *d)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			cmp = DotCmp(&dots[mid], d);

		if (cmp < 0)
			lo = mid + 1;
		else if (cmp > 0)
			hi = mid;
		else
			return mid;
	}
	return -1;
}

/*
 * Check a built set's invariants (input of any form goes through this); see
 * the file header.
 */
static void
CheckOrSet(OrSet *s, bool binary)
{
	OrDot	   *vv = OrVV(s);
	OrDot	   *dots = OrDots(s);
	OrElem	   *elems = OrElems(s);
	char	   *text = OrText(s);
	OrDot	   *cloud = OrCloud(s);
	int			ncloud = OrNCloud(s);
	const char *problem = NULL;

	for (int i = 0; i < s->nvv && problem == NULL; i++)
	{
		CrdtCheckNode(vv[i].node, binary);
		if (i > 0 && vv[i].node <= vv[i - 1].node)
			problem = psprintf("Version vector node %d is out of order or repeated.", vv[i].node);
		else if (vv[i].counter < 1)
			problem = psprintf("Version vector counter " INT64_FORMAT " of node %d is not positive.",
							   vv[i].counter, vv[i].node);
	}
	for (int e = 0; e < s->nelems && problem == NULL; e++)
	{
		OrDot	   *d = dots + elems[e].dot_start;

		if (e > 0 && CrdtCompareText(text + elems[e - 1].text_off, elems[e - 1].text_len,
									 text + elems[e].text_off, elems[e].text_len) >= 0)
			problem = psprintf("Element \"%.*s\" is out of order or repeated.",
							   elems[e].text_len, text + elems[e].text_off);
		for (int k = 0; k < elems[e].dot_count && problem == NULL; k++)
		{
			CrdtCheckNode(d[k].node, binary);
			if (d[k].counter < 1)
				problem = psprintf("Dot (%d, " INT64_FORMAT ") of element \"%.*s\" has a counter that is not positive.",
								   d[k].node, d[k].counter, elems[e].text_len, text + elems[e].text_off);
			else if (k > 0 && DotCmp(&d[k - 1], &d[k]) >= 0)
				problem = psprintf("Element \"%.*s\" has dot (%d, " INT64_FORMAT ") twice or out of order.",
								   elems[e].text_len, text + elems[e].text_off, d[k].node, d[k].counter);
		}
	}
	for (int k = 0; k < ncloud && problem == NULL; k++)
	{
		CrdtCheckNode(cloud[k].node, binary);
		if (cloud[k].counter < 1)
			problem = psprintf("Cloud dot (%d, " INT64_FORMAT ") has a counter that is not positive.",
							   cloud[k].node, cloud[k].counter);
		else if (k > 0 && DotCmp(&cloud[k - 1], &cloud[k]) >= 0)
			problem = psprintf("Cloud dot (%d, " INT64_FORMAT ") is out of order or repeated.",
							   cloud[k].node, cloud[k].counter);
		else if (cloud[k].counter <= VVGet(vv, s->nvv, cloud[k].node))
			problem = psprintf("Cloud dot (%d, " INT64_FORMAT ") is already covered by the version vector.",
							   cloud[k].node, cloud[k].counter);
	}

	/* no dot on two elements, nor on an element and in the cloud */
	if (problem == NULL && s->ndots > 1)
	{
		OrDot	   *all = palloc(sizeof(OrDot) * s->ndots);

		memcpy(all, dots, sizeof(OrDot) * s->ndots);
		qsort(all, s->ndots, sizeof(OrDot), CompareDots);
		for (int k = 1; k < s->ndots && problem == NULL; k++)
			if (DotCmp(&all[k - 1], &all[k]) == 0)
				problem = psprintf("Dot (%d, " INT64_FORMAT ") is on two elements, or on an element and in the cloud.",
								   all[k].node, all[k].counter);
		pfree(all);
	}

	if (problem != NULL)
	{
		if (binary)
			CrdtInvalidBinary("or_set", problem);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid or_set value"),
				 errdetail_internal("%s", problem)));
	}
}

/* An element parsed from text, before sorting */
typedef struct ParsedElem
{
	char	   *text;
	int			len;
	OrDot	   *dots;
	int			ndots;
} ParsedElem;

static int
CompareParsedElems(const void *a, const void *b)
{
	const ParsedElem *x = a;
	const ParsedElem *y = b;

	return CrdtCompareText(x->text, x->len, y->text, y->len);
}

static int
CompareKeyNodes(const void *a, const void *b)
{
	int32		x = ((const OrDot *) a)->node;
	int32		y = ((const OrDot *) b)->node;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Read {"node": counter, ...} into an array sorted by (node, counter).  With
 * several, a node's counters may come as an array, [c1, c2, ...], strictly
 * increasing (the version vector has one per node and no arrays).  A node
 * may appear only once.
 */
static OrDot *
ReadDotMap(CrdtReader *reader, int *n, bool arrays)
{
	int			cap = 4;
	OrDot	   *dots = palloc(sizeof(OrDot) * cap);
	OrDot	   *keys;
	int			nkeys = 0;

	*n = 0;
	CrdtExpect(reader, JSON_TOKEN_OBJECT_START);
	if (CrdtFirstKey(reader))
	{
		do
		{
			int32		node = CrdtTokenNode(reader);
			JsonTokenType token;
			int			first = *n;

			CrdtExpect(reader, JSON_TOKEN_COLON);
			token = CrdtNext(reader);
			if (token == JSON_TOKEN_ARRAY_START && arrays)
				token = CrdtNext(reader);
			else if (token == JSON_TOKEN_NUMBER)
				first = -1;		/* a single counter */
			else if (token == JSON_TOKEN_END)
				CrdtInvalid(reader, "The input ends too early.");
			else
				CrdtInvalid(reader, psprintf("Node \"%d\" needs %s.", node,
											 arrays ? "a counter or an array of counters" : "a counter"));
			for (;;)
			{
				if (token == JSON_TOKEN_END)
					CrdtInvalid(reader, "The input ends too early.");
				if (token == JSON_TOKEN_ARRAY_END && *n == first)
					CrdtInvalid(reader, psprintf("Node \"%d\" has an empty array of counters.", node));
				if (token != JSON_TOKEN_NUMBER)
					CrdtInvalid(reader, psprintf("Node \"%d\" has a counter that is not a number.", node));
				if (*n == cap)
				{
					cap *= 2;
					dots = repalloc_huge(dots, mul_size(sizeof(OrDot), cap));
				}
				dots[*n].node = node;
				dots[*n].pad = 0;
				dots[*n].counter = CrdtTokenCount(reader);
				if (first >= 0 && *n > first && dots[*n].counter <= dots[*n - 1].counter)
					CrdtInvalid(reader, psprintf("The counters of node %d are not strictly increasing.", node));
				(*n)++;
				if (first < 0)
					break;
				token = CrdtNext(reader);
				if (token == JSON_TOKEN_ARRAY_END)
					break;
				if (token == JSON_TOKEN_END)
					CrdtInvalid(reader, "The input ends too early.");
				if (token != JSON_TOKEN_COMMA)
					CrdtInvalid(reader, "Expected \",\" or \"]\".");
				token = CrdtNext(reader);
			}
			nkeys++;
		} while (CrdtNextKey(reader));
	}

	/* a repeated key: fewer distinct nodes than keys */
	if (nkeys > 1)
	{
		int			distinct = 1;

		keys = palloc(sizeof(OrDot) * *n);
		memcpy(keys, dots, sizeof(OrDot) * *n);
		qsort(keys, *n, sizeof(OrDot), CompareKeyNodes);
		for (int i = 1; i < *n; i++)
			if (keys[i].node != keys[i - 1].node)
				distinct++;
		if (distinct != nkeys)
			CrdtInvalid(reader, "A node appears twice.");
		pfree(keys);
	}
	qsort(dots, *n, sizeof(OrDot), CompareDots);
	return dots;
}

/* or_set_in */
PG_FUNCTION_INFO_V1(or_set_in);
Datum
or_set_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	CrdtReader	reader;
	OrDot	   *vv = NULL;
	int			nvv = 0;
	OrDot	   *cloud = NULL;
	int			ncloud = 0;
	ParsedElem *elems = NULL;
	int			nelems = 0;
	bool		have_elems = false;
	OrBuilder	b;
	OrSet	   *result;

	CrdtReaderInit(&reader, str, "or_set");
	CrdtExpect(&reader, JSON_TOKEN_OBJECT_START);
	if (CrdtFirstKey(&reader))
	{
		do
		{
			char	   *key = reader.lex->strval->data;

			if (strcmp(key, "vv") == 0 && vv == NULL)
			{
				CrdtExpect(&reader, JSON_TOKEN_COLON);
				vv = ReadDotMap(&reader, &nvv, false);
			}
			else if (strcmp(key, "cloud") == 0 && cloud == NULL)
			{
				CrdtExpect(&reader, JSON_TOKEN_COLON);
				cloud = ReadDotMap(&reader, &ncloud, true);
			}
			else if (strcmp(key, "elems") == 0 && !have_elems)
			{
				int			cap = 8;

				have_elems = true;
				elems = palloc(sizeof(ParsedElem) * cap);
				CrdtExpect(&reader, JSON_TOKEN_COLON);
				CrdtExpect(&reader, JSON_TOKEN_OBJECT_START);
				if (CrdtFirstKey(&reader))
				{
					do
					{
						if (nelems == cap)
						{
							cap *= 2;
							elems = repalloc_huge(elems, mul_size(sizeof(ParsedElem), cap));
						}
						elems[nelems].text = CrdtTokenString(&reader, &elems[nelems].len);
						CrdtExpect(&reader, JSON_TOKEN_COLON);
						elems[nelems].dots = ReadDotMap(&reader, &elems[nelems].ndots, true);
						if (elems[nelems].ndots == 0)
							CrdtInvalid(&reader, psprintf("Element \"%s\" has no dots.", elems[nelems].text));
						nelems++;
					} while (CrdtNextKey(&reader));
				}
			}
			else
				CrdtInvalid(&reader, psprintf("Unexpected or repeated key \"%s\".", key));
		} while (CrdtNextKey(&reader));
	}
	CrdtExpectEnd(&reader);
	if ((vv == NULL) != !have_elems)
		CrdtInvalid(&reader, "An or_set has both \"vv\" and \"elems\", or neither.");

	qsort(elems, nelems, sizeof(ParsedElem), CompareParsedElems);
	BuilderInit(&b, nvv, nelems, nelems, ncloud);
	if (nvv > 0)
		memcpy(b.vv, vv, sizeof(OrDot) * nvv);
	b.nvv = nvv;
	for (int e = 0; e < nelems; e++)
	{
		BuilderAddElem(&b, elems[e].text, elems[e].len);
		for (int k = 0; k < elems[e].ndots; k++)
			BuilderAddDot(&b, elems[e].dots[k].node, elems[e].dots[k].counter);
		BuilderEndElem(&b);
	}
	for (int k = 0; k < ncloud; k++)
		BuilderAddCloud(&b, cloud[k].node, cloud[k].counter);
	result = BuilderFinish(&b);
	CheckOrSet(result, false);
	PG_RETURN_POINTER(result);
}

/* {"node":counter, ...}, several counters of one node as an array */
static void
AppendDotMap(StringInfo buf, const OrDot *dots, int n)
{
	appendStringInfoChar(buf, '{');
	for (int i = 0; i < n;)
	{
		int			j = i + 1;

		while (j < n && dots[j].node == dots[i].node)
			j++;
		appendStringInfo(buf, "%s\"%d\":", i > 0 ? "," : "", dots[i].node);
		if (j - i == 1)
			appendStringInfo(buf, INT64_FORMAT, dots[i].counter);
		else
		{
			appendStringInfoChar(buf, '[');
			for (int k = i; k < j; k++)
				appendStringInfo(buf, "%s" INT64_FORMAT, k > i ? "," : "", dots[k].counter);
			appendStringInfoChar(buf, ']');
		}
		i = j;
	}
	appendStringInfoChar(buf, '}');
}

/* or_set_out */
PG_FUNCTION_INFO_V1(or_set_out);
Datum
or_set_out(PG_FUNCTION_ARGS)
{
	OrSet	   *s = PG_GETARG_ORSET_P(0);
	OrElem	   *elems = OrElems(s);
	StringInfoData buf;

	if (s->nvv == 0 && s->ndots == 0)
		PG_RETURN_CSTRING(pstrdup("{}"));

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"vv\":");
	AppendDotMap(&buf, OrVV(s), s->nvv);
	appendStringInfoString(&buf, ",\"elems\":{");
	for (int e = 0; e < s->nelems; e++)
	{
		if (e > 0)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, pnstrdup(OrText(s) + elems[e].text_off, elems[e].text_len));
		appendStringInfoChar(&buf, ':');
		AppendDotMap(&buf, OrDots(s) + elems[e].dot_start, elems[e].dot_count);
	}
	appendStringInfoChar(&buf, '}');
	if (OrNCloud(s) > 0)
	{
		appendStringInfoString(&buf, ",\"cloud\":");
		AppendDotMap(&buf, OrCloud(s), OrNCloud(s));
	}
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

/*
 * or_set_recv: int4 nvv, (int4 node, int8 counter) * nvv, int4 nelems, then
 * per element: int4 length, bytes, int4 ndots, (int4 node, int8 counter) *
 * ndots; then, only when there is a cloud, int4 ncloud and its dots the
 * same way.  A message without the cloud part (all of 0.1's) has none.
 */
PG_FUNCTION_INFO_V1(or_set_recv);
Datum
or_set_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			nvv = CrdtRecvCount(buf, 12, "or_set");
	int			nelems;
	OrBuilder	b;
	OrSet	   *result;

	BuilderInit(&b, nvv, 4, 4, 0);
	for (int i = 0; i < nvv; i++)
	{
		b.vv[i].node = pq_getmsgint(buf, 4);
		b.vv[i].pad = 0;
		b.vv[i].counter = pq_getmsgint64(buf);
	}
	b.nvv = nvv;

	/* each element takes at least 8 bytes: its length and its dot count */
	nelems = CrdtRecvCount(buf, 8, "or_set");
	for (int e = 0; e < nelems; e++)
	{
		int			len;
		const char *text = CrdtRecvText(buf, "or_set", &len);
		int			ndots;

		ndots = CrdtRecvCount(buf, 12, "or_set");
		if (ndots == 0)
			CrdtInvalidBinary("or_set", "An element has no dots.");
		BuilderAddElem(&b, text, len);
		for (int k = 0; k < ndots; k++)
		{
			int32		node = pq_getmsgint(buf, 4);

			BuilderAddDot(&b, node, pq_getmsgint64(buf));
		}
		BuilderEndElem(&b);
	}
	if (buf->cursor < buf->len)
	{
		int			ncloud = CrdtRecvCount(buf, 12, "or_set");

		for (int k = 0; k < ncloud; k++)
		{
			int32		node = pq_getmsgint(buf, 4);

			BuilderAddCloud(&b, node, pq_getmsgint64(buf));
		}
	}
	result = BuilderFinish(&b);
	CheckOrSet(result, true);
	PG_RETURN_POINTER(result);
}

static void
SendDots(StringInfo buf, const OrDot *dots, int n)
{
	pq_sendint32(buf, n);
	for (int k = 0; k < n; k++)
	{
		pq_sendint32(buf, dots[k].node);
		pq_sendint64(buf, dots[k].counter);
	}
}

/* or_set_send */
PG_FUNCTION_INFO_V1(or_set_send);
Datum
or_set_send(PG_FUNCTION_ARGS)
{
	OrSet	   *s = PG_GETARG_ORSET_P(0);
	OrElem	   *elems = OrElems(s);
	StringInfoData buf;

	pq_begintypsend(&buf);
	SendDots(&buf, OrVV(s), s->nvv);
	pq_sendint32(&buf, s->nelems);
	for (int e = 0; e < s->nelems; e++)
	{
		CrdtSendText(&buf, OrText(s) + elems[e].text_off, elems[e].text_len);
		SendDots(&buf, OrDots(s) + elems[e].dot_start, elems[e].dot_count);
	}
	if (OrNCloud(s) > 0)
		SendDots(&buf, OrCloud(s), OrNCloud(s));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * One side of a merge, with a lazily built index of its held dots: only
 * dots of 0.1 values (covered by a version vector) ever need it, to tell a
 * removed dot from a dot reused on another element.
 */
typedef struct MergeSide
{
	OrSet	   *s;
	OrDot	   *cloud;
	int			ncloud;
	OrDot	   *held_index;		/* held dots sorted, pad = element index */
	int			nheld;
} MergeSide;

static void
ForkConflict(MergeSide *side, int k, const char *text, int len)
{
	OrElem	   *other = &OrElems(side->s)[side->held_index[k].pad];

	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("cannot merge or_set states that tag different elements with the same dot"),
			 errdetail("Dot (%d, " INT64_FORMAT ") tags \"%.*s\" in one state and \"%.*s\" in the other.",
					   side->held_index[k].node, side->held_index[k].counter, len, text,
					   other->text_len, OrText(side->s) + other->text_off),
			 errhint("Such states were built independently on one node by geoshard 0.1, which reused dots; "
					 "rebuild one of them with or_set_add from '{}' for each of its elements, then merge.")));
}

/*
 * True when side's context holds dot d, which side does not tag element
 * (text, len) with: d is then dropped from that element.
 */
static bool
SideHasSeen(MergeSide *side, const OrDot *d, const char *text, int len)
{
	if (d->counter <= VVFind(OrVV(side->s), side->s->nvv, d->node))
	{
		int			k;

		/* a 0.1 dot: removed, unless side reused it for another element */
		if (side->held_index == NULL)
		{
			OrElem	   *elems = OrElems(side->s);

			side->nheld = OrNHeld(side->s);
			side->held_index = palloc(sizeof(OrDot) * Max(side->nheld, 1));
			memcpy(side->held_index, OrDots(side->s), sizeof(OrDot) * side->nheld);
			for (int e = 0; e < side->s->nelems; e++)
				for (int i = 0; i < elems[e].dot_count; i++)
					side->held_index[elems[e].dot_start + i].pad = e;
			qsort(side->held_index, side->nheld, sizeof(OrDot), CompareDots);
		}
		k = DotFind(side->held_index, side->nheld, d);
		if (k >= 0)
			ForkConflict(side, k, text, len);
		return true;
	}
	return side->ncloud > 0 && DotFind(side->cloud, side->ncloud, d) >= 0;
}

/*
 * Append to out the dots of one element to keep: those both sides tag it
 * with, and those of one side that the other side has not seen.  Either
 * side may be empty (the element is on one side only).  Returns the number
 * of dots written.
 */
static int
MergeDots(OrDot *out, const OrDot *a, int na, MergeSide *sa,
		  const OrDot *b, int nb, MergeSide *sb, const char *text, int len)
{
	int			i = 0,
				j = 0,
				n = 0;

	while (i < na || j < nb)
	{
		int			cmp = j >= nb ? -1 : i >= na ? 1 : DotCmp(&a[i], &b[j]);

		if (cmp == 0)
		{
			out[n++] = a[i++];
			j++;
		}
		else if (cmp < 0)
		{
			if (!SideHasSeen(sb, &a[i], text, len))
				out[n++] = a[i];
			i++;
		}
		else
		{
			if (!SideHasSeen(sa, &b[j], text, len))
				out[n++] = b[j];
			j++;
		}
	}
	return n;
}

/*
 * The merge, in one pass written straight into the result: the result is
 * allocated for the largest possible outcome with its regions at their
 * worst-case offsets, filled, then compacted.
 */
static OrSet *
OrSetMerge(OrSet *a, OrSet *b)
{
	const OrElem *ae = OrElems(a);
	const OrElem *be = OrElems(b);
	const OrDot *ad = OrDots(a);
	const OrDot *bd = OrDots(b);
	const char *at = OrText(a);
	const char *bt = OrText(b);
	MergeSide	sa = {a, OrCloud(a), OrNCloud(a), NULL, 0};
	MergeSide	sb = {b, OrCloud(b), OrNCloud(b), NULL, 0};
	int			max_vv = a->nvv + b->nvv;
	int			max_held = OrNHeld(a) + OrNHeld(b);
	int			max_cloud = sa.ncloud + sb.ncloud;
	int			max_elems = a->nelems + b->nelems;
	Size		max_text = VARSIZE(a) + VARSIZE(b);
	Size		size;
	OrSet	   *r;
	OrDot	   *vv;
	OrDot	   *dots;
	OrDot	   *cloud;
	OrElem	   *elems;
	char	   *text;
	int			nvv = 0,
				ndots = 0,
				ncloud = 0,
				nelems = 0;
	int32		ntext = 0;
	int			i = 0,
				j = 0;

	/* a state merged with itself, the common case of a replayed sync */
	if (VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0)
		return a;

	size = offsetof(OrSet, data) + sizeof(OrDot) * ((Size) max_vv + max_held + max_cloud) +
		sizeof(OrElem) * (Size) max_elems + max_text;
	if (size > MaxAllocSize)
		OrSetTooLarge(size);
	r = palloc(size);
	vv = r->data;
	dots = vv + max_vv;
	cloud = dots + max_held;
	elems = (OrElem *) (cloud + max_cloud);
	text = (char *) (elems + max_elems);

	/* version vectors: per-node maximum */
	while (i < a->nvv || j < b->nvv)
	{
		if (j >= b->nvv || (i < a->nvv && OrVV(a)[i].node < OrVV(b)[j].node))
			vv[nvv++] = OrVV(a)[i++];
		else if (i >= a->nvv || OrVV(b)[j].node < OrVV(a)[i].node)
			vv[nvv++] = OrVV(b)[j++];
		else
		{
			vv[nvv] = OrVV(a)[i];
			vv[nvv++].counter = Max(OrVV(a)[i].counter, OrVV(b)[j].counter);
			i++;
			j++;
		}
	}

	/* elements, in byte order */
	i = j = 0;
	while (i < a->nelems || j < b->nelems)
	{
		const OrElem *x = NULL;
		const OrElem *y = NULL;
		const OrElem *src;
		int			kept;

		if (j >= b->nelems)
			x = &ae[i++];
		else if (i >= a->nelems)
			y = &be[j++];
		else
		{
			int			cmp = CrdtCompareText(at + ae[i].text_off, ae[i].text_len,
											  bt + be[j].text_off, be[j].text_len);

			if (cmp <= 0)
				x = &ae[i++];
			if (cmp >= 0)
				y = &be[j++];
		}
		src = x != NULL ? x : y;

		if (x != NULL && y != NULL && x->dot_count == y->dot_count &&
			memcmp(ad + x->dot_start, bd + y->dot_start, sizeof(OrDot) * x->dot_count) == 0)
		{
			/* both sides saw the same adds: nothing to decide */
			memcpy(dots + ndots, ad + x->dot_start, sizeof(OrDot) * x->dot_count);
			kept = x->dot_count;
		}
		else
			kept = MergeDots(dots + ndots,
							 x ? ad + x->dot_start : NULL, x ? x->dot_count : 0, &sa,
							 y ? bd + y->dot_start : NULL, y ? y->dot_count : 0, &sb,
							 (x != NULL ? at : bt) + src->text_off, src->text_len);

		if (kept > 0)
		{
			elems[nelems].text_off = ntext;
			elems[nelems].text_len = src->text_len;
			elems[nelems].dot_start = ndots;
			elems[nelems].dot_count = kept;
			memcpy(text + ntext, (x != NULL ? at : bt) + src->text_off, src->text_len);
			ntext += src->text_len;
			ndots += kept;
			nelems++;
		}
	}

	/* clouds: union, less what the merged version vector covers */
	i = j = 0;
	while (i < sa.ncloud || j < sb.ncloud)
	{
		int			cmp = j >= sb.ncloud ? -1 : i >= sa.ncloud ? 1 : DotCmp(&sa.cloud[i], &sb.cloud[j]);
		const OrDot *d = cmp <= 0 ? &sa.cloud[i] : &sb.cloud[j];

		if (d->counter > VVFind(vv, nvv, d->node))
			cloud[ncloud++] = *d;
		if (cmp <= 0)
			i++;
		if (cmp >= 0)
			j++;
	}

	/* close the gaps between the regions */
	memmove(vv + nvv, dots, sizeof(OrDot) * ndots);
	memmove(vv + nvv + ndots, cloud, sizeof(OrDot) * ncloud);
	memmove(vv + nvv + ndots + ncloud, elems, sizeof(OrElem) * nelems);
	memmove((char *) ((OrElem *) (vv + nvv + ndots + ncloud) + nelems), text, ntext);
	r->nvv = nvv;
	r->ndots = ndots + ncloud;
	r->nelems = nelems;
	SET_VARSIZE(r, offsetof(OrSet, data) + sizeof(OrDot) * ((Size) nvv + ndots + ncloud) +
				sizeof(OrElem) * (Size) nelems + ntext);
	return r;
}

/* crdt_merge(or_set, or_set), NULL meaning no state yet */
PG_FUNCTION_INFO_V1(or_set_merge);
Datum
or_set_merge(PG_FUNCTION_ARGS)
{
	CRDT_MERGE_AGG_STEP(CRDT_OR_SET);
	CRDT_MERGE_NULL_SIDES();
	PG_RETURN_POINTER(OrSetMerge(PG_GETARG_ORSET_P(0), PG_GETARG_ORSET_P(1)));
}

/*
 * A dot of an element this state stops tagging it with (removed, or
 * superseded by a new add) stays in the context: in the cloud, unless the
 * version vector already covers it.  The cloud is kept sorted.
 */
static void
RetireDot(OrBuilder *b, const OrDot *d)
{
	int			pos;

	if (d->counter <= VVGet(b->vv, b->nvv, d->node))
		return;
	BuilderAddCloud(b, d->node, d->counter);
	for (pos = b->ncloud - 1; pos > 0 && DotCmp(&b->cloud[pos - 1], d) > 0; pos--)
		b->cloud[pos] = b->cloud[pos - 1];
	b->cloud[pos] = *d;
	b->cloud[pos].pad = OR_DOT_CLOUD;
}

/*
 * Copy s into a builder with element (text, len) retired, and, when add,
 * put back with the single dot (node, counter).
 */
static void
CopyWith(OrBuilder *b, OrSet *s, const char *text, int len, bool add, int32 node, int64 counter)
{
	OrElem	   *elems = OrElems(s);
	bool		placed = false;

	memcpy(b->vv, OrVV(s), sizeof(OrDot) * s->nvv);
	b->nvv = s->nvv;
	memcpy(b->cloud, OrCloud(s), sizeof(OrDot) * OrNCloud(s));
	b->ncloud = OrNCloud(s);

	for (int e = 0; e < s->nelems; e++)
	{
		const char *etext = OrText(s) + elems[e].text_off;
		const OrDot *edots = OrDots(s) + elems[e].dot_start;
		int			cmp = CrdtCompareText(etext, elems[e].text_len, text, len);

		if (cmp > 0 && add && !placed)
		{
			BuilderAddElem(b, text, len);
			BuilderAddDot(b, node, counter);
			BuilderEndElem(b);
			placed = true;
		}
		if (cmp == 0)
		{
			for (int k = 0; k < elems[e].dot_count; k++)
				RetireDot(b, &edots[k]);
			continue;
		}
		BuilderAddElem(b, etext, elems[e].text_len);
		for (int k = 0; k < elems[e].dot_count; k++)
			BuilderAddDot(b, edots[k].node, edots[k].counter);
		BuilderEndElem(b);
	}
	if (add && !placed)
	{
		BuilderAddElem(b, text, len);
		BuilderAddDot(b, node, counter);
		BuilderEndElem(b);
	}
}

/* or_set_add(s, elem): add elem as this node, with a new dot */
PG_FUNCTION_INFO_V1(or_set_add);
Datum
or_set_add(PG_FUNCTION_ARGS)
{
	OrSet	   *s = PG_GETARG_ORSET_P(0);
	text	   *elem = PG_GETARG_TEXT_PP(1);
	int32		node = CrdtNodeId();
	int64		floor;
	uint64		tick;
	OrBuilder	b;

	if (!HlcClockIsShared())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("or_set_add needs geoshard in shared_preload_libraries"),
				 errdetail("Dots come from the server-wide clock; without it two sessions could tag different elements with the same dot."),
				 errhint("Add geoshard to shared_preload_libraries and restart the server.")));

	/* the new dot must be later than any dot of this node that s has seen */
	floor = VVGet(OrVV(s), s->nvv, node);
	for (int k = 0; k < s->ndots; k++)
		if (OrDots(s)[k].node == node && OrDots(s)[k].counter > floor)
			floor = OrDots(s)[k].counter;
	tick = HlcTick((uint64) floor);
	if (tick > (uint64) PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("or_set dot counter of node %d is out of range", node)));

	BuilderInit(&b, s->nvv, s->nelems + 1, s->ndots + 1, OrNCloud(s) + 4);
	CopyWith(&b, s, VARDATA_ANY(elem), VARSIZE_ANY_EXHDR(elem), true, node, (int64) tick);
	PG_RETURN_POINTER(BuilderFinish(&b));
}

/* or_set_remove(s, elem): remove elem, as observed in s */
PG_FUNCTION_INFO_V1(or_set_remove);
Datum
or_set_remove(PG_FUNCTION_ARGS)
{
	OrSet	   *s = PG_GETARG_ORSET_P(0);
	text	   *elem = PG_GETARG_TEXT_PP(1);
	OrBuilder	b;

	BuilderInit(&b, s->nvv, s->nelems, s->ndots, s->ndots);
	CopyWith(&b, s, VARDATA_ANY(elem), VARSIZE_ANY_EXHDR(elem), false, 0, 0);
	PG_RETURN_POINTER(BuilderFinish(&b));
}

/* crdt_value(or_set) -> text[], in byte order */
PG_FUNCTION_INFO_V1(or_set_value);
Datum
or_set_value(PG_FUNCTION_ARGS)
{
	OrSet	   *s = PG_GETARG_ORSET_P(0);
	OrElem	   *elems = OrElems(s);
	Datum	   *values = palloc(sizeof(Datum) * Max(s->nelems, 1));

	for (int e = 0; e < s->nelems; e++)
		values[e] = PointerGetDatum(cstring_to_text_with_len(OrText(s) + elems[e].text_off,
															 elems[e].text_len));
	PG_RETURN_ARRAYTYPE_P(construct_array(values, s->nelems, TEXTOID, -1, false, TYPALIGN_INT));
}
