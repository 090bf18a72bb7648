/*
 * src/observe/metrics_health.c
 *	  The health area's metric families: each region's breaker state,
 *	  probes, failures, transitions and probe round-trip histogram, and
 *	  panic mode.
 *
 * The snapshot copies the health worker's shared state (breaker.c,
 * HealthMetricsCopy) under its LWLock, in a backend; emitting reads only
 * the copy (metrics.h).
 */
#include "postgres.h"

#include <stdio.h>

#include "health/breaker.h"
#include "observe/metrics.h"
#include "routing/routing_table.h"

Size
HealthMetricsSnapshotSize(void)
{
	return sizeof(HealthSnapshot);
}

void
HealthMetricsSnapshot(void *snapshot)
{
	HealthSnapshot *snap = snapshot;

	snap->nregions = HealthMetricsCopy(snap->regions, &snap->panic);
}

/* one gauge or counter per region */
static void
HealthEmitPerRegion(MetricsSink *sink, const HealthSnapshot *snap, const char *name,
					MetricType type, const char *help, size_t offset, bool is_bool)
{
	MetricLabel label = {"region", NULL};

	sink->family(sink, name, type, help);
	for (int i = 0; i < snap->nregions; i++)
	{
		const char *field = (const char *) &snap->regions[i] + offset;

		label.value = snap->regions[i].id;
		sink->sample(sink, "", &label, 1,
					 is_bool ? (double) *(const bool *) field : (double) *(const uint64 *) field);
	}
}

void
HealthMetricsEmit(MetricsSink *sink, const void *snapshot)
{
	const HealthSnapshot *snap = snapshot;
	MetricLabel labels[2];

	sink->family(sink, "geoshard_health_panic", METRIC_GAUGE,
				 "1 while the health worker is in panic mode (too few healthy regions: routing ignores the breakers), else 0.");
	sink->sample(sink, "", NULL, 0, snap->panic ? 1.0 : 0.0);

	sink->family(sink, "geoshard_region_breaker_state", METRIC_GAUGE,
				 "1 for the state each region's circuit breaker is in (closed, half_open, open), 0 for the others.");
	labels[0].name = "region";
	labels[1].name = "state";
	for (int i = 0; i < snap->nregions; i++)
		for (int s = ROUTING_BREAKER_CLOSED; s <= ROUTING_BREAKER_OPEN; s++)
		{
			labels[0].value = snap->regions[i].id;
			labels[1].value = RoutingBreakerName((RoutingBreaker) s);
			sink->sample(sink, "", labels, 2, snap->regions[i].state == s ? 1.0 : 0.0);
		}

	HealthEmitPerRegion(sink, snap, "geoshard_region_degraded", METRIC_GAUGE,
						"1 while the region is up but slow (degraded), else 0.",
						offsetof(HealthRegionMetrics, degraded), true);
	HealthEmitPerRegion(sink, snap, "geoshard_region_breaker_forced", METRIC_GAUGE,
						"1 while an operator forces the region's breaker (set_region_breaker), else 0.",
						offsetof(HealthRegionMetrics, forced), true);
	HealthEmitPerRegion(sink, snap, "geoshard_region_probes_total", METRIC_COUNTER,
						"Health probes of the region since the server started.",
						offsetof(HealthRegionMetrics, counters.probes), false);
	HealthEmitPerRegion(sink, snap, "geoshard_region_probe_failures_total", METRIC_COUNTER,
						"Failed health probes of the region since the server started.",
						offsetof(HealthRegionMetrics, counters.failures), false);

	sink->family(sink, "geoshard_breaker_transitions_total", METRIC_COUNTER,
				 "Circuit breaker transitions of the region, by the state entered, forced ones included.");
	labels[1].name = "to";
	for (int i = 0; i < snap->nregions; i++)
		for (int s = ROUTING_BREAKER_CLOSED; s <= ROUTING_BREAKER_OPEN; s++)
		{
			labels[0].value = snap->regions[i].id;
			labels[1].value = RoutingBreakerName((RoutingBreaker) s);
			sink->sample(sink, "", labels, 2, (double) snap->regions[i].counters.transitions[s]);
		}

	sink->family(sink, "geoshard_probe_duration_seconds", METRIC_HISTOGRAM,
				 "Round trips of the region's successful health probes, in seconds.");
	labels[1].name = "le";
	for (int i = 0; i < snap->nregions; i++)
	{
		const HealthCounters *c = &snap->regions[i].counters;
		uint64		cumulative = 0;
		char		le[32];

		labels[0].value = snap->regions[i].id;
		labels[1].value = le;
		for (int b = 0; b < HEALTH_RTT_BUCKETS; b++)
		{
			cumulative += c->rtt_buckets[b];
			snprintf(le, sizeof(le), "%g", HealthRttBucketBounds[b]);
			sink->sample(sink, "_bucket", labels, 2, (double) cumulative);
		}
		/* successes slower than the last bound count only here */
		strlcpy(le, "+Inf", sizeof(le));
		sink->sample(sink, "_bucket", labels, 2, (double) (c->probes - c->failures));
		sink->sample(sink, "_sum", labels, 1, c->rtt_sum_s);
		sink->sample(sink, "_count", labels, 1, (double) (c->probes - c->failures));
	}
}
