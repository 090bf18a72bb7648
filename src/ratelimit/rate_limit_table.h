/*
 * src/ratelimit/rate_limit_table.h
 *	  The bounded shared hash table of rate-limited keys.
 */
#ifndef GEOSHARD_RATELIMIT_RATE_LIMIT_TABLE_H
#define GEOSHARD_RATELIMIT_RATE_LIMIT_TABLE_H

#include "storage/lwlock.h"

#include "ratelimit/gcra.h"

/* longest key, in bytes: what fills an entry to three cache lines */
#define RATE_LIMIT_KEY_MAX	160

/* lock partitions (as the lock manager's NUM_LOCK_PARTITIONS); a power of two */
#define RATE_LIMIT_PARTITIONS 16

/* The table as geoshard.rate_limit_usage shows it: sums over all partitions. */
typedef struct RateLimitUsage
{
	int64		capacity;		/* entries the table holds */
	int64		entries;		/* entries taken (taken entries are only ever replaced) */
	int64		active;			/* entries whose key is not full: TAT still ahead */
	int64		evictions;		/* keys forgotten while not full (lost state) */
	int64		recycled;		/* entries of full keys reused (nothing lost) */
	int64		allowed;		/* decisions since server start */
	int64		denied;
} RateLimitUsage;

extern Size RateLimitShmemSize(void);
extern void RateLimitShmemInit(void *shared, bool found, LWLockPadded *locks);
extern bool RateLimitAttached(void);
extern void RateLimitApply(const char *key, int keylen, const GcraLimit *limit,
						   GcraDecision *out);
extern void RateLimitUsageGet(RateLimitUsage *out);
extern void RateLimitCountersGet(RateLimitUsage *out);

#endif							/* GEOSHARD_RATELIMIT_RATE_LIMIT_TABLE_H */
