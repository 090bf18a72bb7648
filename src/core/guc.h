/*
 * src/core/guc.h
 *	  Every geoshard.* setting: the variables, and the function that defines them.
 */
#ifndef GEOSHARD_CORE_GUC_H
#define GEOSHARD_CORE_GUC_H

/* geoshard.cover_max_cells: largest set quadkey_cover may return (superuser-set) */
extern int	geoshard_cover_max_cells;

/* geoshard.node_id: this node's id in HLC stamps and CRDT states (0 = unset) */
extern int	geoshard_node_id;

/* geoshard.hlc_max_offset: how far ahead of our wall clock a remote HLC may be, ms */
extern int	geoshard_hlc_max_offset;

/* geoshard.geoip_database: path of the MaxMind DB file ("" = none) */
extern char *geoshard_geoip_database;

/* geoshard.geoip_layout: how the file's records are read (a GeoipLayout) */
extern int	geoshard_geoip_layout;

/* geoshard.database: the database shared state and workers serve */
extern char *geoshard_database;

/* geoshard.route_*: the scoring of route_region, in milliseconds */
extern double geoshard_route_base_latency_ms;
extern double geoshard_route_cost_weight;
extern double geoshard_route_load_weight;

/* geoshard.default_region: where clients without a location go ("" = none) */
extern char *geoshard_default_region;

/* geoshard.observed_latency_*: the store of measured latencies */
extern int	geoshard_observed_latency_networks;
extern int	geoshard_observed_latency_max_age;

/* geoshard.health_* and geoshard.breaker_*: the health worker (times in ms, max age in s) */
extern bool geoshard_health_enabled;
extern int	geoshard_health_interval;
extern int	geoshard_health_timeout;
extern int	geoshard_breaker_failures;
extern int	geoshard_breaker_successes;
extern int	geoshard_breaker_cooldown;
extern int	geoshard_health_degraded_ms;
extern double geoshard_health_degraded_penalty_ms;
extern double geoshard_health_degraded_factor;
extern int	geoshard_health_panic_threshold;
extern int	geoshard_health_events_max_age;

/* ratelimit: geoshard.rate_limit_keys, the size of the shared table of keys */
extern int	geoshard_rate_limit_keys;

/* geoshard.cdc_*, geoshard.redis_*: the cdc publisher (times in ms, max lag in kB) */
extern bool geoshard_cdc_enabled;
extern char *geoshard_redis_url;
extern int	geoshard_redis_timeout;
extern int	geoshard_cdc_batch_size;
extern int	geoshard_cdc_max_lag;
extern int	geoshard_cdc_heartbeat_interval;
extern int	geoshard_cdc_poll_interval;

/* geoshard.redisview_*: the redisview worker */
extern bool geoshard_redisview_enabled;

/* geoshard.raft_*: the raft worker and proposals (times in ms) */
extern bool geoshard_raft_enabled;
extern int	geoshard_raft_heartbeat_ms;
extern int	geoshard_raft_election_timeout_ms;
extern int	geoshard_raft_propose_timeout_ms;

/* geoshard.raft_snapshot_*: snapshots and log compaction (entries) */
extern int	geoshard_raft_snapshot_threshold;
extern int	geoshard_raft_snapshot_trailing;

/* ---- observe: metrics (docs/observe.md) ---- */

/* geoshard.metrics_enabled: count route_region calls and GeoIP lookups */
extern bool geoshard_metrics_enabled;

/* geoshard.metrics_listen: address:port of /metrics ("" = off) */
extern char *geoshard_metrics_listen;

/* geoshard.metrics_password: basic-auth password of the endpoint ("" = none) */
extern char *geoshard_metrics_password;

extern void GeoshardGucInit(void);

#endif							/* GEOSHARD_CORE_GUC_H */
