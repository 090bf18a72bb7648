/*
 * src/core/guc.c
 *	  Defines every geoshard.* setting, in one place.
 *
 * Settings that SQL functions read are defined whether or not the library is
 * preloaded; settings that size shared memory or control workers are defined
 * only while shared_preload_libraries is processed.  No other file calls
 * DefineCustom*Variable.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "core/guc.h"
#include "core/redis.h"
#include "observe/metrics_worker.h"
#include "routing/geoip.h"
#include "routing/score.h"

int			geoshard_cover_max_cells = 100000;
int			geoshard_node_id = 0;
int			geoshard_hlc_max_offset = 500;
char	   *geoshard_geoip_database = NULL;
int			geoshard_geoip_layout = GEOIP_LAYOUT_AUTO;
char	   *geoshard_database = NULL;
double		geoshard_route_base_latency_ms = 5.0;
double		geoshard_route_cost_weight = 10.0;
double		geoshard_route_load_weight = 50.0;
char	   *geoshard_default_region = NULL;
int			geoshard_observed_latency_networks = 16384;
int			geoshard_observed_latency_max_age = 600;
bool		geoshard_health_enabled = true;
int			geoshard_health_interval = 500;
int			geoshard_health_timeout = 250;
int			geoshard_breaker_failures = 3;
int			geoshard_breaker_successes = 2;
int			geoshard_breaker_cooldown = 5000;
int			geoshard_health_degraded_ms = 200;
double		geoshard_health_degraded_penalty_ms = 100.0;
double		geoshard_health_degraded_factor = 4.0;
int			geoshard_health_panic_threshold = 50;
int			geoshard_health_events_max_age = 7 * 24 * 3600;
/* cdc publisher */
bool		geoshard_cdc_enabled = true;
char	   *geoshard_redis_url = NULL;
int			geoshard_redis_timeout = 2000;
int			geoshard_cdc_batch_size = 10000;
int			geoshard_cdc_max_lag = 1024 * 1024;
int			geoshard_cdc_heartbeat_interval = 1000;
int			geoshard_cdc_poll_interval = 5;

/* ratelimit */
int			geoshard_rate_limit_keys = 16384;
/* redisview */
bool		geoshard_redisview_enabled = true;

/* raft */
bool		geoshard_raft_enabled = true;
int			geoshard_raft_heartbeat_ms = 30;
int			geoshard_raft_election_timeout_ms = 150;
int			geoshard_raft_propose_timeout_ms = 10000;

/* raft snapshots and log compaction */
int			geoshard_raft_snapshot_threshold = 1024;
int			geoshard_raft_snapshot_trailing = 256;

/* observe */
bool		geoshard_metrics_enabled = true;
char	   *geoshard_metrics_listen = NULL;
char	   *geoshard_metrics_password = NULL;

static const struct config_enum_entry geoip_layout_options[] = {
	{"auto", GEOIP_LAYOUT_AUTO, false},
	{"maxmind", GEOIP_LAYOUT_MAXMIND, false},
	{"ipinfo", GEOIP_LAYOUT_IPINFO, false},
	{"iplocationdb", GEOIP_LAYOUT_IPLOCATIONDB, false},
	{NULL, 0, false}
};

/* geoshard.redis_url: refuse what RedisParseUrl would refuse ("" is none) */
static bool
RedisUrlCheckHook(char **newval, void **extra, GucSource source)
{
	char		error[REDIS_ERROR_LEN];
	RedisUrl	url;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (RedisParseUrl(*newval, &url, error, sizeof(error)))
		return true;
	GUC_check_errdetail("%s.", error);
	return false;
}

/* SHOW and pg_settings give the URL without its password */
static const char *
RedisUrlShowHook(void)
{
	return geoshard_redis_url != NULL ? RedisMaskUrl(geoshard_redis_url) : "";
}

