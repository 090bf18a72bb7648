/*
 * src/redisview/redisview.h
 *	  Redis views: the redisview worker's figures per view, kept in shared
 *	  memory for geoshard.redisview_status, and the Redis key layout shared by
 *	  the worker and the SQL helpers.
 */
#ifndef GEOSHARD_REDISVIEW_REDISVIEW_H
#define GEOSHARD_REDISVIEW_REDISVIEW_H

#include "access/xlogdefs.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

/* at most this many views are kept in Redis */
#define REDISVIEW_MAX_VIEWS		64
#define REDISVIEW_ERROR_LEN		256

/*
 * Key layout (docs/redisview.md): every key of view v starts with
 * "geoshard:rv:<v>:".  "geoshard:rv:<v>:gen" holds the live generation g;
 * the view's data lives under "geoshard:rv:<v>:<g>".
 */
#define REDISVIEW_PREFIX		"geoshard:rv:"

typedef enum RedisViewState
{
	REDISVIEW_STATE_STARTING,	/* loaded, not built yet */
	REDISVIEW_STATE_BUILDING,	/* a snapshot is loaded into a new generation */
	REDISVIEW_STATE_STREAMING,	/* the last pass succeeded */
	REDISVIEW_STATE_RETRYING,	/* the last pass failed; waiting out a backoff */
	REDISVIEW_STATE_DISABLED	/* the view or geoshard.redisview_enabled is off */
} RedisViewState;

typedef struct RedisViewStatus
{
	char		view[NAMEDATALEN];
	RedisViewState state;
	int64		generation;		/* live generation; 0 none yet */
	uint64		lag_bytes;		/* WAL between the slot and the flush position */
	TimestampTz behind_since;	/* since when there is WAL left to apply; 0 caught up */
	double		rows_per_s;		/* row changes applied, over the last second or so */
	int64		keys;			/* members, rows or keys held (kept by the worker) */
	uint64		applied;		/* row changes applied since the worker started */
	uint64		skipped;		/* rows skipped (coordinates out of range) */
	int64		build_rows;		/* rows loaded by the current or last build */
	int64		build_total;	/* the table's estimated rows when that build began */
	TimestampTz built_at;		/* when the live generation was switched in */
	char		last_error[REDISVIEW_ERROR_LEN];	/* "" none */
	TimestampTz last_error_at;
} RedisViewStatus;

/*
 * Counts kept beside each published view (status.c, RedisViewStatusPublish)
 * for the metrics: they survive restarts of the worker, not of the server.
 */
typedef struct RedisViewCounts
{
	uint64		errors;			/* publications with a new last_error_at */
	uint64		builds;			/* publications with a new built_at: builds gone live */
} RedisViewCounts;

extern Size RedisViewShmemSize(void);
extern void RedisViewShmemInit(void *shared, bool found, LWLockPadded *locks);
extern void RedisViewStatusPublish(const RedisViewStatus *views, int n);
extern int	RedisViewStatusCopy(RedisViewStatus *out, RedisViewCounts *counts);
extern const char *RedisViewStateName(RedisViewState state);

#endif							/* GEOSHARD_REDISVIEW_REDISVIEW_H */
