/*
 * src/ratelimit/rate_limit_table.c
 *	  The bounded shared hash table that keeps one theoretical arrival time
 *	  (TAT) per rate-limited key, for every backend of the server.
 *
 * Layout.  The table is split into RATE_LIMIT_PARTITIONS partitions, as
 * PostgreSQL's lock manager splits its lock table: a key's hash picks its
 * partition, and each partition has its own LWLock from the "geoshard"
 * tranche, so decisions on keys of different partitions never wait for each
 * other.  A partition owns a fixed array of entries (geoshard.rate_limit_keys
 * / RATE_LIMIT_PARTITIONS, rounded up) and a power-of-two array of bucket
 * heads; entries of one bucket are chained through "next" (indexes into the
 * partition's entries, -1 ends a chain), twice as many as entries.
 * Everything is sized at server start: memory never grows.
 *
 * Keys carry the database they were used in, so that two databases never
 * share a key by accident.
 *
 * Eviction.  Entries are taken in order until the partition is full and are
 * never freed; afterwards a new key replaces the entry with the oldest TAT
 * among RATE_LIMIT_SAMPLE consecutive entries from a random start (an
 * approximate LRU, like Redis's sampled one).  The oldest TAT is the key
 * closest to full, and a key whose TAT has passed is full: forgetting it
 * loses nothing, since a key not in the table is treated as full.  So the
 * sample stops at the first such entry ("recycled"), and only when every
 * sampled key is still refilling does a key lose state ("evictions"): it is
 * then treated as full again, which lets its client through sooner than it
 * should, never later.
 *
 * Locking.  Each partition's lock guards its header fields, bucket heads and
 * entries.  A decision takes its partition's lock exclusively for a chain
 * walk, one GcraDecide and at most one store (the clock is read under the
 * lock, so the decisions on one key see non-decreasing times); the usage
 * view takes each lock shared in turn.  No lock is held across anything
 * that can fail or wait.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"

#include "core/guc.h"
#include "ratelimit/rate_limit_table.h"

/* entries compared when a full partition needs room */
#define RATE_LIMIT_SAMPLE	8

/*
 * An entry is three 64-byte cache lines (x86-64, arm64), and entries start on
 * a line: what a lookup reads (hash, next, dbid, keylen and the first 38 bytes
 * of the key) and the TAT it writes share the first line, so a lookup costs
 * one cache miss per entry it visits.
 */
typedef struct RateLimitEntry
{
	uint64		hash;			/* of key and dbid */
	int64		tat;			/* theoretical arrival time, ns on GcraNow()'s clock */
	Oid			dbid;			/* database the key was used in */
	int32		next;			/* next entry of the bucket, -1 = none */
	uint16		keylen;
	char		key[RATE_LIMIT_KEY_MAX];	/* not NUL-terminated */
} RateLimitEntry;

StaticAssertDecl(sizeof(RateLimitEntry) == 3 * 64,
				 "a rate limit entry must fill three cache lines");

typedef struct RateLimitPartition
{
	LWLock	   *lock;			/* guards this struct, its buckets and entries */
	int32		used;			/* entries taken: the first "used" ones */
	uint32		rng;			/* xorshift32 state for eviction samples */
	uint64		evictions;		/* see RateLimitUsage */
	uint64		recycled;
	uint64		allowed;
	uint64		denied;
} RateLimitPartition;

/* one partition header per cache line: they are written under different locks */
typedef union RateLimitPartitionPadded
{
	RateLimitPartition p;
	char		pad[PG_CACHE_LINE_SIZE];
} RateLimitPartitionPadded;

typedef struct RateLimitShared
{
	int32		capacity;		/* entries per partition; set once at start */
	int32		nbuckets;		/* bucket heads per partition, a power of two */
	RateLimitPartitionPadded partitions[RATE_LIMIT_PARTITIONS];
	/* then int32 buckets[partitions][nbuckets], then the entries */
} RateLimitShared;

