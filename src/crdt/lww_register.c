/*
 * src/crdt/lww_register.c
 *	  lww_register: a last-writer-wins register holding a jsonb value stamped
 *	  with an hlc.
 *
 * The merge keeps the value with the later stamp.  Stamps order by time and
 * then node id, so two different nodes never tie; should the same stamp
 * carry two values (a replayed or forged write), the greater jsonb wins, so
 * every replica still picks the same one.  The merge returns one of its
 * inputs unchanged: no allocation and no re-serialisation.
 *
 * Layout (varlena, 8-byte aligned): int32 vl_len_, int32 flags (0), Hlc ts,
 * then the value as a complete jsonb varlena with a 4-byte header.
 * Text form: {"ts":"2026-11-23T23:15:47.123Z/0@7","value":{"title":"quiet room"}}
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/jsonb.h"

#include "crdt/crdt.h"

typedef struct LwwRegister
{
	int32		vl_len_;
	int32		flags;			/* reserved, 0 */
	Hlc			ts;
	char		value[FLEXIBLE_ARRAY_MEMBER];	/* a Jsonb */
} LwwRegister;

#define LwwValue(r)				((Jsonb *) (r)->value)
#define PG_GETARG_LWW_P(n)		((LwwRegister *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n)))

static LwwRegister *
LwwMake(const Hlc *ts, Jsonb *value)
{
	Size		size = add_size(offsetof(LwwRegister, value), VARSIZE(value));
	LwwRegister *result;

	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("lww_register value is too large")));
	result = palloc(size);
	SET_VARSIZE(result, size);
	result->flags = 0;
	result->ts = *ts;
	memcpy(result->value, value, VARSIZE(value));
	return result;
}

/* Skip one JSON value whose first token is current; nesting is tracked. */
static void
SkipValue(CrdtReader *reader)
{
	int			depth = 0;
	JsonTokenType token = reader->lex->token_type;

	for (;;)
	{
		if (token == JSON_TOKEN_OBJECT_START || token == JSON_TOKEN_ARRAY_START)
			depth++;
		else if (token == JSON_TOKEN_OBJECT_END || token == JSON_TOKEN_ARRAY_END)
			depth--;
		else if (token == JSON_TOKEN_END)
			CrdtInvalid(reader, "The input ends too early.");
		if (depth == 0)
			return;
		token = CrdtNext(reader);
	}
}

/* lww_register_in: {"ts": "<hlc>", "value": <json>} */
PG_FUNCTION_INFO_V1(lww_register_in);
Datum
lww_register_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	CrdtReader	reader;
	Hlc			ts;
	bool		have_ts = false;
	char	   *value = NULL;

	CrdtReaderInit(&reader, str, "lww_register");
	CrdtExpect(&reader, JSON_TOKEN_OBJECT_START);
	if (CrdtFirstKey(&reader))
	{
		do
		{
			char	   *key = reader.lex->strval->data;

			if (strcmp(key, "ts") == 0 && !have_ts)
			{
				CrdtExpect(&reader, JSON_TOKEN_COLON);
				CrdtReadHlc(&reader, &ts);
				have_ts = true;
			}
			else if (strcmp(key, "value") == 0 && value == NULL)
			{
				char	   *start;

				CrdtExpect(&reader, JSON_TOKEN_COLON);
				CrdtNext(&reader);
				start = reader.lex->token_start;
				SkipValue(&reader);
				value = pnstrdup(start, reader.lex->token_terminator - start);
			}
			else
				CrdtInvalid(&reader, psprintf("Unexpected or repeated key \"%s\".", key));
		} while (CrdtNextKey(&reader));
	}
	CrdtExpectEnd(&reader);

	if (!have_ts || value == NULL)
		CrdtInvalid(&reader, "An lww_register needs both \"ts\" and \"value\".");

	PG_RETURN_POINTER(LwwMake(&ts, DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(value)))));
}

/* lww_register_out */
PG_FUNCTION_INFO_V1(lww_register_out);
Datum
lww_register_out(PG_FUNCTION_ARGS)
{
	LwwRegister *r = PG_GETARG_LWW_P(0);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"ts\":");
	CrdtAppendHlc(&buf, &r->ts);
	appendStringInfoString(&buf, ",\"value\":");
	JsonbToCString(&buf, &LwwValue(r)->root, VARSIZE(LwwValue(r)));
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

