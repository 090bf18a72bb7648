/*
 * src/crdt/crdt_io.c
 *	  Text and binary input helpers shared by the CRDT types.
 *
 * The reader walks JSON tokens from PostgreSQL's lexer; each type's input
 * function drives it with its own small grammar and refuses anything else
 * with INVALID_TEXT_REPRESENTATION.  Binary input checks every count
 * against the bytes actually present before anything is allocated.
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "crdt/crdt.h"

void
CrdtReaderInit(CrdtReader *reader, char *input, const char *type)
{
	reader->lex = makeJsonLexContextCstringLen(input, strlen(input), GetDatabaseEncoding(), true);
	reader->input = input;
	reader->type = type;
}

void
CrdtInvalid(CrdtReader *reader, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", reader->type, reader->input),
			 errdetail_internal("%s", detail)));
}

/* Move to the next token and return its type. */
JsonTokenType
CrdtNext(CrdtReader *reader)
{
	JsonParseErrorType error = json_lex(reader->lex);

	if (error != JSON_SUCCESS)
		CrdtInvalid(reader, json_errdetail(error, reader->lex));
	return reader->lex->token_type;
}

void
CrdtExpect(CrdtReader *reader, JsonTokenType token)
{
	JsonTokenType found = CrdtNext(reader);

	if (found == token)
		return;
	/* at the end the lexer has no token text: say what is missing instead */
	if (found == JSON_TOKEN_END)
		CrdtInvalid(reader, reader->input[strspn(reader->input, " \t\n\r")] == '\0' ?
					"The input is empty." : "The input ends too early.");
	CrdtInvalid(reader, psprintf("Unexpected token \"%.*s\".",
								 (int) (reader->lex->token_terminator - reader->lex->token_start),
								 reader->lex->token_start));
}

/* Nothing but whitespace may follow the value. */
void
CrdtExpectEnd(CrdtReader *reader)
{
	if (CrdtNext(reader) != JSON_TOKEN_END)
		CrdtInvalid(reader, "Unexpected text after the end of the value.");
}

void
CrdtCheckNode(int64 node, bool binary)
{
	if (node < 1 || node > PG_INT32_MAX)
	{
		if (binary)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid node id " INT64_FORMAT " in binary input", node),
					 errdetail("Node ids run from 1 to %d.", PG_INT32_MAX)));
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("node id " INT64_FORMAT " is out of range", node),
				 errdetail("Node ids run from 1 to %d.", PG_INT32_MAX)));
	}
}

/*
 * A stamp given by the caller to a mutator must name a node: node 0 is what
 * an unset geoshard.node_id would stamp, and no node may claim it.
 */
void
CrdtCheckStamp(const Hlc *ts)
{
	if (ts->node < 1)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("hlc node id %d is out of range", ts->node),
				 errdetail("Node ids run from 1 to %d.", PG_INT32_MAX),
				 errhint("Build the stamp with hlc_now() or with hlc(time, logical, node) and a node id of 1 or more.")));
}

/*
 * After an object's "{": true when a key (a string token) is current, false
 * when the object is empty.
 */
bool
CrdtFirstKey(CrdtReader *reader)
{
	JsonTokenType token = CrdtNext(reader);

	if (token == JSON_TOKEN_OBJECT_END)
		return false;
	if (token == JSON_TOKEN_END)
		CrdtInvalid(reader, "The input ends too early.");
	if (token != JSON_TOKEN_STRING)
		CrdtInvalid(reader, "Expected a string key or \"}\".");
	return true;
}

/* After a member's value: true when another key is current, false at "}". */
bool
CrdtNextKey(CrdtReader *reader)
{
	JsonTokenType token = CrdtNext(reader);

	if (token == JSON_TOKEN_OBJECT_END)
		return false;
	if (token == JSON_TOKEN_END)
		CrdtInvalid(reader, "The input ends too early.");
	if (token != JSON_TOKEN_COMMA)
		CrdtInvalid(reader, "Expected \",\" or \"}\".");
	CrdtExpect(reader, JSON_TOKEN_STRING);
	return true;
}

/* The current string token as a node id: decimal digits, no leading zero. */
int32
CrdtTokenNode(CrdtReader *reader)
{
	const char *s = reader->lex->strval->data;
	int64		node = 0;

	if (s[0] < '1' || s[0] > '9')
		CrdtInvalid(reader, psprintf("Node id \"%s\" is not a positive integer.", s));
	for (; *s; s++)
	{
		if (*s < '0' || *s > '9')
			CrdtInvalid(reader, psprintf("Node id \"%s\" is not a positive integer.",
										 reader->lex->strval->data));
		node = node * 10 + (*s - '0');
		if (node > PG_INT32_MAX)
			CrdtInvalid(reader, psprintf("Node id \"%s\" is out of range.", reader->lex->strval->data));
	}
	return (int32) node;
}