static RateLimitShared *shared = NULL;
static int32 *buckets = NULL;
static RateLimitEntry *entries = NULL;

static int32
RateLimitCapacity(void)
{
	return (geoshard_rate_limit_keys + RATE_LIMIT_PARTITIONS - 1) / RATE_LIMIT_PARTITIONS;
}

/* twice the entries, so that chains stay short (mostly one entry or none) */
static int32
RateLimitBuckets(void)
{
	return (int32) pg_nextpower2_32((uint32) RateLimitCapacity() * 2);
}

static Size
RateLimitBucketsOffset(void)
{
	return MAXALIGN(sizeof(RateLimitShared));
}

/* shared memory allocations start on a PG_CACHE_LINE_SIZE boundary, so the entries do too */
static Size
RateLimitEntriesOffset(void)
{
	return CACHELINEALIGN(add_size(RateLimitBucketsOffset(),
							 mul_size(mul_size(RATE_LIMIT_PARTITIONS, RateLimitBuckets()),
									  sizeof(int32))));
}

Size
RateLimitShmemSize(void)
{
	return add_size(RateLimitEntriesOffset(),
					mul_size(mul_size(RATE_LIMIT_PARTITIONS, RateLimitCapacity()),
							 sizeof(RateLimitEntry)));
}

void
RateLimitShmemInit(void *ptr, bool found, LWLockPadded *locks)
{
	shared = (RateLimitShared *) ptr;
	buckets = (int32 *) ((char *) ptr + RateLimitBucketsOffset());
	entries = (RateLimitEntry *) ((char *) ptr + RateLimitEntriesOffset());
	if (found)
		return;

	shared->capacity = RateLimitCapacity();
	shared->nbuckets = RateLimitBuckets();
	for (int i = 0; i < RATE_LIMIT_PARTITIONS; i++)
	{
		RateLimitPartition *part = &shared->partitions[i].p;

		memset(part, 0, sizeof(RateLimitPartition));
		part->lock = &locks[i].lock;
		part->rng = 2463534242u + i;	/* any non-zero seed */
	}
	/* -1 in every byte is -1 in every int32: all chains empty */
	memset(buckets, 0xff, mul_size(mul_size(RATE_LIMIT_PARTITIONS, shared->nbuckets), sizeof(int32)));
}

/* Is the table in shared memory (geoshard preloaded)? */
bool
RateLimitAttached(void)
{
	return shared != NULL;
}

static uint32
RateLimitRandom(RateLimitPartition *part)
{
	uint32		x = part->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	part->rng = x;
	return x;
}

/*
 * An entry of partition p for a new key, unlinked from its chain: a free one
 * while there are, else the sampled one with the oldest TAT.  Caller holds the
 * partition's lock exclusively.
 */
static int32
RateLimitTakeEntry(int p, int64 now)
{
	RateLimitPartition *part = &shared->partitions[p].p;
	RateLimitEntry *base = entries + (Size) p * shared->capacity;
	int32	   *heads = buckets + (Size) p * shared->nbuckets;
	int32		victim = -1;
	int32		at;
	int32	   *link;

	if (part->used < shared->capacity)
		return part->used++;

	at = (int32) (RateLimitRandom(part) % (uint32) shared->capacity);
	for (int i = 0; i < Min(RATE_LIMIT_SAMPLE, shared->capacity); i++)
	{
		if (victim < 0 || base[at].tat < base[victim].tat)
			victim = at;
		if (base[victim].tat <= now)
			break;
		at = (at + 1) % shared->capacity;
	}

	if (base[victim].tat > now)
		part->evictions++;
	else
		part->recycled++;

	/* unlink it from its bucket */
	link = &heads[(base[victim].hash >> 32) & (shared->nbuckets - 1)];
	while (*link != victim)
	{
		Assert(*link >= 0);
		link = &base[*link].next;
	}
	*link = base[victim].next;
	return victim;
}

