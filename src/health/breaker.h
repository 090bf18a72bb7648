/*
 * src/health/breaker.h
 *	  Per-region circuit breakers, in shared memory: the health worker
 *	  drives them from its probes, operators may force them, and routing
 *	  reads what HealthPublish() copies into the routing table.
 */
#ifndef GEOSHARD_HEALTH_BREAKER_H
#define GEOSHARD_HEALTH_BREAKER_H

#include "datatype/timestamp.h"
#include "storage/lwlock.h"

#include "routing/routing_table.h"

#define HEALTH_ERROR_LEN	256
#define HEALTH_ENDPOINT_LEN	256	/* of a masked endpoint, as region_health shows it */

/* a forced state: HEALTH_AUTO, or a RoutingBreaker + 1 */
#define HEALTH_AUTO			0

/* why a breaker changed: the reason column of geoshard.health_events */
typedef enum HealthReason
{
	HEALTH_REASON_FAILURES,		/* closed -> open: breaker_failures failed probes */
	HEALTH_REASON_HALF_OPEN_FAILURE,	/* half_open -> open: one failed probe */
	HEALTH_REASON_COOLDOWN,		/* open -> half_open */
	HEALTH_REASON_SUCCESSES,	/* half_open -> closed */
	HEALTH_REASON_FORCED,		/* set_region_breaker(..., 'open' | 'closed' | 'half_open') */
	HEALTH_REASON_AUTO,			/* set_region_breaker(..., 'auto') */
	HEALTH_REASON_DISABLED		/* geoshard.health_enabled turned off */
} HealthReason;

/* one transition, for geoshard.health_events */
typedef struct HealthEvent
{
	char		region[ROUTING_NAME_LEN];
	RoutingBreaker from;
	RoutingBreaker to;
	HealthReason reason;
	char		error[HEALTH_ERROR_LEN];	/* "" = none */
	double		rtt_ms;			/* NaN = none */
	TimestampTz at;
} HealthEvent;

/* a region as the worker found it in geoshard.regions */
typedef struct HealthTarget
{
	char		region[ROUTING_NAME_LEN];
	char	   *endpoint;		/* NULL: not probed (disabled, or no endpoint) */
	char	   *configured;		/* geoshard.regions.endpoint, NULL when null */
	int			probe_status;	/* http(s): the status expected, 0: any 2xx */
	char	   *probe_body;		/* http(s): text the body must contain, NULL: any */
} HealthTarget;

/* one probe's outcome */
typedef struct HealthResult
{
	bool		up;
	double		rtt_ms;
	char		error[HEALTH_ERROR_LEN];
} HealthResult;

/* upper bounds, in seconds, of the probe round-trip histogram's buckets */
#define HEALTH_RTT_BUCKETS	11
extern const double HealthRttBucketBounds[HEALTH_RTT_BUCKETS];

/* a region's running totals since the server started, for geoshard.metrics */
typedef struct HealthCounters
{
	uint64		probes;
	uint64		failures;
	uint64		transitions[3]; /* by the RoutingBreaker entered */
	uint64		rtt_buckets[HEALTH_RTT_BUCKETS];	/* successful probes per
													 * bucket, not cumulative */
	double		rtt_sum_s;		/* of successful probes */
} HealthCounters;

/* a region's figures for geoshard.metrics (HealthMetricsCopy) */
typedef struct HealthRegionMetrics
{
	char		id[ROUTING_NAME_LEN];
	uint8		state;			/* effective RoutingBreaker, as region_health shows */
	bool		degraded;
	bool		forced;
	bool		probed;
	HealthCounters counters;
} HealthRegionMetrics;

extern Size HealthShmemSize(void);
extern void HealthShmemInit(void *shared, bool found, LWLockPadded *locks);

/* the health worker's side (health_worker.c) */
extern void HealthWorkerAttach(void);
extern bool HealthNeedsRestore(void);
extern void HealthRestore(const char *region, RoutingBreaker state, bool forced);
extern void HealthSync(const HealthTarget *targets, int ntargets);
extern int	HealthApplyResults(const HealthTarget *targets, const HealthResult *results,
							   int ntargets, HealthEvent *events, int maxevents);
extern int	HealthDisable(HealthEvent *events, int maxevents);
extern uint64 HealthRoundRequested(void);
extern void HealthRoundServed(uint64 request);
extern void HealthPublish(void);
extern const char *HealthReasonName(HealthReason reason);
extern int	HealthMetricsCopy(HealthRegionMetrics *out, bool *panic);

#endif							/* GEOSHARD_HEALTH_BREAKER_H */