void
GeoshardGucInit(void)
{
	/*
	 * Superuser-only because the value bounds the time and memory one
	 * quadkey_cover call may take: at the default a refused cover costs tens
	 * of milliseconds, at the top of the range seconds and hundreds of
	 * megabytes.
	 * A superuser can delegate it with GRANT SET ON PARAMETER or set it per
	 * role with ALTER ROLE ... SET.
	 */
	DefineCustomIntVariable("geoshard.cover_max_cells",
							"Sets the largest number of cells quadkey_cover may return.",
							"A cover that would need more cells is refused; ask for a coarser level instead.",
							&geoshard_cover_max_cells,
							100000,
							1,
							10000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.node_id",
							"Sets this node's id, stamped into HLC timestamps and CRDT states.",
							"Every node that mutates CRDT values needs its own id; 0 means unset.",
							&geoshard_node_id,
							0,
							0,
							PG_INT32_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.hlc_max_offset",
							"Sets how far a received HLC timestamp may run ahead of the local wall clock.",
							"Timestamps further ahead are refused rather than dragging the clock forward.",
							&geoshard_hlc_max_offset,
							500,
							0,
							PG_INT32_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * Superuser-only because the server opens whatever file this names; SET
	 * is allowed so that a session can try a new file before it goes into
	 * postgresql.conf.  The check hook never refuses a value (the file may
	 * appear later) but warns when the file cannot be opened.
	 */
	DefineCustomStringVariable("geoshard.geoip_database",
							   "Sets the MaxMind DB (.mmdb) file geoip_lookup reads.",
							   "Empty means no file: geoip_lookup answers from geoshard.geoip_networks alone.",
							   &geoshard_geoip_database,
							   "",
							   PGC_SUSET,
							   0,
							   GeoipDatabaseCheckHook, NULL, NULL);

	/*
	 * Superuser-only like the file it describes: a wrong layout turns every
	 * answer of the file into NULLs for all the sessions that use it.
	 */
	DefineCustomEnumVariable("geoshard.geoip_layout",
							 "Sets how records of the GeoIP database are read.",
							 "auto detects the layout of each file from its first records and metadata; "
							 "maxmind (GeoIP2, GeoLite2, DB-IP), ipinfo and iplocationdb force one.",
							 &geoshard_geoip_layout,
							 GEOIP_LAYOUT_AUTO,
							 geoip_layout_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	/*
	 * The database whose catalogue lives in shared memory: the routing table
	 * of other databases stays per backend (and has no breaker states).
	 */
	DefineCustomStringVariable("geoshard.database",
							   "Sets the database geoshard's shared state and workers serve.",
							   "Routing in other databases reads the catalogue per backend, without health state.",
							   &geoshard_database,
							   "postgres",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomRealVariable("geoshard.route_base_latency_ms",
							 "Sets the round trip route_region assumes at zero distance, in milliseconds.",
							 "The estimate is this base plus 1 ms per 100 km of great-circle distance.",
							 &geoshard_route_base_latency_ms,
							 5.0,
							 0.0,
							 100000.0,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("geoshard.route_cost_weight",
							 "Sets the milliseconds route_region adds per unit of a region's cost.",
							 "0 makes cost irrelevant.",
							 &geoshard_route_cost_weight,
							 10.0,
							 0.0,
							 1000000.0,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("geoshard.route_load_weight",
							 "Sets the milliseconds route_region adds for a fully loaded region.",
							 "The penalty is this weight times load / capacity; 0 makes load irrelevant.",
							 &geoshard_route_load_weight,
							 50.0,
							 0.0,
							 1000000.0,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	/*
	 * Superuser-only: like observe_latency, it steers other clients'
	 * routing.  SUSET rather than SIGHUP so that ALTER DATABASE ... SET can
	 * give each database its own, and a superuser can try one in a session.
	 * The check hook accepts any well-formed region id: the region may be
	 * added later, and until then the setting has no effect.
	 */
	DefineCustomStringVariable("geoshard.default_region",
							   "Sets the region route_region picks for clients without a location.",
							   "Empty means none: cost and load decide.  Applies when the region is enabled, not drained, its breaker closed, below capacity and allowed by the client's geo-fences.",
							   &geoshard_default_region,
							   "",
							   PGC_SUSET,
							   0,
							   RouteDefaultRegionCheckHook, NULL, NULL);

	DefineCustomIntVariable("geoshard.observed_latency_max_age",
							"Sets how long a measured latency stays in use.",
							"Older measurements are ignored, and the estimate from distance applies again.",
							&geoshard_observed_latency_max_age,
							600,
							1,
							30 * 24 * 3600,
							PGC_USERSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	/*
	 * The health worker's settings (docs/health.md).  PGC_SIGHUP: the worker
	 * re-reads them on reload and applies them from its next round.  They
	 * are defined without preload too, so that ALTER SYSTEM can check them
	 * before a restart.
	 */
	DefineCustomBoolVariable("geoshard.health_enabled",
							 "Turns the health worker's probes on or off.",
							 "Off: breakers not forced by set_region_breaker are closed and nothing is probed.",
							 &geoshard_health_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.health_interval",
							"Sets how often the health worker probes every region.",
							"A round starts this long after the previous one started, or at once when that one took longer.",
							&geoshard_health_interval,
							500,
							10,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.health_timeout",
							"Sets how long one health probe may take before it counts as a failure.",
							"Connecting, the request and the answer all count.",
							&geoshard_health_timeout,
							250,
							10,
							600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.breaker_failures",
							"Sets how many consecutive failed probes open a region's circuit breaker.",
							NULL,
							&geoshard_breaker_failures,
							3,
							1,
							1000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.breaker_successes",
							"Sets how many consecutive successful probes close a half-open circuit breaker.",
							NULL,
							&geoshard_breaker_successes,
							2,
							1,
							1000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.breaker_cooldown",
							"Sets how long an open circuit breaker waits before it turns half-open.",
							"Each re-opening within a stable period doubles it, up to 16 times this value.",
							&geoshard_breaker_cooldown,
							5000,
							10,
							24 * 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.health_degraded_ms",
							"Sets the smoothed probe round trip above which a region counts as degraded.",
							"Routing adds geoshard.health_degraded_penalty_ms to a degraded region's score; 0 turns this threshold off.",
							&geoshard_health_degraded_ms,
							200,
							0,
							600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomRealVariable("geoshard.health_degraded_factor",
							 "Sets how many times its own baseline round trip a region's smoothed one may reach before it counts as degraded.",
							 "The baseline is a slow average kept while the region is closed and not degraded; 0 turns this rule off.",
							 &geoshard_health_degraded_factor,
							 4.0,
							 0.0,
							 1000.0,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("geoshard.health_degraded_penalty_ms",
							 "Sets the milliseconds route_region adds to the score of a degraded region.",
							 NULL,
							 &geoshard_health_degraded_penalty_ms,
							 100.0,
							 0.0,
							 1000000.0,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.health_panic_threshold",
							"Sets the percentage of healthy probed regions below which routing ignores the breakers.",
							"Below it the prober's own network is the likelier fault (panic mode); 0 turns panic mode off.",
							&geoshard_health_panic_threshold,
							50,
							0,
							100,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.health_events_max_age",
							"Sets how long rows of geoshard.health_events are kept.",
							"The health worker deletes older rows, but keeps each region's latest one.",
							&geoshard_health_events_max_age,
							7 * 24 * 3600,
							60,
							PG_INT32_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	/*
	 * The cdc publisher's settings (docs/cdc.md).  PGC_SIGHUP: the worker
	 * applies them from its next pass after a reload.
	 */
	DefineCustomBoolVariable("geoshard.cdc_enabled",
							 "Turns the cdc worker's publishing on or off.",
							 "Off: no sink is published; slots stay and retain WAL.",
							 &geoshard_cdc_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	/*
	 * Superuser-only because it may hold a password; the show hook masks it
	 * in SHOW and pg_settings.  PGC_SUSET rather than SIGHUP so that a
	 * superuser can try a URL in a session; the worker uses the value of the
	 * configuration files.
	 */
	DefineCustomStringVariable("geoshard.redis_url",
							   "Sets the Redis server of CDC sinks that name none.",
							   "redis://[[user]:password@]host[:port][/db] or unix:/path[?db=N][&password=P]; empty means none.",
							   &geoshard_redis_url,
							   "redis://127.0.0.1:6379",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY,
							   RedisUrlCheckHook, NULL, RedisUrlShowHook);

	DefineCustomIntVariable("geoshard.redis_timeout",
							"Sets how long connecting to Redis, and each exchange with it, may take.",
							"A Redis server that takes longer counts as down: the batch is retried after a backoff.",
							&geoshard_redis_timeout,
							2000,
							10,
							600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.cdc_batch_size",
							"Sets how many events the cdc worker decodes and sends to Redis in one batch.",
							"Each batch is one MULTI/EXEC; a transaction larger than a batch is sent in several.",
							&geoshard_cdc_batch_size,
							10000,
							1,
							1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.cdc_max_lag",
							"Sets how much WAL a CDC sink or the Redis views may have left to apply before a WARNING.",
							"0 turns the warning off.",
							&geoshard_cdc_max_lag,
							1024 * 1024,
							0,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.cdc_heartbeat_interval",
							"Sets how often the cdc worker lets idle slots move their restart point.",
							"It logs a snapshot of running transactions (what PostgreSQL 16's pg_log_standby_snapshot does) so that slots release WAL; 0 turns it off.",
							&geoshard_cdc_heartbeat_interval,
							1000,
							0,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.cdc_poll_interval",
							"Sets how often the cdc worker looks for new WAL.",
							"A look compares positions in memory; decoding starts only when there is new WAL.",
							&geoshard_cdc_poll_interval,
							5,
							1,
							10000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/* ---- raft ---- */
	DefineCustomBoolVariable("geoshard.raft_enabled",
							 "Runs this node's member of a raft group.",
							 "Off stops the raft worker's participation; the node's stored state is kept.",
							 &geoshard_raft_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.raft_heartbeat_ms",
							"Sets how often a raft leader sends heartbeats to idle followers.",
							"Capped at half of geoshard.raft_election_timeout_ms.",
							&geoshard_raft_heartbeat_ms,
							30,
							5,
							60 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.raft_election_timeout_ms",
							"Sets how long a raft follower waits without a leader before it starts an election.",
							"Each wait is drawn between this value and twice it; use the same value on every node.",
							&geoshard_raft_election_timeout_ms,
							150,
							20,
							10 * 60 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.raft_propose_timeout_ms",
							"Sets how long a raft proposal waits to be committed and applied.",
							NULL,
							&geoshard_raft_propose_timeout_ms,
							10000,
							1,
							PG_INT32_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/* ---- raft snapshots and log compaction (docs/raft.md#snapshots-and-log-compaction) ---- */
	DefineCustomIntVariable("geoshard.raft_snapshot_threshold",
							"Sets how many applied raft log entries beyond the last snapshot trigger a new snapshot.",
							"The snapshot holds the replicated tables; the log before it is then truncated.",
							&geoshard_raft_snapshot_threshold,
							1024,
							1,
							1000 * 1000 * 1000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("geoshard.raft_snapshot_trailing",
							"Sets how many raft log entries before a snapshot are kept when the log is truncated.",
							"A follower at most this far behind catches up from the log instead of receiving the snapshot.",
							&geoshard_raft_snapshot_trailing,
							256,
							0,
							1000 * 1000 * 1000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("geoshard.observed_latency_networks",
								"Sets how many client networks measured latencies are kept for.",
								"Each network takes about 250 bytes of shared memory; 0 turns measurements off.",
								&geoshard_observed_latency_networks,
								16384,
								0,
								4 * 1024 * 1024,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

	/*
	 * ratelimit (docs/ratelimit.md).  The table of keys is sized at server
	 * start, so this is PGC_POSTMASTER and defined with preload only.
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("geoshard.rate_limit_keys",
								"Sets how many keys rate_limit keeps in shared memory.",
								"Each key takes about 200 bytes; when the table is full, a new key replaces one that is full or closest to full.",
								&geoshard_rate_limit_keys,
								16384,
								16,
								4 * 1024 * 1024,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

	/*
	 * redisview: the worker's switch.  It shares geoshard.redis_url,
	 * redis_timeout, cdc_batch_size, cdc_poll_interval and
	 * cdc_heartbeat_interval with the cdc publisher (docs/redisview.md).
	 */
	DefineCustomBoolVariable("geoshard.redisview_enabled",
							 "Turns the redisview worker on or off.",
							 "Off: Redis views are not updated; their slot stays and retains WAL.",
							 &geoshard_redisview_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	/* ---- observe: metrics and the endpoint (docs/observe.md) ---- */

	/*
	 * Superuser-set: turning counting off hides a session's calls from the
	 * operators' figures.  On by default; the cost is measured in
	 * docs/benchmarks.md ("Metrics overhead").
	 */
	DefineCustomBoolVariable("geoshard.metrics_enabled",
							 "Counts route_region calls and GeoIP lookups in shared memory for geoshard.metrics.",
							 "Off: this session's calls are not counted.",
							 &geoshard_metrics_enabled,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	/*
	 * PGC_SIGHUP: the metrics worker opens, moves or closes its listener on
	 * reload, without a restart.
	 */
	DefineCustomStringVariable("geoshard.metrics_listen",
							   "Sets the address and port the metrics worker serves /metrics on.",
							   "An IPv4 address or a bracketed IPv6 address, a colon and a port, such as 127.0.0.1:9188; empty turns the endpoint off.",
							   &geoshard_metrics_listen,
							   "",
							   PGC_SIGHUP,
							   0,
							   MetricsListenCheckHook, NULL, NULL);

	/*
	 * A secret: hidden from other users.  PGC_SIGHUP rather than PGC_SUSET,
	 * because only the worker reads it: a session's SET could not reach it.
	 */
	DefineCustomStringVariable("geoshard.metrics_password",
							   "Sets the password HTTP basic authentication asks for on the metrics endpoint.",
							   "Empty: no authentication.  Any user name is accepted.",
							   &geoshard_metrics_password,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	MarkGUCPrefixReserved("geoshard");
}