/*
 * Decide one request on key (keylen bytes, at most RATE_LIMIT_KEY_MAX) of the
 * current database under limit, and store the key's new TAT when it changed.
 */
void
RateLimitApply(const char *key, int keylen, const GcraLimit *limit, GcraDecision *out)
{
	uint64		hash;
	int			p;
	RateLimitPartition *part;
	RateLimitEntry *base;
	int32	   *head;
	RateLimitEntry *found = NULL;
	int64		now;

	Assert(shared != NULL && keylen >= 0 && keylen <= RATE_LIMIT_KEY_MAX);
	hash = hash_bytes_extended((const unsigned char *) key, keylen, (uint64) MyDatabaseId);
	p = (int) (hash & (RATE_LIMIT_PARTITIONS - 1));
	part = &shared->partitions[p].p;
	base = entries + (Size) p * shared->capacity;
	head = &buckets[(Size) p * shared->nbuckets + ((hash >> 32) & (shared->nbuckets - 1))];

	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	for (int32 i = *head; i >= 0; i = base[i].next)
	{
		RateLimitEntry *e = &base[i];

		if (e->hash == hash && e->dbid == MyDatabaseId && e->keylen == keylen &&
			memcmp(e->key, key, keylen) == 0)
		{
			found = e;
			break;
		}
	}

	now = GcraNow();
	GcraDecide(limit, found ? found->tat : now, now, out);
	if (out->allowed)
		part->allowed++;
	else
		part->denied++;

	if (out->changed)
	{
		if (found == NULL)
		{
			int32		i = RateLimitTakeEntry(p, now);

			found = &base[i];
			found->hash = hash;
			found->dbid = MyDatabaseId;
			found->keylen = (uint16) keylen;
			memcpy(found->key, key, keylen);
			found->next = *head;
			*head = i;
		}
		found->tat = out->new_tat;
	}
	LWLockRelease(part->lock);
}

/*
 * Sums over the partitions, each read under its lock in turn.  Counting the
 * active keys reads every entry taken, which holds up the decisions of one
 * partition at a time for a scan of its entries (some milliseconds per
 * million keys in all): fine for an operator's query, too much for a
 * frequent reader.
 */
void
RateLimitUsageGet(RateLimitUsage *out)
{
	memset(out, 0, sizeof(RateLimitUsage));
	out->capacity = (int64) shared->capacity * RATE_LIMIT_PARTITIONS;
	for (int p = 0; p < RATE_LIMIT_PARTITIONS; p++)
	{
		RateLimitPartition *part = &shared->partitions[p].p;
		RateLimitEntry *base = entries + (Size) p * shared->capacity;
		int64		now;

		LWLockAcquire(part->lock, LW_SHARED);
		now = GcraNow();
		out->entries += part->used;
		for (int32 i = 0; i < part->used; i++)
			if (base[i].tat > now)
				out->active++;
		out->evictions += part->evictions;
		out->recycled += part->recycled;
		out->allowed += part->allowed;
		out->denied += part->denied;
		LWLockRelease(part->lock);
	}
}

/*
 * The counters of RateLimitUsage only (capacity, evictions, recycled,
 * allowed, denied; entries and active stay 0): one short shared lock per
 * partition and no scan of the entries, cheap enough for every metrics
 * refresh.
 */
void
RateLimitCountersGet(RateLimitUsage *out)
{
	memset(out, 0, sizeof(RateLimitUsage));
	out->capacity = (int64) shared->capacity * RATE_LIMIT_PARTITIONS;
	for (int p = 0; p < RATE_LIMIT_PARTITIONS; p++)
	{
		RateLimitPartition *part = &shared->partitions[p].p;

		LWLockAcquire(part->lock, LW_SHARED);
		out->evictions += part->evictions;
		out->recycled += part->recycled;
		out->allowed += part->allowed;
		out->denied += part->denied;
		LWLockRelease(part->lock);
	}
}
