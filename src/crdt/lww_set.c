/*
 * src/crdt/lww_set.c
 *	  lww_set: a last-writer-wins element set of text elements.
 *
 * Each element keeps the latest hlc at which it was added and the latest at
 * which it was removed.  It is in the set when it has an add stamp no older
 * than its remove stamp (add wins a tie).  The merge takes, per element, the
 * later of each stamp, so it is commutative, associative and idempotent.
 *
 * A remove applies only to an element the state holds.  In 0.1 a remove of
 * an element the state had never seen still wrote a remove stamp, so
 * lww_set_remove('{}', 'a') merged into a row silently dropped every add of
 * 'a' stamped earlier, adds it had never observed; the same went for a
 * repeated remove of an element already gone, which could cancel adds made
 * since.  Now such a remove leaves the state unchanged.
 *
 * Layout (varlena, 8-byte aligned): int32 vl_len_, int32 nelems,
 * LwwEntry entries[nelems] sorted by element bytes, then the element text.
 * Text form: {"a":{"add":"2026-11-23T23:15:47.123Z/0@1"},
 *             "b":{"add":"...","rm":"..."}}; '{}' is the empty set.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "crdt/crdt.h"

#define LWW_HAS_ADD		0x1
#define LWW_HAS_RM		0x2

typedef struct LwwEntry
{
	Hlc			add;
	Hlc			rm;
	int32		flags;			/* LWW_HAS_ADD | LWW_HAS_RM, at least one */
	int32		text_off;
	int32		text_len;
	int32		pad;			/* 0 */
} LwwEntry;

typedef struct LwwSet
{
	int32		vl_len_;
	int32		nelems;
	LwwEntry	entries[FLEXIBLE_ARRAY_MEMBER];
} LwwSet;

#define LwwText(s)				((char *) ((s)->entries + (s)->nelems))
#define PG_GETARG_LWWSET_P(n)	((LwwSet *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n)))

/* An element with its stamps, pointing at text owned elsewhere */
typedef struct LwwItem
{
	const char *text;
	int			len;
	int32		flags;
	Hlc			add;
	Hlc			rm;
} LwwItem;

static int
CompareItems(const void *a, const void *b)
{
	const LwwItem *x = a;
	const LwwItem *y = b;

	return CrdtCompareText(x->text, x->len, y->text, y->len);
}

static LwwSet *
LwwSetBuild(const LwwItem *items, int n)
{
	Size		size = add_size(offsetof(LwwSet, entries), mul_size(sizeof(LwwEntry), n));
	LwwSet	   *result;
	char	   *text;
	int32		off = 0;

	for (int i = 0; i < n; i++)
		size = add_size(size, items[i].len);
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("lww_set is too large (%zu bytes)", size)));

	result = palloc0(size);
	SET_VARSIZE(result, size);
	result->nelems = n;
	text = LwwText(result);
	for (int i = 0; i < n; i++)
	{
		LwwEntry   *e = &result->entries[i];

		e->flags = items[i].flags;
		if (items[i].flags & LWW_HAS_ADD)
			e->add = items[i].add;
		if (items[i].flags & LWW_HAS_RM)
			e->rm = items[i].rm;
		e->text_off = off;
		e->text_len = items[i].len;
		memcpy(text + off, items[i].text, items[i].len);
		off += items[i].len;
	}
	return result;
}

static LwwItem *
LwwItems(LwwSet *s)
{
	LwwItem    *items = palloc(sizeof(LwwItem) * (s->nelems + 1));

	for (int i = 0; i < s->nelems; i++)
	{
		LwwEntry   *e = &s->entries[i];

		items[i].text = LwwText(s) + e->text_off;
		items[i].len = e->text_len;
		items[i].flags = e->flags;
		items[i].add = e->add;
		items[i].rm = e->rm;
	}
	return items;
}

