/*
 * src/routing/score.h
 *	  Scoring and ranking of regions for one client: the decision behind
 *	  route_region, route_regions and route_region_explain.
 */
#ifndef GEOSHARD_ROUTING_SCORE_H
#define GEOSHARD_ROUTING_SCORE_H

#include "utils/guc.h"

#include "routing/latency.h"
#include "routing/routing_table.h"

/* what is known of the client */
typedef struct RouteClient
{
	bool		has_location;
	bool		from_country;	/* the location is its country's point */
	double		lat;			/* degrees */
	double		lon;
	int			country_len;	/* 0 = unknown */
	char		country[ROUTING_COUNTRY_LEN + 1];
	int			nobserved;		/* measured latencies of its network */
	LatencyObservation observed[LATENCY_REGIONS_PER_NETWORK];
} RouteClient;

/* why a region cannot serve the client */
typedef enum RouteExclusion
{
	ROUTE_ELIGIBLE = 0,
	ROUTE_DISABLED,
	ROUTE_DRAINED,
	ROUTE_BREAKER_OPEN,
	ROUTE_FENCED
} RouteExclusion;

/* why the winner won, or why there is none (RouteReasonOf) */
typedef enum RouteReasonCode
{
	ROUTE_REASON_NO_REGIONS,
	ROUTE_REASON_NO_ALLOWED_REGION,
	ROUTE_REASON_NO_REGION_AVAILABLE,
	ROUTE_REASON_PANIC,
	ROUTE_REASON_FENCED,
	ROUTE_REASON_FAILOVER,
	ROUTE_REASON_OVER_CAPACITY_LAST_RESORT,
	ROUTE_REASON_DEFAULT_REGION,
	ROUTE_REASON_NO_CLIENT_LOCATION,
	ROUTE_REASON_COUNTRY_LOCATION,
	ROUTE_REASON_NEAREST_OVER_CAPACITY,
	ROUTE_REASON_LEAST_LOADED,
	ROUTE_REASON_LOWEST_COST,
	ROUTE_REASON_LOWEST_LATENCY,
	ROUTE_REASON_COUNT
} RouteReasonCode;

/* one region's figures for the client; slot is its place in the table */
typedef struct RouteCandidate
{
	int			slot;
	RouteExclusion exclusion;
	bool		has_latency;	/* latency_ms and score's latency term known */
	bool		observed;		/* latency_ms measured, not estimated */
	bool		over_capacity;
	double		distance_km;	/* NaN without a client location */
	double		latency_ms;
	double		cost_penalty_ms;
	double		load_penalty_ms;
	double		score;			/* latency (0 when unknown) + penalties */
	int			tier;			/* lower tiers win before scores count */
} RouteCandidate;

typedef struct RouteDecision
{
	int			ncandidates;	/* = regions in the table, in slot order */
	RouteCandidate candidates[ROUTING_MAX_REGIONS];
	int			winner;			/* index into candidates, or -1 */
	int			nearest_enabled;	/* the enabled candidate with a latency, the
									 * lowest (then the lowest slot), or -1 */
	int			default_slot;	/* geoshard.default_region, when it was
								 * considered (no location, no measurement)
								 * and exists; else -1 */
	int			nfences;		/* fences that apply to the client */
	int			fences[ROUTING_MAX_FENCES];
} RouteDecision;

extern void RouteDecide(const RoutingTable *table, const RouteClient *client,
						RouteDecision *decision);
extern int	RouteRank(RouteDecision *decision, int *order);
extern RouteReasonCode RouteReasonOf(const RoutingTable *table, const RouteClient *client,
									 const RouteDecision *decision);
extern const char *RouteReasonName(RouteReasonCode reason);
extern const char *RouteReason(const RoutingTable *table, const RouteClient *client,
							   const RouteDecision *decision);
extern const char *RouteExclusionName(RouteExclusion exclusion);
extern const char *RouteLatencySource(const RouteClient *client, const RouteCandidate *c);
extern bool RouteDefaultRegionCheckHook(char **newval, void **extra, GucSource source);

#endif							/* GEOSHARD_ROUTING_SCORE_H */
