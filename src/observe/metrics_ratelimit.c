/*
 * src/observe/metrics_ratelimit.c
 *	  The ratelimit area's metric families: decisions by result, keys that
 *	  lost or gave up their entry, and the table's capacity.
 *
 * The snapshot reads the table's counters (RateLimitCountersGet: one short
 * shared lock per partition, no scan of the entries), in a backend;
 * emitting reads only the copy (metrics.h).  Entries taken and active
 * keys need a scan of the whole table: geoshard.rate_limit_usage shows
 * them, the metrics do not.
 */
#include "postgres.h"

#include "observe/metrics.h"
#include "ratelimit/rate_limit_table.h"

Size
RateLimitMetricsSnapshotSize(void)
{
	return sizeof(RateLimitSnapshot);
}

void
RateLimitMetricsSnapshot(void *snapshot)
{
	RateLimitSnapshot *snap = snapshot;
	RateLimitUsage usage;

	memset(snap, 0, sizeof(RateLimitSnapshot));
	if (!RateLimitAttached())
		return;
	RateLimitCountersGet(&usage);
	snap->attached = true;
	snap->capacity = usage.capacity;
	snap->evictions = usage.evictions;
	snap->recycled = usage.recycled;
	snap->allowed = usage.allowed;
	snap->denied = usage.denied;
}

void
RateLimitMetricsEmit(MetricsSink *sink, const void *snapshot)
{
	const RateLimitSnapshot *snap = snapshot;
	MetricLabel label = {"result", NULL};

	sink->family(sink, "geoshard_rate_limit_decisions_total", METRIC_COUNTER,
				 "rate_limit decisions since the server started, by result (allowed, denied).");
	if (snap->attached)
	{
		label.value = "allowed";
		sink->sample(sink, "", &label, 1, (double) snap->allowed);
		label.value = "denied";
		sink->sample(sink, "", &label, 1, (double) snap->denied);
	}

	sink->family(sink, "geoshard_rate_limit_evictions_total", METRIC_COUNTER,
				 "Keys forgotten while still refilling because the table was full (their state was lost).");
	if (snap->attached)
		sink->sample(sink, "", NULL, 0, (double) snap->evictions);

	sink->family(sink, "geoshard_rate_limit_recycled_total", METRIC_COUNTER,
				 "Entries of full keys reused for new keys (nothing lost).");
	if (snap->attached)
		sink->sample(sink, "", NULL, 0, (double) snap->recycled);

	sink->family(sink, "geoshard_rate_limit_keys_capacity", METRIC_GAUGE,
				 "Keys the rate limit table holds (geoshard.rate_limit_keys, rounded to its partitions).");
	if (snap->attached)
		sink->sample(sink, "", NULL, 0, (double) snap->capacity);
}
