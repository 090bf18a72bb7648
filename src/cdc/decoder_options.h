/*
 * src/cdc/decoder_options.h
 *	  The options of the geoshard output plugin, parsed once at slot start.
 */
#ifndef GEOSHARD_CDC_DECODER_OPTIONS_H
#define GEOSHARD_CDC_DECODER_OPTIONS_H

#include "nodes/pg_list.h"

/* bits of CdcOptions.actions */
#define CDC_ACTION_INSERT	0x01
#define CDC_ACTION_UPDATE	0x02
#define CDC_ACTION_DELETE	0x04
#define CDC_ACTION_TRUNCATE	0x08
#define CDC_ACTION_ALL		0x0F

typedef struct CdcOptions
{
	bool		include_begin_commit;	/* print "B" and "C" events */
	bool		include_old;	/* "identity": old values, when logged */
	bool		numeric_as_string;	/* numeric values as JSON strings */
	bool		include_xids;	/* "xid" on transactional events */
	bool		include_timestamp;	/* "timestamp" on transactional events */
	int			actions;		/* CDC_ACTION_* bits of the row events printed */
	List	   *include_tables; /* CdcTablePattern *; empty: every table */
	List	   *exclude_tables; /* CdcTablePattern * */
	List	   *include_prefixes;	/* CdcPattern *; empty: every message */
	List	   *exclude_prefixes;	/* CdcPattern * */
} CdcOptions;

extern void CdcOptionsParse(CdcOptions *opts, List *defels);
extern bool CdcOptionsTableIncluded(const CdcOptions *opts, const char *schema,
									const char *table);
extern bool CdcOptionsPrefixIncluded(const CdcOptions *opts, const char *prefix);

#endif							/* GEOSHARD_CDC_DECODER_OPTIONS_H */
