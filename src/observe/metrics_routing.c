/*
 * src/observe/metrics_routing.c
 *	  The routing area's metric families: route_region calls by reason and
 *	  by location source, GeoIP lookups by result, and each region's load
 *	  and whether it takes clients.
 *
 * Counts are read from the per-backend counters (counters.c) without a
 * lock; the regions come from a snapshot of the routing table taken in a
 * backend.  Emitting runs in backends and in the metrics worker's HTTP
 * thread (metrics.h).
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

Size
RoutingMetricsSnapshotSize(void)
{
	return sizeof(RoutingSnapshot);
}

/* In a backend: the regions of the routing table route_region reads. */
void
RoutingMetricsSnapshot(void *snapshot)
{
	RoutingSnapshot *snap = snapshot;
	const RoutingTable *table = RoutingTableAcquire();

	snap->nregions = table->nregions;
	for (int i = 0; i < table->nregions; i++)
	{
		const RoutingRegion *r = &table->regions[i];
		RoutingSnapshotRegion *s = &snap->regions[i];

		memcpy(s->id, r->id, ROUTING_NAME_LEN);
		s->lat = r->lat;
		s->lon = r->lon;
		s->load_fraction = r->load_fraction;
		s->enabled = r->enabled;
		s->drained = r->drained;
	}
	RoutingTableRelease();
}

void
RoutingMetricsEmit(MetricsSink *sink, const void *snapshot)
{
	const RoutingSnapshot *snap = snapshot;
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

	sink->family(sink, "geoshard_region_load_ratio", METRIC_GAUGE,
				 "Each region's load divided by its capacity, as routing scores it (1 or more: over capacity).");
	label.name = "region";
	for (int i = 0; i < snap->nregions; i++)
	{
		label.value = snap->regions[i].id;
		sink->sample(sink, "", &label, 1, snap->regions[i].load_fraction);
	}

	sink->family(sink, "geoshard_region_routable", METRIC_GAUGE,
				 "1 while a region is enabled and not drained (routing may send clients there, breaker permitting), else 0.");
	for (int i = 0; i < snap->nregions; i++)
	{
		label.value = snap->regions[i].id;
		sink->sample(sink, "", &label, 1,
					 snap->regions[i].enabled && !snap->regions[i].drained ? 1.0 : 0.0);
	}
}
