/*
 * src/crdt/crdt.h
 *	  Shared by the CRDT types: node ids, the text reader, and binary checks.
 *
 * Every CRDT type reads and writes a JSON text form.  Input goes through
 * PostgreSQL's JSON lexer token by token rather than through jsonb, so that
 * duplicate keys and malformed numbers are seen and refused instead of
 * silently collapsed.
 */
#ifndef GEOSHARD_CRDT_CRDT_H
#define GEOSHARD_CRDT_CRDT_H

#include "common/jsonapi.h"
#include "lib/stringinfo.h"

#include "crdt/hlc.h"

typedef struct CrdtReader
{
	JsonLexContext *lex;
	const char *input;			/* for error messages */
	const char *type;			/* SQL type name, for error messages */
} CrdtReader;

/*
 * crdt_merge is not strict: a NULL side is "no state yet", so the other
 * side is the answer, and NULL only when both are.  Returns from the
 * calling function when a side is NULL.
 */
#define CRDT_MERGE_NULL_SIDES() \
	do { \
		if (PG_ARGISNULL(0) && PG_ARGISNULL(1)) \
			PG_RETURN_NULL(); \
		if (PG_ARGISNULL(0)) \
			PG_RETURN_DATUM(PG_GETARG_DATUM(1)); \
		if (PG_ARGISNULL(1)) \
			PG_RETURN_DATUM(PG_GETARG_DATUM(0)); \
	} while (0)

/*
 * Called by the executor as crdt_merge_agg's transition or combine function,
 * crdt_merge accumulates the states and merges them once (merge_agg.c).
 */
typedef enum CrdtKind
{
	CRDT_G_COUNTER,
	CRDT_PN_COUNTER,
	CRDT_LWW_REGISTER,
	CRDT_OR_SET,
	CRDT_LWW_SET,
	CRDT_NKINDS
} CrdtKind;

extern Datum CrdtMergeAggStep(FunctionCallInfo fcinfo, CrdtKind kind);

#define CRDT_MERGE_AGG_STEP(kind) \
	do { \
		if (AggCheckCallContext(fcinfo, NULL)) \
			return CrdtMergeAggStep(fcinfo, kind); \
	} while (0)

/* The merge functions, also called by crdt_merge_agg */
extern Datum g_counter_merge(PG_FUNCTION_ARGS);
extern Datum pn_counter_merge(PG_FUNCTION_ARGS);
extern Datum lww_register_merge(PG_FUNCTION_ARGS);
extern Datum or_set_merge(PG_FUNCTION_ARGS);
extern Datum lww_set_merge(PG_FUNCTION_ARGS);

extern void CrdtReaderInit(CrdtReader *reader, char *input, const char *type);
extern JsonTokenType CrdtNext(CrdtReader *reader);
extern void CrdtExpect(CrdtReader *reader, JsonTokenType token);
extern void CrdtExpectEnd(CrdtReader *reader);
extern bool CrdtFirstKey(CrdtReader *reader);
extern bool CrdtNextKey(CrdtReader *reader);
extern int32 CrdtTokenNode(CrdtReader *reader);
extern int64 CrdtReadCount(CrdtReader *reader);
extern int64 CrdtTokenCount(CrdtReader *reader);
extern char *CrdtTokenString(CrdtReader *reader, int *len);
extern void CrdtReadHlc(CrdtReader *reader, Hlc *hlc);
extern void CrdtInvalid(CrdtReader *reader, const char *detail) pg_attribute_noreturn();

extern void CrdtAppendHlc(StringInfo buf, const Hlc *hlc);
extern int	CrdtCompareText(const char *a, int alen, const char *b, int blen);
extern void CrdtCheckNode(int64 node, bool binary);
extern void CrdtCheckStamp(const Hlc *ts);
extern void CrdtInvalidBinary(const char *type, const char *detail) pg_attribute_noreturn();
extern int	CrdtRecvCount(StringInfo buf, Size item_size, const char *type);
extern const char *CrdtRecvText(StringInfo buf, const char *type, int *len);
extern void CrdtSendText(StringInfo buf, const char *text, int len);

#endif							/* GEOSHARD_CRDT_CRDT_H */
