/*
 * src/crdt/or_set.c
 *	  or_set: an add-wins observed-remove set of text elements without
 *	  tombstones (ORSWOT: dots and a version vector).
 *
 * Every add by node n takes the next counter c of n and tags the element
 * with the dot (n, c), replacing the element's older dots.  The version
 * vector records, per node, the highest counter this state has seen.  A
 * remove simply drops the element: its dots stay covered by the version
 * vector, so a merge with an older replica does not bring it back, while an
 * add the remover had not seen carries a newer dot and survives (add wins).
 * Merge keeps, per element, the dots both sides have plus the dots one side
 * has that the other's version vector has not yet covered; the version
 * vectors merge by per-node maximum.  Removed elements leave nothing behind.
 *
 * Invariants checked on input: elements unique (sorted by bytes), every
 * element has at least one dot, at most one dot per node, and every dot is
 * covered by the version vector.
 *
 * Layout (varlena, 8-byte aligned):
 *	 int32 vl_len_, int32 nvv, int32 nelems, int32 ndots,
 *	 OrDot vv[nvv], OrDot dots[ndots], OrElem elems[nelems], char text[]
 * Text form: {"vv":{"1":3,"2":1},"elems":{"a":{"1":2},"b":{"1":3,"2":1}}};
 * '{}' is the empty set.
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
	int32		pad;			/* 0 */
	int64		counter;
} OrDot;

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
	int32		ndots;
	OrDot		data[FLEXIBLE_ARRAY_MEMBER];	/* vv, then dots, then elems, then text */
} OrSet;

#define OrVV(s)			((s)->data)
#define OrDots(s)		((s)->data + (s)->nvv)
#define OrElems(s)		((OrElem *) ((s)->data + (s)->nvv + (s)->ndots))
#define OrText(s)		((char *) (OrElems(s) + (s)->nelems))

#define PG_GETARG_ORSET_P(n)	((OrSet *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n)))

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
	const char **text;
	int		   *text_len;
	int		   *dot_start;
	int		   *dot_count;
	int			nelems;
	int			elems_cap;
	Size		text_total;
} OrBuilder;

static void
BuilderInit(OrBuilder *b, int vv_cap, int elems_cap, int dots_cap)
{
	b->vv = palloc(sizeof(OrDot) * Max(vv_cap, 1));
	b->nvv = 0;
	b->dots_cap = Max(dots_cap, 4);
	b->dots = palloc(sizeof(OrDot) * b->dots_cap);
	b->ndots = 0;
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

static OrSet *
BuilderFinish(OrBuilder *b)
{
	Size		size = offsetof(OrSet, data);
	OrSet	   *result;
	OrElem	   *elems;
	char	   *text;
	int32		off = 0;

	size = add_size(size, mul_size(sizeof(OrDot), (Size) b->nvv + b->ndots));
	size = add_size(size, mul_size(sizeof(OrElem), b->nelems));
	size = add_size(size, b->text_total);
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("or_set is too large (%zu bytes)", size)));

	result = palloc(size);
	SET_VARSIZE(result, size);
	result->nvv = b->nvv;
	result->ndots = b->ndots;
	result->nelems = b->nelems;
	memcpy(OrVV(result), b->vv, sizeof(OrDot) * b->nvv);
	memcpy(OrDots(result), b->dots, sizeof(OrDot) * b->ndots);
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

/*
 * Check a built set's invariants (input of any form goes through this):
 * strictly increasing version vector and elements, per element strictly
 * increasing dot nodes, and dots covered by the version vector.
 */
static void
CheckOrSet(OrSet *s, bool binary)
{
	OrDot	   *vv = OrVV(s);
	OrDot	   *dots = OrDots(s);
	OrElem	   *elems = OrElems(s);
	char	   *text = OrText(s);
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
			if (k > 0 && d[k].node <= d[k - 1].node)
				problem = psprintf("Element \"%.*s\" has node %d twice or out of order.",
								   elems[e].text_len, text + elems[e].text_off, d[k].node);
			else if (d[k].counter < 1 || d[k].counter > VVGet(vv, s->nvv, d[k].node))
				problem = psprintf("Dot (%d, " INT64_FORMAT ") of element \"%.*s\" is not covered by the version vector.",
								   d[k].node, d[k].counter, elems[e].text_len, text + elems[e].text_off);
		}
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

