/*
 * src/redisview/status.c
 *	  The redisview worker's figures per view in shared memory, read by
 *	  geoshard.redisview_status.
 *
 * The worker replaces the whole array after each pass under the area's
 * LWLock (exclusive); readers copy it under the lock (shared) and build
 * their rows after releasing it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "core/shmem.h"
#include "redisview/redisview.h"

typedef struct RedisViewShared
{
	LWLock	   *lock;			/* guards the fields below */
	int			nviews;
	RedisViewStatus views[REDISVIEW_MAX_VIEWS];
	RedisViewCounts counts[REDISVIEW_MAX_VIEWS];	/* counts[i] is views[i]'s */
} RedisViewShared;

static RedisViewShared *redisview_shared = NULL;

Size
RedisViewShmemSize(void)
{
	return MAXALIGN(sizeof(RedisViewShared));
}

void
RedisViewShmemInit(void *shared, bool found, LWLockPadded *locks)
{
	redisview_shared = (RedisViewShared *) shared;
	if (!found)
	{
		memset(redisview_shared, 0, sizeof(RedisViewShared));
		redisview_shared->lock = &locks[0].lock;
	}
}

/*
 * The counts of the n views about to be published, from the views
 * published before (lock held exclusively): a view's errors grow when its
 * last_error_at moved, its builds when its built_at moved.  A view is
 * matched by name, as the worker may reorder them; a restarted worker
 * publishes zeros, which move nothing.
 */
static void
RedisViewCountsUpdate(const RedisViewStatus *views, int n)
{
	RedisViewCounts counts[REDISVIEW_MAX_VIEWS];

	for (int i = 0; i < n; i++)
	{
		const RedisViewStatus *before = NULL;

		memset(&counts[i], 0, sizeof(RedisViewCounts));
		for (int j = 0; j < redisview_shared->nviews; j++)
			if (strcmp(redisview_shared->views[j].view, views[i].view) == 0)
			{
				before = &redisview_shared->views[j];
				counts[i] = redisview_shared->counts[j];
				break;
			}
		if (views[i].last_error_at != 0 &&
			(before == NULL || views[i].last_error_at != before->last_error_at))
			counts[i].errors++;
		if (views[i].built_at != 0 && (before == NULL || views[i].built_at != before->built_at))
			counts[i].builds++;
	}
	memcpy(redisview_shared->counts, counts, sizeof(RedisViewCounts) * n);
}

/* Replace the published figures by the worker's n views. */
void
RedisViewStatusPublish(const RedisViewStatus *views, int n)
{
	if (redisview_shared == NULL)
		return;
	n = Min(n, REDISVIEW_MAX_VIEWS);
	LWLockAcquire(redisview_shared->lock, LW_EXCLUSIVE);
	RedisViewCountsUpdate(views, n);
	memcpy(redisview_shared->views, views, sizeof(RedisViewStatus) * n);
	redisview_shared->nviews = n;
	LWLockRelease(redisview_shared->lock);
}

/*
 * Copy the published figures and counts of every view into out and counts
 * (REDISVIEW_MAX_VIEWS long) and return how many there are; 0 without
 * shared memory.  For the metrics.
 */
int
RedisViewStatusCopy(RedisViewStatus *out, RedisViewCounts *counts)
{
	int			n;

	if (redisview_shared == NULL)
		return 0;
	LWLockAcquire(redisview_shared->lock, LW_SHARED);
	n = redisview_shared->nviews;
	memcpy(out, redisview_shared->views, sizeof(RedisViewStatus) * n);
	memcpy(counts, redisview_shared->counts, sizeof(RedisViewCounts) * n);
	LWLockRelease(redisview_shared->lock);
	return n;
}

const char *
RedisViewStateName(RedisViewState state)
{
	switch (state)
	{
		case REDISVIEW_STATE_STARTING:
			return "starting";
		case REDISVIEW_STATE_BUILDING:
			return "building";
		case REDISVIEW_STATE_STREAMING:
			return "streaming";
		case REDISVIEW_STATE_RETRYING:
			return "retrying";
		case REDISVIEW_STATE_DISABLED:
			return "disabled";
	}
	return "unknown";
}

/* geoshard.redisview_state(): the worker's figures per view */
PG_FUNCTION_INFO_V1(redisview_state);
Datum
redisview_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RedisViewStatus *views;
	TimestampTz now = GetCurrentTimestamp();
	int			n;

	if (!GeoshardShmemAttached() || redisview_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("geoshard is not loaded through shared_preload_libraries"),
				 errhint("Add geoshard to shared_preload_libraries and restart the server.")));

	InitMaterializedSRF(fcinfo, 0);
	views = palloc(sizeof(RedisViewStatus) * REDISVIEW_MAX_VIEWS);
	LWLockAcquire(redisview_shared->lock, LW_SHARED);
	n = redisview_shared->nviews;
	memcpy(views, redisview_shared->views, sizeof(RedisViewStatus) * n);
	LWLockRelease(redisview_shared->lock);

	for (int i = 0; i < n; i++)
	{
		RedisViewStatus *s = &views[i];
		Datum		values[14];
		bool		nulls[14] = {0};

		values[0] = CStringGetTextDatum(s->view);
		values[1] = CStringGetTextDatum(RedisViewStateName(s->state));
		values[2] = Int64GetDatum(s->generation);
		nulls[2] = s->generation == 0;
		values[3] = Int64GetDatum((int64) s->lag_bytes);
		values[4] = Float8GetDatum(s->behind_since == 0 ? 0.0 :
								   (double) Max(now - s->behind_since, 0) / 1000.0);
		values[5] = Float8GetDatum(s->rows_per_s);
		values[6] = Int64GetDatum(s->keys);
		values[7] = Int64GetDatum((int64) s->applied);
		values[8] = Int64GetDatum((int64) s->skipped);
		values[9] = Int64GetDatum(s->build_rows);
		values[10] = Int64GetDatum(s->build_total);
		values[11] = TimestampTzGetDatum(s->built_at);
		nulls[11] = s->built_at == 0;
		values[12] = CStringGetTextDatum(s->last_error);
		nulls[12] = s->last_error[0] == '\0';
		values[13] = TimestampTzGetDatum(s->last_error_at);
		nulls[13] = s->last_error_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
