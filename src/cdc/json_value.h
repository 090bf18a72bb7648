/*
 * src/cdc/json_value.h
 *	  Writing one column value of any type as a JSON value.
 */
#ifndef GEOSHARD_CDC_JSON_VALUE_H
#define GEOSHARD_CDC_JSON_VALUE_H

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"

typedef enum CdcJsonKind
{
	CDC_JSON_STRING,			/* output function, as a JSON string */
	CDC_JSON_TEXT,				/* text, varchar, bpchar: the value itself */
	CDC_JSON_INT2,
	CDC_JSON_INT4,
	CDC_JSON_INT8,
	CDC_JSON_NUMBER,			/* oid-like: output function, unquoted */
	CDC_JSON_FLOAT4,
	CDC_JSON_FLOAT8,
	CDC_JSON_NUMERIC,
	CDC_JSON_BOOL,
	CDC_JSON_JSON,
	CDC_JSON_JSONB,
	CDC_JSON_BYTEA,
	CDC_JSON_DATE,
	CDC_JSON_TIMESTAMP,
	CDC_JSON_TIMESTAMPTZ
} CdcJsonKind;

/* How values of one column type are written; filled once per relation. */
typedef struct CdcJsonType
{
	CdcJsonKind kind;
	FmgrInfo	output;			/* the type's output function */
} CdcJsonType;

extern void CdcJsonTypeInit(CdcJsonType *type, Oid typid, MemoryContext mcxt);
extern void CdcJsonAppendValue(StringInfo buf, CdcJsonType *type, Datum value,
							   bool numeric_as_string);
extern void CdcJsonAppendTimestamp(StringInfo buf, TimestampTz ts);

#endif							/* GEOSHARD_CDC_JSON_VALUE_H */
