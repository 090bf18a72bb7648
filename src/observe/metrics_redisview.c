/*
 * src/observe/metrics_redisview.c
 *	  The redisview area's metric families per view: WAL lag in bytes and
 *	  seconds, row changes applied and skipped, keys held, the live
 *	  generation, errors and builds.
 *
 * The snapshot copies the redisview worker's published figures (status.c,
 * RedisViewStatusCopy) under the redisview lock, in a backend, and turns
 * behind_since into seconds there; emitting reads only the copy
 * (metrics.h).  Errors and builds are counted where the worker publishes
 * (status.c, RedisViewCounts): a publication with a new last_error_at or
 * built_at counts one.
 */
#include "postgres.h"

#include "observe/metrics.h"

Size
RedisViewMetricsSnapshotSize(void)
{
	return sizeof(RedisViewSnapshot);
}

void
RedisViewMetricsSnapshot(void *snapshot)
{
	RedisViewSnapshot *snap = snapshot;
	RedisViewStatus *views = palloc(sizeof(RedisViewStatus) * REDISVIEW_MAX_VIEWS);
	RedisViewCounts *counts = palloc(sizeof(RedisViewCounts) * REDISVIEW_MAX_VIEWS);
	TimestampTz now = GetCurrentTimestamp();

	snap->nviews = RedisViewStatusCopy(views, counts);
	for (int i = 0; i < snap->nviews; i++)
	{
		RedisViewSnapshotView *v = &snap->views[i];

		strlcpy(v->view, views[i].view, NAMEDATALEN);
		v->state = (int) views[i].state;
		v->lag_bytes = views[i].lag_bytes;
		v->lag_s = views[i].behind_since == 0 || now <= views[i].behind_since ? 0.0 :
			(double) (now - views[i].behind_since) / USECS_PER_SEC;
		v->applied = views[i].applied;
		v->skipped = views[i].skipped;
		v->keys = views[i].keys;
		v->generation = views[i].generation;
		v->errors = counts[i].errors;
		v->builds = counts[i].builds;
	}
	pfree(views);
	pfree(counts);
}

/* one gauge or counter per view */
static void
RedisViewEmitPerView(MetricsSink *sink, const RedisViewSnapshot *snap, const char *name,
					 MetricType type, const char *help, size_t offset, char kind)
{
	MetricLabel label = {"view", NULL};

	sink->family(sink, name, type, help);
	for (int i = 0; i < snap->nviews; i++)
	{
		const char *field = (const char *) &snap->views[i] + offset;
		double		value;

		if (kind == 'u')
			value = (double) *(const uint64 *) field;
		else if (kind == 'i')
			value = (double) *(const int64 *) field;
		else
			value = *(const double *) field;
		label.value = snap->views[i].view;
		sink->sample(sink, "", &label, 1, value);
	}
}

void
RedisViewMetricsEmit(MetricsSink *sink, const void *snapshot)
{
	const RedisViewSnapshot *snap = snapshot;

	RedisViewEmitPerView(sink, snap, "geoshard_redisview_lag_bytes", METRIC_GAUGE,
						 "WAL bytes between the view's slot and the flush position.",
						 offsetof(RedisViewSnapshotView, lag_bytes), 'u');
	RedisViewEmitPerView(sink, snap, "geoshard_redisview_lag_seconds", METRIC_GAUGE,
						 "Seconds since the view has had WAL left to apply, 0 when it is caught up.",
						 offsetof(RedisViewSnapshotView, lag_s), 'd');
	RedisViewEmitPerView(sink, snap, "geoshard_redisview_changes_applied_total", METRIC_COUNTER,
						 "Row changes applied to the view's Redis keys since the worker started.",
						 offsetof(RedisViewSnapshotView, applied), 'u');
	RedisViewEmitPerView(sink, snap, "geoshard_redisview_rows_skipped_total", METRIC_COUNTER,
						 "Rows left out of the view (coordinates out of range) since the worker started.",
						 offsetof(RedisViewSnapshotView, skipped), 'u');
	RedisViewEmitPerView(sink, snap, "geoshard_redisview_keys", METRIC_GAUGE,
						 "Members, rows or keys the view holds in Redis.",
						 offsetof(RedisViewSnapshotView, keys), 'i');
	RedisViewEmitPerView(sink, snap, "geoshard_redisview_generation", METRIC_GAUGE,
						 "The view's live generation in Redis (from a counter every view's builds share), 0 before the first.",
						 offsetof(RedisViewSnapshotView, generation), 'i');
	RedisViewEmitPerView(sink, snap, "geoshard_redisview_errors_total", METRIC_COUNTER,
						 "Failed passes and errors of the view's keys (each retried, or rebuilt), since the server started.",
						 offsetof(RedisViewSnapshotView, errors), 'u');
	RedisViewEmitPerView(sink, snap, "geoshard_redisview_builds_total", METRIC_COUNTER,
						 "Builds of the view that went live (the first one and every rebuild), since the server started.",
						 offsetof(RedisViewSnapshotView, builds), 'u');
}