/* Sorted, unique, and every element has a stamp. */
static void
CheckItems(LwwItem *items, int n, bool binary)
{
	for (int i = 0; i < n; i++)
	{
		const char *problem = NULL;

		if ((items[i].flags & (LWW_HAS_ADD | LWW_HAS_RM)) == 0 ||
			(items[i].flags & ~(LWW_HAS_ADD | LWW_HAS_RM)) != 0)
			problem = psprintf("Element \"%.*s\" needs an \"add\" or an \"rm\" stamp, and nothing else.",
							   items[i].len, items[i].text);
		else if (i > 0 && CrdtCompareText(items[i - 1].text, items[i - 1].len, items[i].text, items[i].len) >= 0)
			problem = psprintf("Element \"%.*s\" is out of order or repeated.", items[i].len, items[i].text);

		if (problem != NULL)
		{
			if (binary)
				CrdtInvalidBinary("lww_set", problem);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid lww_set value"),
					 errdetail_internal("%s", problem)));
		}
	}
}

/* lww_set_in */
PG_FUNCTION_INFO_V1(lww_set_in);
Datum
lww_set_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	CrdtReader	reader;
	int			cap = 8;
	int			n = 0;
	LwwItem    *items = palloc(sizeof(LwwItem) * cap);

	CrdtReaderInit(&reader, str, "lww_set");
	CrdtExpect(&reader, JSON_TOKEN_OBJECT_START);
	if (CrdtFirstKey(&reader))
	{
		do
		{
			LwwItem    *item;

			if (n == cap)
			{
				cap *= 2;
				items = repalloc_huge(items, mul_size(sizeof(LwwItem), cap));
			}
			item = &items[n++];
			item->text = CrdtTokenString(&reader, &item->len);
			item->flags = 0;
			CrdtExpect(&reader, JSON_TOKEN_COLON);
			CrdtExpect(&reader, JSON_TOKEN_OBJECT_START);
			if (CrdtFirstKey(&reader))
			{
				do
				{
					char	   *key = reader.lex->strval->data;

					CrdtExpect(&reader, JSON_TOKEN_COLON);
					if (strcmp(key, "add") == 0 && !(item->flags & LWW_HAS_ADD))
					{
						CrdtReadHlc(&reader, &item->add);
						item->flags |= LWW_HAS_ADD;
					}
					else if (strcmp(key, "rm") == 0 && !(item->flags & LWW_HAS_RM))
					{
						CrdtReadHlc(&reader, &item->rm);
						item->flags |= LWW_HAS_RM;
					}
					else
						CrdtInvalid(&reader, psprintf("Unexpected or repeated key \"%s\".", key));
				} while (CrdtNextKey(&reader));
			}
		} while (CrdtNextKey(&reader));
	}
	CrdtExpectEnd(&reader);

	qsort(items, n, sizeof(LwwItem), CompareItems);
	CheckItems(items, n, false);
	PG_RETURN_POINTER(LwwSetBuild(items, n));
}

