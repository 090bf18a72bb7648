/*
 * src/observe/metrics.h
 *	  Metric families of every area, collected through one interface for the
 *	  geoshard.metrics view and the /metrics endpoint.
 *
 * An area contributes a row to metrics.c's table: a snapshot function, run
 * in a backend, that copies what the area keeps under its LWLocks, and an
 * emit function that hands families and samples to a sink.  Emit functions
 * also run in the metrics worker's HTTP thread, which is not a PostgreSQL
 * backend: they read only the snapshot and lock-free shared counters, and
 * never palloc, ereport, take an LWLock or run SQL.
 */
#ifndef GEOSHARD_OBSERVE_METRICS_H
#define GEOSHARD_OBSERVE_METRICS_H

#include "health/breaker.h"
#include "routing/routing_table.h"

typedef enum MetricType
{
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM
} MetricType;

typedef struct MetricLabel
{
	const char *name;
	const char *value;
} MetricLabel;

/*
 * Where families and samples go.  A family (its full name, geoshard_...,
 * in base units) is announced once, then its samples follow; suffix is ""
 * or, for histograms, "_bucket", "_sum" or "_count".  Sinks embed this
 * struct first.
 */
typedef struct MetricsSink MetricsSink;
struct MetricsSink
{
	void		(*family) (MetricsSink *sink, const char *name, MetricType type, const char *help);
	void		(*sample) (MetricsSink *sink, const char *suffix, const MetricLabel *labels,
						   int nlabels, double value);
};

/* one area's metrics (metrics.c's table) */
typedef struct MetricsArea
{
	const char *name;			/* the area, as in src/<area>/ */
	Size		(*snapshot_size) (void);	/* bytes its snapshot takes; NULL: none */
	/*
	 * in a backend, inside a transaction (the view's query, or the metrics
	 * worker's unit of work): copy what emit needs, under the area's own
	 * LWLocks or from its tables; NULL when emit reads counters only
	 */
	void		(*snapshot) (void *snapshot);
	/* in any thread: families and samples from the snapshot and counters */
	void		(*emit) (MetricsSink *sink, const void *snapshot);
} MetricsArea;

/* the routing area's snapshot: the regions of the routing table */
typedef struct RoutingSnapshotRegion
{
	char		id[ROUTING_NAME_LEN];
	double		lat;
	double		lon;
	double		load_fraction;
	bool		enabled;
	bool		drained;
} RoutingSnapshotRegion;

typedef struct RoutingSnapshot
{
	int			nregions;
	RoutingSnapshotRegion regions[ROUTING_MAX_REGIONS];
} RoutingSnapshot;

/* the health area's snapshot (HealthMetricsCopy) */
typedef struct HealthSnapshot
{
	bool		panic;
	int			nregions;
	HealthRegionMetrics regions[ROUTING_MAX_REGIONS];
} HealthSnapshot;

extern Size MetricsSnapshotSize(void);
extern const void *MetricsAreaSnapshot(const void *snapshot, const char *area);
extern void MetricsTakeSnapshot(void *snapshot);
extern void MetricsEmit(MetricsSink *sink, const void *snapshot);
extern const char *MetricTypeName(MetricType type);

/* the areas' functions */
extern Size RoutingMetricsSnapshotSize(void);
extern void RoutingMetricsSnapshot(void *snapshot);
extern void RoutingMetricsEmit(MetricsSink *sink, const void *snapshot);
extern Size HealthMetricsSnapshotSize(void);
extern void HealthMetricsSnapshot(void *snapshot);
extern void HealthMetricsEmit(MetricsSink *sink, const void *snapshot);

#endif							/* GEOSHARD_OBSERVE_METRICS_H */