/* lww_register_recv: int8 time, int4 node, then the value as JSON text (int4 length, bytes) */
PG_FUNCTION_INFO_V1(lww_register_recv);
Datum
lww_register_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	Hlc			ts;
	int			len;
	const char *raw;
	char	   *text;

	ts.time = (uint64) pq_getmsgint64(buf);
	ts.node = pq_getmsgint(buf, 4);
	ts.reserved = 0;
	if (ts.node < 0 || HlcPhysical(&ts) > HLC_PHYSICAL_MAX)
		CrdtInvalidBinary("lww_register", "The timestamp is out of range.");
	raw = CrdtRecvText(buf, "lww_register", &len);
	text = pnstrdup(raw, len);

	PG_RETURN_POINTER(LwwMake(&ts, DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)))));
}

/* lww_register_send */
PG_FUNCTION_INFO_V1(lww_register_send);
Datum
lww_register_send(PG_FUNCTION_ARGS)
{
	LwwRegister *r = PG_GETARG_LWW_P(0);
	StringInfoData buf;
	char	   *text = JsonbToCString(NULL, &LwwValue(r)->root, VARSIZE(LwwValue(r)));

	pq_begintypsend(&buf);
	pq_sendint64(&buf, (int64) r->ts.time);
	pq_sendint32(&buf, r->ts.node);
	CrdtSendText(&buf, text, strlen(text));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* crdt_merge(lww_register, lww_register): the later write, NULL meaning none */
PG_FUNCTION_INFO_V1(lww_register_merge);
Datum
lww_register_merge(PG_FUNCTION_ARGS)
{
	LwwRegister *a;
	LwwRegister *b;
	int			cmp;

	CRDT_MERGE_AGG_STEP(CRDT_LWW_REGISTER);
	CRDT_MERGE_NULL_SIDES();

	a = PG_GETARG_LWW_P(0);
	b = PG_GETARG_LWW_P(1);
	cmp = HlcCompare(&a->ts, &b->ts);
	if (cmp == 0)
		cmp = compareJsonbContainers(&LwwValue(a)->root, &LwwValue(b)->root);

	/*
	 * jsonb calls 1 and 1.0 equal although their bytes differ; deciding by
	 * the bytes too keeps the merge commutative for the = operator, which
	 * compares states byte for byte.
	 */
	if (cmp == 0 && VARSIZE(a) == VARSIZE(b))
		cmp = memcmp(a, b, VARSIZE(a));
	else if (cmp == 0)
		cmp = VARSIZE(a) < VARSIZE(b) ? -1 : 1;
	PG_RETURN_POINTER(cmp >= 0 ? a : b);
}

/* lww_register(value [, ts]): a register written now by this node, or at ts */
PG_FUNCTION_INFO_V1(lww_register_make);
Datum
lww_register_make(PG_FUNCTION_ARGS)
{
	Jsonb	   *value = PG_GETARG_JSONB_P(0);
	Hlc			ts;

	if (PG_NARGS() > 1)
	{
		ts = *PG_GETARG_HLC_P(1);
		CrdtCheckStamp(&ts);
	}
	else
		ts = HlcNow();
	PG_RETURN_POINTER(LwwMake(&ts, value));
}

/* crdt_value(lww_register) -> jsonb */
PG_FUNCTION_INFO_V1(lww_register_value);
Datum
lww_register_value(PG_FUNCTION_ARGS)
{
	LwwRegister *r = PG_GETARG_LWW_P(0);
	Jsonb	   *result = palloc(VARSIZE(LwwValue(r)));

	memcpy(result, LwwValue(r), VARSIZE(LwwValue(r)));
	PG_RETURN_JSONB_P(result);
}

/* lww_register_ts(r) -> hlc: when the value was written, and by which node */
PG_FUNCTION_INFO_V1(lww_register_ts);
Datum
lww_register_ts(PG_FUNCTION_ARGS)
{
	Hlc		   *result = palloc(sizeof(Hlc));

	*result = PG_GETARG_LWW_P(0)->ts;
	PG_RETURN_HLC_P(result);
}
