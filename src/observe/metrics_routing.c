/*
 * src/observe/metrics_routing.c
 *	  The routing area's metric families: route_region calls by reason and
 *	  by location source, and GeoIP lookups by result.
 *
 * Read from the per-backend counters (counters.c) without a lock; runs in
 * backends and in the metrics worker's HTTP thread (metrics.h).
 */
#include "postgres.h"

#include "observe/counters.h"
#include "observe/metrics.h"

static const char *const source_names[OBSERVE_SOURCE_COUNT] = {
	"mmdb", "table", "country", "argument", "none"
};

static const char *const geoip_names[OBSERVE_GEOIP_COUNT] = {
	"mmdb", "table", "miss"
};

void
RoutingMetricsEmit(MetricsSink *sink, const void *snapshot)
{
	uint64		totals[OBSERVE_COUNTERS];
	MetricLabel label;

	ObserveSum(totals);

	sink->family(sink, "geoshard_route_decisions_total", METRIC_COUNTER,
				 "route_region calls, by the reason route_region_explain gives for the decision.");
	label.name = "reason";
	for (int r = 0; r < ROUTE_REASON_COUNT; r++)
	{
		label.value = RouteReasonName((RouteReasonCode) r);
		sink->sample(sink, "", &label, 1, (double) totals[OBSERVE_ROUTE_REASON + r]);
	}

	sink->family(sink, "geoshard_route_location_source_total", METRIC_COUNTER,
				 "route_region calls, by where the client's location came from.");
	label.name = "source";
	for (int s = 0; s < OBSERVE_SOURCE_COUNT; s++)
	{
		label.value = source_names[s];
		sink->sample(sink, "", &label, 1, (double) totals[OBSERVE_ROUTE_SOURCE + s]);
	}

	sink->family(sink, "geoshard_geoip_lookups_total", METRIC_COUNTER,
				 "GeoIP lookups of client addresses, by where the address was found (mmdb, table) or miss.");
	label.name = "result";
	for (int g = 0; g < OBSERVE_GEOIP_COUNT; g++)
	{
		label.value = geoip_names[g];
		sink->sample(sink, "", &label, 1, (double) totals[OBSERVE_GEOIP + g]);
	}
}
