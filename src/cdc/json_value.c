/*
 * src/cdc/json_value.c
 *	  Writing one column value of any type as a JSON value, for the events of
 *	  the geoshard output plugin.
 *
 * The rules (docs/cdc.md, "Values"):
 *   - integers, floats and numeric are JSON numbers; NaN, Infinity and
 *     -Infinity, which JSON has no number for, are the strings "NaN",
 *     "Infinity" and "-Infinity"; numeric-as-string makes every numeric a
 *     string (for consumers whose JSON numbers are doubles).  Floats are
 *     written in their shortest exact form whatever extra_float_digits says.
 *   - bool is true or false; json and jsonb are embedded as JSON (json with
 *     its line breaks outside strings removed, so an event stays one line);
 *   - bytea is the string "\x" followed by hex digits, whatever bytea_output;
 *   - date, timestamp and timestamptz are ISO 8601 strings as to_json writes
 *     them, timestamptz always in UTC ("+00:00"), whatever DateStyle and
 *     TimeZone say;
 *   - every other type, arrays and geoshard's own types included, is the
 *     string of its output function.
 * Strings go through PostgreSQL's own escape_json.  NULL is written by the
 * caller.  So the event of a change depends on the WAL and the catalogue
 * alone, not on the settings of whichever session decodes it (except
 * IntervalStyle and the like for the output-function types).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "cdc/json_value.h"

/* Pick the writer of a column type; domains are written as their base type. */
void
CdcJsonTypeInit(CdcJsonType *type, Oid typid, MemoryContext mcxt)
{
	Oid			base = getBaseType(typid);
	Oid			outfunc;
	bool		isvarlena;

	getTypeOutputInfo(base, &outfunc, &isvarlena);
	fmgr_info_cxt(outfunc, &type->output, mcxt);

	switch (base)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			type->kind = CDC_JSON_TEXT;
			break;
		case INT2OID:
			type->kind = CDC_JSON_INT2;
			break;
		case INT4OID:
			type->kind = CDC_JSON_INT4;
			break;
		case INT8OID:
			type->kind = CDC_JSON_INT8;
			break;
		case OIDOID:
		case XIDOID:
		case CIDOID:
		case XID8OID:
			type->kind = CDC_JSON_NUMBER;
			break;
		case FLOAT4OID:
			type->kind = CDC_JSON_FLOAT4;
			break;
		case FLOAT8OID:
			type->kind = CDC_JSON_FLOAT8;
			break;
		case NUMERICOID:
			type->kind = CDC_JSON_NUMERIC;
			break;
		case BOOLOID:
			type->kind = CDC_JSON_BOOL;
			break;
		case JSONOID:
			type->kind = CDC_JSON_JSON;
			break;
		case JSONBOID:
			type->kind = CDC_JSON_JSONB;
			break;
		case BYTEAOID:
			type->kind = CDC_JSON_BYTEA;
			break;
		case DATEOID:
			type->kind = CDC_JSON_DATE;
			break;
		case TIMESTAMPOID:
			type->kind = CDC_JSON_TIMESTAMP;
			break;
		case TIMESTAMPTZOID:
			type->kind = CDC_JSON_TIMESTAMPTZ;
			break;
		default:
			type->kind = CDC_JSON_STRING;
			break;
	}
}

