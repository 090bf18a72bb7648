/*
 * src/ratelimit/gcra.h
 *	  The generic cell rate algorithm (GCRA): one decision on one key's
 *	  theoretical arrival time, and the monotonic clock it is measured on.
 */
#ifndef GEOSHARD_RATELIMIT_GCRA_H
#define GEOSHARD_RATELIMIT_GCRA_H

/* longest window (burst / per_second) a limit may span: ten years, in ns */
#define GCRA_MAX_WINDOW_NS	(INT64CONST(10) * 365 * 24 * 3600 * 1000000000)

/* largest rate: one request per nanosecond */
#define GCRA_MAX_RATE		1e9

/* A limit, checked by the caller: times are nanoseconds. */
typedef struct GcraLimit
{
	int64		interval;		/* emission interval, 1 / rate: >= 1 */
	int64		window;			/* burst * interval: <= GCRA_MAX_WINDOW_NS */
	int32		burst;			/* >= 1 */
	int32		cost;			/* >= 0; > burst is never allowed */
} GcraLimit;

/* What one decision says; the times are nanoseconds from now. */
typedef struct GcraDecision
{
	bool		allowed;
	bool		changed;		/* new_tat must be stored */
	int64		new_tat;		/* the key's theoretical arrival time afterwards */
	int32		remaining;		/* requests of cost 1 that would pass right now */
	int64		retry_after;	/* 0 when allowed; -1 when never (cost > burst) */
	int64		reset_after;	/* until the key is full again */
} GcraDecision;

extern void GcraDecide(const GcraLimit *limit, int64 tat, int64 now, GcraDecision *out);
extern int64 GcraNow(void);

#endif							/* GEOSHARD_RATELIMIT_GCRA_H */
