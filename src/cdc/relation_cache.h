/*
 * src/cdc/relation_cache.h
 *	  What the geoshard output plugin knows about a table, built once per
 *	  table (and again after it changes) instead of once per change.
 */
#ifndef GEOSHARD_CDC_RELATION_CACHE_H
#define GEOSHARD_CDC_RELATION_CACHE_H

#include "utils/relcache.h"

#include "cdc/decoder_options.h"
#include "cdc/json_value.h"

typedef struct CdcColumn
{
	int			index;			/* in the tuple descriptor: attnum - 1 */
	int16		typlen;
	char	   *head;			/* {"name":"...","type":"...","value": */
	int			headlen;
	char	   *name;			/* the name as a JSON string, quotes included */
	CdcJsonType type;
} CdcColumn;

typedef struct CdcRelation
{
	Oid			relid;			/* hash key */
	bool		valid;			/* cleared by invalidations */
	bool		warned;			/* the keyless WARNING was given (kept across rebuilds) */
	MemoryContext context;		/* holds what follows; NULL before the first build */
	bool		included;		/* passes the table filters; nothing below if not */
	char	   *names;			/* ,"schema":"...","table":"..." */
	int			nameslen;
	int			ncolumns;
	CdcColumn  *columns;		/* the columns that are not dropped, in order */
	int			npk;
	int		   *pk;				/* key columns (indexes into columns), in key order */
	int			nident;
	int		   *ident;			/* replica identity columns (all under FULL) */
	bool		keyless;		/* no key and no REPLICA IDENTITY FULL */
	int			quadkey;		/* the first quadkey column (index into columns), or -1 */
} CdcRelation;

extern void CdcRelationCacheStart(MemoryContext parent);
extern CdcRelation *CdcRelationGet(Relation rel, const CdcOptions *opts);

#endif							/* GEOSHARD_CDC_RELATION_CACHE_H */
