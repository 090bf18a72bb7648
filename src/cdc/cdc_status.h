/*
 * src/cdc/cdc_status.h
 *	  The cdc worker's figures per sink, kept in shared memory for the view
 *	  geoshard.cdc_status.
 */
#ifndef GEOSHARD_CDC_CDC_STATUS_H
#define GEOSHARD_CDC_CDC_STATUS_H

#include "access/xlogdefs.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

/* at most this many sinks (the cdc_sinks trigger refuses more) */
#define CDC_MAX_SINKS			64
#define CDC_URL_LEN				256
/* "<uint64>-<uint64>" and its NUL */
#define CDC_ID_LEN				42
#define CDC_ERROR_LEN			256

typedef enum CdcState
{
	CDC_STATE_STARTING,			/* loaded; no slot or no Redis connection yet */
	CDC_STATE_STREAMING,		/* the last pass succeeded */
	CDC_STATE_RETRYING,			/* the last pass failed; waiting out a backoff */
	CDC_STATE_PAUSED,			/* geoshard.cdc_enabled is off */
	CDC_STATE_DISABLED			/* the sink is disabled (enable_cdc_sink) */
} CdcState;

typedef struct CdcSinkStatus
{
	char		sink[NAMEDATALEN];	/* the sink's name */
	char		slot[NAMEDATALEN];	/* its replication slot (for the metrics' WAL figures) */
	CdcState	state;
	char		redis_url[CDC_URL_LEN]; /* masked */
	char		last_id[CDC_ID_LEN];	/* last event id published or found in Redis; "" none */
	XLogRecPtr	last_lsn;		/* commit LSN of last_id */
	TimestampTz behind_since;	/* since when there is WAL left to publish; 0 caught up */
	double		events_per_s;	/* over the last second or so */
	double		rtt_ms;			/* the last exchange with Redis; NaN none */
	uint64		published;		/* events added to streams since the worker started */
	uint64		skipped;		/* events Redis already held */
	uint64		errors;			/* failed passes since the worker started */
	char		last_error[CDC_ERROR_LEN];	/* "" none */
	TimestampTz last_error_at;
} CdcSinkStatus;

extern Size CdcShmemSize(void);
extern void CdcShmemInit(void *shared, bool found, LWLockPadded *locks);
extern void CdcStatusPublish(const CdcSinkStatus *sinks, int n);
extern int	CdcStatusCopy(CdcSinkStatus *out);
extern void CdcWorkerAttach(void);
extern uint64 CdcSinksGeneration(void);
extern const char *CdcStateName(CdcState state);

#endif							/* GEOSHARD_CDC_CDC_STATUS_H */