/* A float that JSON has no number for becomes a string. */
static bool
AppendNonFinite(StringInfo buf, double d)
{
	if (isnan(d))
		appendStringInfoString(buf, "\"NaN\"");
	else if (isinf(d))
		appendStringInfoString(buf, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
		return false;
	return true;
}

/*
 * json text without its line breaks outside strings.  A json value is valid
 * JSON (json_in checked it), and inside its strings a line break can only be
 * the escape \n, so dropping raw CR and LF leaves the same value.
 */
static void
AppendJsonText(StringInfo buf, const char *s)
{
	for (; *s != '\0'; s++)
	{
		if (*s != '\n' && *s != '\r')
			appendStringInfoCharMacro(buf, *s);
	}
}

static void
AppendBytea(StringInfo buf, Datum value)
{
	bytea	   *b = DatumGetByteaPP(value);
	size_t		len = VARSIZE_ANY_EXHDR(b);

	/* 2 hex digits a byte; a bytea is below 1 GB, so this stays in an int */
	enlargeStringInfo(buf, (int) (len * 2 + 5));
	appendBinaryStringInfo(buf, "\"\\\\x", 4);
	buf->len += hex_encode(VARDATA_ANY(b), len, buf->data + buf->len);
	appendStringInfoChar(buf, '"');
}

/* Append the JSON for a non-NULL value of the column type. */
void
CdcJsonAppendValue(StringInfo buf, CdcJsonType *type, Datum value,
				   bool numeric_as_string)
{
	char		num[64];
	int			zone = 0;

	switch (type->kind)
	{
		case CDC_JSON_TEXT:
			escape_json(buf, TextDatumGetCString(value));
			break;
		case CDC_JSON_INT2:
			appendBinaryStringInfo(buf, num, pg_ltoa(DatumGetInt16(value), num));
			break;
		case CDC_JSON_INT4:
			appendBinaryStringInfo(buf, num, pg_ltoa(DatumGetInt32(value), num));
			break;
		case CDC_JSON_INT8:
			appendBinaryStringInfo(buf, num, pg_lltoa(DatumGetInt64(value), num));
			break;
		case CDC_JSON_NUMBER:
			appendStringInfoString(buf, OutputFunctionCall(&type->output, value));
			break;
		case CDC_JSON_FLOAT4:
			if (!AppendNonFinite(buf, DatumGetFloat4(value)))
				appendBinaryStringInfo(buf, num,
									   float_to_shortest_decimal_buf(DatumGetFloat4(value), num));
			break;
		case CDC_JSON_FLOAT8:
			if (!AppendNonFinite(buf, DatumGetFloat8(value)))
				appendBinaryStringInfo(buf, num,
									   double_to_shortest_decimal_buf(DatumGetFloat8(value), num));
			break;
		case CDC_JSON_NUMERIC:
			{
				Numeric		n = DatumGetNumeric(value);
				char	   *text = OutputFunctionCall(&type->output, value);

				/* numeric_out spells these NaN, Infinity and -Infinity */
				if (numeric_as_string || numeric_is_nan(n) || numeric_is_inf(n))
					escape_json(buf, text);
				else
					appendStringInfoString(buf, text);
			}
			break;
		case CDC_JSON_BOOL:
			appendStringInfoString(buf, DatumGetBool(value) ? "true" : "false");
			break;
		case CDC_JSON_JSON:
			AppendJsonText(buf, TextDatumGetCString(value));
			break;
		case CDC_JSON_JSONB:
			appendStringInfoString(buf, OutputFunctionCall(&type->output, value));
			break;
		case CDC_JSON_BYTEA:
			AppendBytea(buf, value);
			break;
		case CDC_JSON_DATE:
			escape_json(buf, JsonEncodeDateTime(NULL, value, DATEOID, NULL));
			break;
		case CDC_JSON_TIMESTAMP:
			escape_json(buf, JsonEncodeDateTime(NULL, value, TIMESTAMPOID, NULL));
			break;
		case CDC_JSON_TIMESTAMPTZ:
			escape_json(buf, JsonEncodeDateTime(NULL, value, TIMESTAMPTZOID, &zone));
			break;
		case CDC_JSON_STRING:
			escape_json(buf, OutputFunctionCall(&type->output, value));
			break;
	}
}

/* A commit time, as the ISO 8601 string of a timestamptz value in UTC. */
void
CdcJsonAppendTimestamp(StringInfo buf, TimestampTz ts)
{
	int			zone = 0;
	char		text[MAXDATELEN + 1];

	appendStringInfoChar(buf, '"');
	appendStringInfoString(buf, JsonEncodeDateTime(text, TimestampTzGetDatum(ts),
												   TIMESTAMPTZOID, &zone));
	appendStringInfoChar(buf, '"');
}