static int
CompareDots(const void *a, const void *b)
{
	int32		x = ((const OrDot *) a)->node;
	int32		y = ((const OrDot *) b)->node;

	return x < y ? -1 : x > y ? 1 : 0;
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

/* Read {"node": counter, ...} into a sorted array. */
static OrDot *
ReadDotMap(CrdtReader *reader, int *n)
{
	int			cap = 4;
	OrDot	   *dots = palloc(sizeof(OrDot) * cap);

	*n = 0;
	CrdtExpect(reader, JSON_TOKEN_OBJECT_START);
	if (CrdtFirstKey(reader))
	{
		do
		{
			if (*n == cap)
			{
				cap *= 2;
				dots = repalloc_huge(dots, mul_size(sizeof(OrDot), cap));
			}
			dots[*n].node = CrdtTokenNode(reader);
			dots[*n].pad = 0;
			CrdtExpect(reader, JSON_TOKEN_COLON);
			dots[*n].counter = CrdtReadCount(reader);
			(*n)++;
		} while (CrdtNextKey(reader));
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
				vv = ReadDotMap(&reader, &nvv);
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
						elems[nelems].dots = ReadDotMap(&reader, &elems[nelems].ndots);
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
	BuilderInit(&b, nvv, nelems, nelems);
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
	result = BuilderFinish(&b);
	CheckOrSet(result, false);
	PG_RETURN_POINTER(result);
}

static void
AppendDotMap(StringInfo buf, const OrDot *dots, int n)
{
	appendStringInfoChar(buf, '{');
	for (int i = 0; i < n; i++)
		appendStringInfo(buf, "%s\"%d\":" INT64_FORMAT, i > 0 ? "," : "", dots[i].node, dots[i].counter);
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

	initStringInfo(&buf);
	if (s->nvv == 0)
		PG_RETURN_CSTRING(pstrdup("{}"));

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
	appendStringInfoString(&buf, "}}");
	PG_RETURN_CSTRING(buf.data);
}

/*
 * or_set_recv: int4 nvv, (int4 node, int8 counter) * nvv, int4 nelems, then
 * per element: int4 length, bytes, int4 ndots, (int4 node, int8 counter) * ndots.
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

	BuilderInit(&b, nvv, 4, 4);
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
	result = BuilderFinish(&b);
	CheckOrSet(result, true);
	PG_RETURN_POINTER(result);
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
	pq_sendint32(&buf, s->nvv);
	for (int i = 0; i < s->nvv; i++)
	{
		pq_sendint32(&buf, OrVV(s)[i].node);
		pq_sendint64(&buf, OrVV(s)[i].counter);
	}
	pq_sendint32(&buf, s->nelems);
	for (int e = 0; e < s->nelems; e++)
	{
		OrDot	   *d = OrDots(s) + elems[e].dot_start;

		CrdtSendText(&buf, OrText(s) + elems[e].text_off, elems[e].text_len);
		pq_sendint32(&buf, elems[e].dot_count);
		for (int k = 0; k < elems[e].dot_count; k++)
		{
			pq_sendint32(&buf, d[k].node);
			pq_sendint64(&buf, d[k].counter);
		}
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
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

/*
 * Append to out the dots of one element to keep: those in both a and b, and
 * those of one side that the other side's version vector has not covered.
 * Either side may be empty (the element is on one side only).  Returns the
 * number of dots written.
 */
static int
MergeDots(OrDot *out, const OrDot *a, int na, const OrDot *avv, int navv,
		  const OrDot *b, int nb, const OrDot *bvv, int nbvv)
{
	int			i = 0,
				j = 0,
				n = 0;

	while (i < na || j < nb)
	{
		if (j >= nb || (i < na && a[i].node < b[j].node))
		{
			if (a[i].counter > VVFind(bvv, nbvv, a[i].node))
				out[n++] = a[i];
			i++;
		}
		else if (i >= na || b[j].node < a[i].node)
		{
			if (b[j].counter > VVFind(avv, navv, b[j].node))
				out[n++] = b[j];
			j++;
		}
		else
		{
			/* same node: equal dots are kept; of two, the one the other side has not seen */
			if (a[i].counter == b[j].counter)
				out[n++] = a[i];
			else if (a[i].counter > b[j].counter && a[i].counter > VVFind(bvv, nbvv, a[i].node))
				out[n++] = a[i];
			else if (b[j].counter > a[i].counter && b[j].counter > VVFind(avv, navv, b[j].node))
				out[n++] = b[j];
			i++;
			j++;
		}
	}
	return n;
}

/*
 * The merge, in one pass written straight into the result: the result is
 * allocated for the largest possible outcome with its regions at their
 * worst-case offsets, filled, then compacted with three moves.
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
	int			max_vv = a->nvv + b->nvv;
	int			max_dots = a->ndots + b->ndots;
	int			max_elems = a->nelems + b->nelems;
	Size		max_text = VARSIZE(a) + VARSIZE(b);
	Size		size = offsetof(OrSet, data) + sizeof(OrDot) * ((Size) max_vv + max_dots) +
		sizeof(OrElem) * (Size) max_elems + max_text;
	OrSet	   *r;
	OrDot	   *vv;
	OrDot	   *dots;
	OrElem	   *elems;
	char	   *text;
	int			nvv = 0,
				ndots = 0,
				nelems = 0;
	int32		ntext = 0;
	int			i = 0,
				j = 0;

	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("or_set is too large (%zu bytes)", size)));
	r = palloc(size);
	vv = r->data;
	dots = vv + max_vv;
	elems = (OrElem *) (dots + max_dots);
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

		if (x != NULL && y != NULL && x->dot_count == y->dot_count &&
			memcmp(ad + x->dot_start, bd + y->dot_start, sizeof(OrDot) * x->dot_count) == 0)
		{
			/* both sides saw the same adds: nothing to decide */
			memcpy(dots + ndots, ad + x->dot_start, sizeof(OrDot) * x->dot_count);
			kept = x->dot_count;
		}
		else
			kept = MergeDots(dots + ndots,
							 x ? ad + x->dot_start : NULL, x ? x->dot_count : 0, OrVV(a), a->nvv,
							 y ? bd + y->dot_start : NULL, y ? y->dot_count : 0, OrVV(b), b->nvv);

		if (kept > 0)
		{
			const OrElem *src = x != NULL ? x : y;

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

	/* close the gaps between the regions */
	memmove(vv + nvv, dots, sizeof(OrDot) * ndots);
	memmove(vv + nvv + ndots, elems, sizeof(OrElem) * nelems);
	memmove((char *) ((OrElem *) (vv + nvv + ndots) + nelems), text, ntext);
	r->nvv = nvv;
	r->ndots = ndots;
	r->nelems = nelems;
	SET_VARSIZE(r, offsetof(OrSet, data) + sizeof(OrDot) * ((Size) nvv + ndots) +
				sizeof(OrElem) * (Size) nelems + ntext);
	return r;
}

/* crdt_merge(or_set, or_set), NULL meaning no state yet */
PG_FUNCTION_INFO_V1(or_set_merge);
Datum
or_set_merge(PG_FUNCTION_ARGS)
{
	CRDT_MERGE_NULL_SIDES();
	PG_RETURN_POINTER(OrSetMerge(PG_GETARG_ORSET_P(0), PG_GETARG_ORSET_P(1)));
}

/*
 * Copy s into a builder, leaving out element text (if given) so the caller
 * can put it back with new dots, or not at all.
 */
static void
CopyWithout(OrBuilder *b, OrSet *s, const char *text, int len, bool add)
{
	OrElem	   *elems = OrElems(s);
	int32		node = add ? CrdtNodeId() : 0;
	int64		counter = 0;
	bool		placed = false;

	memcpy(b->vv, OrVV(s), sizeof(OrDot) * s->nvv);
	b->nvv = s->nvv;
	if (add)
	{
		/* the next counter of this node, opening its entry if need be */
		int			pos = 0;

		while (pos < b->nvv && b->vv[pos].node < node)
			pos++;
		if (pos < b->nvv && b->vv[pos].node == node)
		{
			if (b->vv[pos].counter == PG_INT64_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("or_set counter of node %d is out of range", node)));
			counter = ++b->vv[pos].counter;
		}
		else
		{
			memmove(&b->vv[pos + 1], &b->vv[pos], sizeof(OrDot) * (b->nvv - pos));
			b->vv[pos].node = node;
			b->vv[pos].pad = 0;
			b->vv[pos].counter = counter = 1;
			b->nvv++;
		}
	}

	for (int e = 0; e < s->nelems; e++)
	{
		const char *etext = OrText(s) + elems[e].text_off;
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
			if (add)
			{
				/* the new dot replaces every dot this state has for it */
				BuilderAddElem(b, text, len);
				BuilderAddDot(b, node, counter);
				BuilderEndElem(b);
				placed = true;
			}
			continue;
		}
		BuilderAddElem(b, etext, elems[e].text_len);
		for (int k = 0; k < elems[e].dot_count; k++)
			BuilderAddDot(b, OrDots(s)[elems[e].dot_start + k].node,
						  OrDots(s)[elems[e].dot_start + k].counter);
		BuilderEndElem(b);
	}
	if (add && !placed)
	{
		BuilderAddElem(b, text, len);
		BuilderAddDot(b, node, counter);
		BuilderEndElem(b);
	}
}

/* or_set_add(s, elem): add elem as this node */
PG_FUNCTION_INFO_V1(or_set_add);
Datum
or_set_add(PG_FUNCTION_ARGS)
{
	OrSet	   *s = PG_GETARG_ORSET_P(0);
	text	   *elem = PG_GETARG_TEXT_PP(1);
	OrBuilder	b;

	BuilderInit(&b, s->nvv + 1, s->nelems + 1, s->ndots + 1);
	CopyWithout(&b, s, VARDATA_ANY(elem), VARSIZE_ANY_EXHDR(elem), true);
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

	BuilderInit(&b, s->nvv, s->nelems, s->ndots);
	CopyWithout(&b, s, VARDATA_ANY(elem), VARSIZE_ANY_EXHDR(elem), false);
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
