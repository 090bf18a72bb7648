/*
 * src/cdc/event_id.h
 *	  What the workers that read the geoshard output plugin's events share:
 *	  the event id "<commit LSN>-<position>" as numbers, and keeping logical
 *	  decoding's per-call LOG lines out of the server log.
 */
#ifndef GEOSHARD_CDC_EVENT_ID_H
#define GEOSHARD_CDC_EVENT_ID_H

/* an event id "<commit LSN>-<position>" (docs/cdc.md#the-id-and-what-it-guarantees) */
typedef struct CdcId
{
	uint64		lsn;
	uint64		n;
} CdcId;

extern bool CdcParseId(const char *text, CdcId *id);

/* is a after b?  Ids increase strictly within a slot */
static inline bool
CdcIdAfter(const CdcId *a, const CdcId *b)
{
	return a->lsn > b->lsn || (a->lsn == b->lsn && a->n > b->n);
}

extern void CdcQuietDecodingLog(void);

#endif							/* GEOSHARD_CDC_EVENT_ID_H */