/* lww_set_out */
PG_FUNCTION_INFO_V1(lww_set_out);
Datum
lww_set_out(PG_FUNCTION_ARGS)
{
	LwwSet	   *s = PG_GETARG_LWWSET_P(0);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < s->nelems; i++)
	{
		LwwEntry   *e = &s->entries[i];

		if (i > 0)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, pnstrdup(LwwText(s) + e->text_off, e->text_len));
		appendStringInfoChar(&buf, ':');
		appendStringInfoChar(&buf, '{');
		if (e->flags & LWW_HAS_ADD)
		{
			appendStringInfoString(&buf, "\"add\":");
			CrdtAppendHlc(&buf, &e->add);
		}
		if (e->flags & LWW_HAS_RM)
		{
			appendStringInfoString(&buf, (e->flags & LWW_HAS_ADD) ? ",\"rm\":" : "\"rm\":");
			CrdtAppendHlc(&buf, &e->rm);
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

static void
RecvHlc(StringInfo buf, Hlc *hlc)
{
	hlc->time = (uint64) pq_getmsgint64(buf);
	hlc->node = pq_getmsgint(buf, 4);
	hlc->reserved = 0;
	if (hlc->node < 0 || HlcPhysical(hlc) > HLC_PHYSICAL_MAX)
		CrdtInvalidBinary("lww_set", "A timestamp is out of range.");
}

/*
 * lww_set_recv: int4 nelems, then per element: int4 length, bytes, int4
 * flags, and for each flag set an hlc (int8 time, int4 node), add first.
 */
PG_FUNCTION_INFO_V1(lww_set_recv);
Datum
lww_set_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			n = CrdtRecvCount(buf, 8, "lww_set");
	LwwItem    *items = palloc(sizeof(LwwItem) * (n + 1));

	for (int i = 0; i < n; i++)
	{
		items[i].text = CrdtRecvText(buf, "lww_set", &items[i].len);
		items[i].flags = pq_getmsgint(buf, 4);
		if (items[i].flags & LWW_HAS_ADD)
			RecvHlc(buf, &items[i].add);
		if (items[i].flags & LWW_HAS_RM)
			RecvHlc(buf, &items[i].rm);
	}
	CheckItems(items, n, true);
	PG_RETURN_POINTER(LwwSetBuild(items, n));
}