/* A count: a JSON integer from 0 to 2^63-1, digits only. */
int64
CrdtReadCount(CrdtReader *reader)
{
	CrdtExpect(reader, JSON_TOKEN_NUMBER);
	return CrdtTokenCount(reader);
}

/* The current number token as a count (see CrdtReadCount). */
int64
CrdtTokenCount(CrdtReader *reader)
{
	const char *p;
	const char *end;
	uint64		value = 0;

	p = reader->lex->token_start;
	end = reader->lex->token_terminator;
	for (const char *c = p; c < end; c++)
	{
		if (*c < '0' || *c > '9')
			CrdtInvalid(reader, psprintf("Count \"%.*s\" is not a non-negative integer.",
										 (int) (end - p), p));
		value = value * 10 + (uint64) (*c - '0');
		if (value > (uint64) PG_INT64_MAX)
			CrdtInvalid(reader, psprintf("Count \"%.*s\" is out of range.", (int) (end - p), p));
	}
	return (int64) value;
}

/* The current string token, de-escaped, in the current memory context. */
char *
CrdtTokenString(CrdtReader *reader, int *len)
{
	*len = reader->lex->strval->len;
	return pnstrdup(reader->lex->strval->data, reader->lex->strval->len);
}

/* An hlc in its text form, as a JSON string. */
void
CrdtReadHlc(CrdtReader *reader, Hlc *hlc)
{
	CrdtExpect(reader, JSON_TOKEN_STRING);
	if (!HlcParse(reader->lex->strval->data, hlc))
		CrdtInvalid(reader, psprintf("\"%s\" is not an hlc timestamp.", reader->lex->strval->data));
}

void
CrdtAppendHlc(StringInfo buf, const Hlc *hlc)
{
	appendStringInfoChar(buf, '"');
	HlcToText(buf, hlc);
	appendStringInfoChar(buf, '"');
}

void
CrdtInvalidBinary(const char *type, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary input for type %s", type),
			 errdetail_internal("%s", detail)));
}

/*
 * Read an item count and check that the message still holds at least that
 * many items of item_size bytes, before anyone allocates for them.
 */
int
CrdtRecvCount(StringInfo buf, Size item_size, const char *type)
{
	int32		n = pq_getmsgint(buf, 4);

	if (n < 0)
		CrdtInvalidBinary(type, psprintf("Negative item count %d.", n));
	if ((Size) n > (Size) (buf->len - buf->cursor) / item_size)
		CrdtInvalidBinary(type, psprintf("Item count %d exceeds the %d bytes that follow.",
										 n, buf->len - buf->cursor));
	return n;
}

/*
 * Text inside a binary value: an int4 byte length, then the text in the
 * client encoding, converted as textrecv and textsend convert.  Reading
 * checks the length against the bytes present and the text's encoding
 * (which also refuses NUL bytes); the result is in the database encoding.
 */
const char *
CrdtRecvText(StringInfo buf, const char *type, int *len)
{
	int32		n = pq_getmsgint(buf, 4);
	const char *raw;
	char	   *text;

	if (n < 0 || n > buf->len - buf->cursor)
		CrdtInvalidBinary(type, psprintf("Text length %d exceeds the %d bytes that follow.",
										 n, buf->len - buf->cursor));
	raw = pq_getmsgbytes(buf, n);
	text = pg_client_to_server(raw, n);
	*len = text == raw ? n : (int) strlen(text);
	return text;
}

void
CrdtSendText(StringInfo buf, const char *text, int len)
{
	char	   *converted = pg_server_to_client(text, len);
	int			n = converted == text ? len : (int) strlen(converted);

	pq_sendint32(buf, n);
	pq_sendbytes(buf, converted, n);
}

/*
 * Order of set elements: by bytes, then by length.  Collation-free, so every
 * node stores, merges and returns elements in the same order.
 */
int
CrdtCompareText(const char *a, int alen, const char *b, int blen)
{
	int			cmp = memcmp(a, b, Min(alen, blen));

	return cmp != 0 ? cmp : (alen < blen ? -1 : alen > blen ? 1 : 0);
}
