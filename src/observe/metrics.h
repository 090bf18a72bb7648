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

#include "cdc/cdc_status.h"
#include "health/breaker.h"
#include "redisview/redisview.h"
#include "routing/routing_table.h"

/* RAFT_MAX_PEERS, without raft_shmem.h's libraft and latch headers */
#define RAFT_SNAPSHOT_PEERS		16

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

/* one peer of this node, as the raft worker publishes it */
typedef struct RaftSnapshotPeer
{
	uint64		id;
	bool		connected;
	double		last_rtt_s;		/* 0: none measured */
} RaftSnapshotPeer;

/* the raft area's snapshot: what the raft worker publishes (raft_shmem.h) */
typedef struct RaftSnapshot
{
	bool		in_group;		/* false: no raft group here, no samples */
	bool		is_leader;
	int			state;			/* libraft's enum raft_state */
	uint64		node_id;		/* this node */
	int			npeers;
	RaftSnapshotPeer peers[RAFT_SNAPSHOT_PEERS];
	uint64		term;
	uint64		commit_index;
	uint64		applied_index;
	uint64		leader;			/* 0: none known */
	uint64		leader_changes;
} RaftSnapshot;

/* the cdc area's snapshot: the figures of each sink (CdcStatusCopy) */
typedef struct CdcSnapshotSink
{
	char		sink[NAMEDATALEN];
	int			state;			/* CdcState */
	double		lag_s;			/* now minus behind_since at the snapshot; 0 caught up */
	double		rtt_s;			/* NaN: no exchange yet */
	bool		has_slot;		/* the slot exists: the two WAL figures are set */
	uint64		lag_bytes;		/* flush position minus the slot's confirmed position */
	uint64		retained_bytes; /* write position minus the slot's restart point */
	uint64		published;
	uint64		skipped;
	uint64		errors;
} CdcSnapshotSink;

typedef struct CdcSnapshot
{
	int			nsinks;
	CdcSnapshotSink sinks[CDC_MAX_SINKS];
} CdcSnapshot;

/* the redisview area's snapshot: the figures of each view */
typedef struct RedisViewSnapshotView
{
	char		view[NAMEDATALEN];
	int			state;			/* RedisViewState */
	uint64		lag_bytes;
	double		lag_s;			/* now minus behind_since at the snapshot; 0 caught up */
	uint64		applied;
	uint64		skipped;
	int64		keys;
	int64		generation;
	uint64		errors;			/* RedisViewCounts */
	uint64		builds;
} RedisViewSnapshotView;

typedef struct RedisViewSnapshot
{
	int			nviews;
	RedisViewSnapshotView views[REDISVIEW_MAX_VIEWS];
} RedisViewSnapshot;

/* the ratelimit area's snapshot: the counters of the table (RateLimitCountersGet) */
typedef struct RateLimitSnapshot
{
	bool		attached;
	int64		capacity;
	int64		evictions;
	int64		recycled;
	int64		allowed;
	int64		denied;
} RateLimitSnapshot;

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
extern Size RaftMetricsSnapshotSize(void);
extern void RaftMetricsSnapshot(void *snapshot);
extern void RaftMetricsEmit(MetricsSink *sink, const void *snapshot);
extern Size CdcMetricsSnapshotSize(void);
extern void CdcMetricsSnapshot(void *snapshot);
extern void CdcMetricsEmit(MetricsSink *sink, const void *snapshot);
extern Size RedisViewMetricsSnapshotSize(void);
extern void RedisViewMetricsSnapshot(void *snapshot);
extern void RedisViewMetricsEmit(MetricsSink *sink, const void *snapshot);
extern Size RateLimitMetricsSnapshotSize(void);
extern void RateLimitMetricsSnapshot(void *snapshot);
extern void RateLimitMetricsEmit(MetricsSink *sink, const void *snapshot);

#endif							/* GEOSHARD_OBSERVE_METRICS_H */