/* lww_set_send */
PG_FUNCTION_INFO_V1(lww_set_send);
Datum
lww_set_send(PG_FUNCTION_ARGS)
{
	LwwSet	   *s = PG_GETARG_LWWSET_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->nelems);
	for (int i = 0; i < s->nelems; i++)
	{
		LwwEntry   *e = &s->entries[i];

		CrdtSendText(&buf, LwwText(s) + e->text_off, e->text_len);
		pq_sendint32(&buf, e->flags);
		if (e->flags & LWW_HAS_ADD)
		{
			pq_sendint64(&buf, (int64) e->add.time);
			pq_sendint32(&buf, e->add.node);
		}
		if (e->flags & LWW_HAS_RM)
		{
			pq_sendint64(&buf, (int64) e->rm.time);
			pq_sendint32(&buf, e->rm.node);
		}
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Fold b's stamps into a: the later of each. */
static void
FoldStamps(LwwItem *a, const LwwItem *b)
{
	if ((b->flags & LWW_HAS_ADD) &&
		(!(a->flags & LWW_HAS_ADD) || HlcCompare(&b->add, &a->add) > 0))
		a->add = b->add;
	if ((b->flags & LWW_HAS_RM) &&
		(!(a->flags & LWW_HAS_RM) || HlcCompare(&b->rm, &a->rm) > 0))
		a->rm = b->rm;
	a->flags |= b->flags;
}

/* crdt_merge(lww_set, lww_set), NULL meaning no state yet */
PG_FUNCTION_INFO_V1(lww_set_merge);
Datum
lww_set_merge(PG_FUNCTION_ARGS)
{
	LwwSet	   *a;
	LwwSet	   *b;
	LwwItem    *ai;
	LwwItem    *bi;
	LwwItem    *out;
	int			i = 0,
				j = 0,
				n = 0;

	CRDT_MERGE_AGG_STEP(CRDT_LWW_SET);
	CRDT_MERGE_NULL_SIDES();

	a = PG_GETARG_LWWSET_P(0);
	b = PG_GETARG_LWWSET_P(1);
	ai = LwwItems(a);
	bi = LwwItems(b);
	out = palloc(sizeof(LwwItem) * ((Size) a->nelems + b->nelems + 1));
	while (i < a->nelems || j < b->nelems)
	{
		int			cmp = j >= b->nelems ? -1 : i >= a->nelems ? 1 :
			CrdtCompareText(ai[i].text, ai[i].len, bi[j].text, bi[j].len);

		if (cmp < 0)
			out[n++] = ai[i++];
		else if (cmp > 0)
			out[n++] = bi[j++];
		else
		{
			out[n] = ai[i++];
			FoldStamps(&out[n++], &bi[j++]);
		}
	}
	PG_RETURN_POINTER(LwwSetBuild(out, n));
}

/* True when entry e is in the set: an add stamp no older than its remove stamp */
static inline bool
LwwPresent(int32 flags, const Hlc *add, const Hlc *rm)
{
	return (flags & LWW_HAS_ADD) &&
		(!(flags & LWW_HAS_RM) || HlcCompare(add, rm) >= 0);
}

/*
 * Set the add or remove stamp of elem to ts if later, in a new copy of s.  A
 * remove of an element s does not hold returns s itself.
 */
static LwwSet *
LwwSetStamp(LwwSet *s, text *elem, const Hlc *ts, int32 flag)
{
	LwwItem    *items = LwwItems(s);
	LwwItem		change;
	int			pos = 0;

	change.text = VARDATA_ANY(elem);
	change.len = VARSIZE_ANY_EXHDR(elem);
	change.flags = flag;
	change.add = *ts;
	change.rm = *ts;

	while (pos < s->nelems && CrdtCompareText(items[pos].text, items[pos].len, change.text, change.len) < 0)
		pos++;
	if (flag == LWW_HAS_RM &&
		(pos == s->nelems ||
		 CrdtCompareText(items[pos].text, items[pos].len, change.text, change.len) != 0 ||
		 !LwwPresent(items[pos].flags, &items[pos].add, &items[pos].rm)))
		return s;
	if (pos < s->nelems && CrdtCompareText(items[pos].text, items[pos].len, change.text, change.len) == 0)
		FoldStamps(&items[pos], &change);
	else
	{
		memmove(&items[pos + 1], &items[pos], sizeof(LwwItem) * (s->nelems - pos));
		items[pos] = change;
		return LwwSetBuild(items, s->nelems + 1);
	}
	return LwwSetBuild(items, s->nelems);
}

/* The stamp of a mutator: the caller's, which must name a node, or now */
static Hlc
MutatorStamp(FunctionCallInfo fcinfo)
{
	Hlc			ts;

	if (PG_NARGS() <= 2)
		return HlcNow();
	ts = *PG_GETARG_HLC_P(2);
	CrdtCheckStamp(&ts);
	return ts;
}

/* lww_set_add(s, elem [, ts]) */
PG_FUNCTION_INFO_V1(lww_set_add);
Datum
lww_set_add(PG_FUNCTION_ARGS)
{
	Hlc			ts = MutatorStamp(fcinfo);

	PG_RETURN_POINTER(LwwSetStamp(PG_GETARG_LWWSET_P(0), PG_GETARG_TEXT_PP(1), &ts, LWW_HAS_ADD));
}

/* lww_set_remove(s, elem [, ts]): a no-op when s does not hold elem */
PG_FUNCTION_INFO_V1(lww_set_remove);
Datum
lww_set_remove(PG_FUNCTION_ARGS)
{
	Hlc			ts = MutatorStamp(fcinfo);

	PG_RETURN_POINTER(LwwSetStamp(PG_GETARG_LWWSET_P(0), PG_GETARG_TEXT_PP(1), &ts, LWW_HAS_RM));
}

/* crdt_value(lww_set) -> text[]: elements added no earlier than removed, in byte order */
PG_FUNCTION_INFO_V1(lww_set_value);
Datum
lww_set_value(PG_FUNCTION_ARGS)
{
	LwwSet	   *s = PG_GETARG_LWWSET_P(0);
	Datum	   *values = palloc(sizeof(Datum) * Max(s->nelems, 1));
	int			n = 0;

	for (int i = 0; i < s->nelems; i++)
	{
		LwwEntry   *e = &s->entries[i];

		if (LwwPresent(e->flags, &e->add, &e->rm))
			values[n++] = PointerGetDatum(cstring_to_text_with_len(LwwText(s) + e->text_off, e->text_len));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(values, n, TEXTOID, -1, false, TYPALIGN_INT));
}
