/*
 * src/routing/score.c
 *	  How a region is chosen for a client: eligibility, score, rank, and the
 *	  reason the winner won.
 *
 * A region is eligible when the client's geo-fences (all fences naming its
 * country) allow it, it is enabled, not drained, and its breaker is not
 * open.  Eligible regions are ranked by
 *   1. tier: over capacity (load >= capacity) last, then half-open
 *      breakers, then regions whose latency is unknown (no client location
 *      and no measurement) except geoshard.default_region, which for such
 *      a client ranks as the nearest region would;
 *   2. score = latency_ms + cost_weight * cost + load_weight * load/capacity
 *      (+ health_degraded_penalty_ms when the health worker finds it slow),
 *      where latency_ms is the client network's measured round trip when
 *      there is a fresh one, else base_latency_ms + distance_km / 100
 *      (light in fibre covers about 200 km per ms, and a round trip goes
 *      both ways), and 0 when unknown;
 *   3. region id, byte order (regions sit in the table in that order).
 * Every term is finite and 0 or more: latencies and weights are bounded,
 * cost and load / capacity are finite (the loader saturates load / capacity
 * at DBL_MAX), and products and the sum saturate at DBL_MAX too, so a score
 * is never infinite or NaN (0 * Infinity) and always compares.
 * The caller holds the routing table; nothing here allocates or errors.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "utils/float.h"

#include "core/guc.h"
#include "geo/sphere.h"
#include "routing/score.h"

/* fibre: about 200 km per ms one way, so 100 km of distance per ms of round trip */
#define ROUTE_KM_PER_RTT_MS 100.0

#define ROUTE_TIER_OVER_CAPACITY	4
#define ROUTE_TIER_HALF_OPEN		2
#define ROUTE_TIER_NO_LATENCY		1

/* a region id as geoshard.regions' constraint has it */
static bool
RouteValidRegionId(const char *id)
{
	size_t		len = strlen(id);

	if (len < 1 || len >= ROUTING_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = id[i];
		bool		alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != ':' && c != '-')))
			return false;
	}
	return true;
}

/* check hook of geoshard.default_region: empty, or a well-formed region id */
bool
RouteDefaultRegionCheckHook(char **newval, void **extra, GucSource source)
{
	if (**newval == '\0' || RouteValidRegionId(*newval))
		return true;
	GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
	GUC_check_errdetail("A region id has 1 to %d of the characters A-Z a-z 0-9 . _ : -, starting with a letter or digit.",
						ROUTING_NAME_LEN - 1);
	GUC_check_errhint("Name a region of geoshard.regions, or set it to '' for none.");
	return false;
}

/* latency_source of a candidate, or NULL when its latency is unknown */
const char *
RouteLatencySource(const RouteClient *client, const RouteCandidate *c)
{
	if (!c->has_latency)
		return NULL;
	if (c->observed)
		return "observed";
	return client->from_country ? "country" : "estimate";
}

const char *
RouteExclusionName(RouteExclusion exclusion)
{
	switch (exclusion)
	{
		case ROUTE_ELIGIBLE:
			return "eligible";
		case ROUTE_DISABLED:
			return "disabled";
		case ROUTE_DRAINED:
			return "drained";
		case ROUTE_BREAKER_OPEN:
			return "breaker_open";
		case ROUTE_FENCED:
			return "fenced";
	}
	return "unknown";
}

/*
 * The client's side of the haversine formula, computed once per decision so
 * that each region costs no trigonometry but the final asin: with half-angle
 * sines and cosines of both points, sin((lat2 - lat1) / 2) is
 * sin(lat2/2)cos(lat1/2) - cos(lat2/2)sin(lat1/2), and likewise for lon.
 */
typedef struct RouteOrigin
{
	double		coslat;
	double		sinhalflat;
	double		coshalflat;
	double		sinhalflon;
	double		coshalflon;
} RouteOrigin;

static void
RouteOriginInit(RouteOrigin *o, double lat, double lon)
{
	o->coslat = cos(GEO_RADIANS(lat));
	o->sinhalflat = sin(GEO_RADIANS(lat) * 0.5);
	o->coshalflat = cos(GEO_RADIANS(lat) * 0.5);
	o->sinhalflon = sin(GEO_RADIANS(lon) * 0.5);
	o->coshalflon = cos(GEO_RADIANS(lon) * 0.5);
}

/* Great-circle distance in km from the origin to r (the haversine formula). */
static inline double
RouteDistanceKm(const RouteOrigin *o, const RoutingRegion *r)
{
	double		sdlat = r->sinhalflat * o->coshalflat - r->coshalflat * o->sinhalflat;
	double		sdlon = r->sinhalflon * o->coshalflon - r->coshalflon * o->sinhalflon;
	double		a = sdlat * sdlat + o->coslat * r->coslat * sdlon * sdlon;

	/* rounding can push a a hair past 1 for antipodal points */
	if (a > 1.0)
		a = 1.0;
	return 2.0 * (GEO_EARTH_RADIUS_M / 1000.0) * asin(sqrt(a));
}

/* a + b or weight * value for finite terms of 0 or more, saturating at DBL_MAX */
static inline double
RouteSaturate(double x)
{
	return x > DBL_MAX ? DBL_MAX : x;
}

/* Does a rank before b? */
static inline bool
RouteBefore(const RouteCandidate *a, const RouteCandidate *b)
{
	if (a->tier != b->tier)
		return a->tier < b->tier;
	if (a->score != b->score)
		return a->score < b->score;
	return a->slot < b->slot;
}

/*
 * Intersect the fences naming the client's country into allowed; false
 * when no fence names it.
 */
static bool
RouteApplyFences(const RoutingTable *table, const RouteClient *client,
				 RouteDecision *decision, uint64 *allowed)
{
	uint64		key;
	int			lo = 0;
	int			hi = table->ncountries;

	decision->nfences = 0;
	if (client->country_len == 0 || table->ncountries == 0)
		return false;

	key = RoutingCountryKey(client->country, client->country_len);
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (table->countries[mid].country < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < table->ncountries && table->countries[lo].country == key; lo++)
	{
		const RoutingFence *fence = &table->fences[table->countries[lo].fence];

		for (int w = 0; w < ROUTING_MASK_WORDS; w++)
			allowed[w] = decision->nfences == 0 ? fence->allowed[w] : allowed[w] & fence->allowed[w];
		decision->fences[decision->nfences++] = table->countries[lo].fence;
	}
	return decision->nfences > 0;
}

/* Score every region of table for client, and pick the winner. */
void
RouteDecide(const RoutingTable *table, const RouteClient *client, RouteDecision *decision)
{
	uint64		allowed[ROUTING_MASK_WORDS];
	bool		fenced = RouteApplyFences(table, client, decision, allowed);
	RouteOrigin origin = {0};
	int			best = -1;
	int			nearest = -1;
	double		nearest_ms = 0;

	if (client->has_location)
		RouteOriginInit(&origin, client->lat, client->lon);

	/* a client nothing is known of goes to the default region, if usable */
	decision->default_slot = -1;
	if (!client->has_location && client->nobserved == 0 &&
		geoshard_default_region != NULL && geoshard_default_region[0] != '\0')
		decision->default_slot = RoutingFindRegion(table, geoshard_default_region);

	for (int i = 0; i < table->nregions; i++)
	{
		const RoutingRegion *r = &table->regions[i];
		RouteCandidate *c = &decision->candidates[i];

		c->slot = i;
		if (fenced && (allowed[i / 64] & (UINT64CONST(1) << (i % 64))) == 0)
			c->exclusion = ROUTE_FENCED;
		else if (!r->enabled)
			c->exclusion = ROUTE_DISABLED;
		else if (r->drained)
			c->exclusion = ROUTE_DRAINED;
		else if (r->breaker == ROUTING_BREAKER_OPEN)
			c->exclusion = ROUTE_BREAKER_OPEN;
		else
			c->exclusion = ROUTE_ELIGIBLE;

		c->distance_km = client->has_location ? RouteDistanceKm(&origin, r) : get_float8_nan();

		c->observed = false;
		for (int o = 0; o < client->nobserved; o++)
		{
			if (client->observed[o].region_hash == r->id_hash)
			{
				c->observed = true;
				c->latency_ms = client->observed[o].rtt_ms;
				break;
			}
		}
		c->has_latency = c->observed || client->has_location;
		if (!c->observed)
			c->latency_ms = client->has_location ?
				geoshard_route_base_latency_ms + c->distance_km / ROUTE_KM_PER_RTT_MS :
				get_float8_nan();

		c->cost_penalty_ms = RouteSaturate(geoshard_route_cost_weight * r->cost);
		c->load_penalty_ms = RouteSaturate(geoshard_route_load_weight * r->load_fraction);
		c->score = RouteSaturate(RouteSaturate((c->has_latency ? c->latency_ms : 0.0) +
											   c->cost_penalty_ms) + c->load_penalty_ms);
		/* up but slow, as the health worker measures it (docs/health.md) */
		if (r->degraded)
			c->score = RouteSaturate(c->score + geoshard_health_degraded_penalty_ms);
		c->over_capacity = r->load_fraction >= 1.0;
		c->tier = (c->over_capacity ? ROUTE_TIER_OVER_CAPACITY : 0) +
			(r->breaker == ROUTING_BREAKER_HALF_OPEN ? ROUTE_TIER_HALF_OPEN : 0) +
			(c->has_latency || i == decision->default_slot ? 0 : ROUTE_TIER_NO_LATENCY);

		if (c->exclusion == ROUTE_ELIGIBLE &&
			(best < 0 || RouteBefore(c, &decision->candidates[best])))
			best = i;
		/* for RouteReasonOf's common case; in slot order, so ties keep the lower slot */
		if (r->enabled && c->has_latency && (nearest < 0 || c->latency_ms < nearest_ms))
		{
			nearest = i;
			nearest_ms = c->latency_ms;
		}
	}
	decision->nearest_enabled = nearest;
	decision->ncandidates = table->nregions;
	decision->winner = best;
}

static int
RouteCompare(const void *a, const void *b, void *arg)
{
	const RouteDecision *decision = arg;
	const RouteCandidate *x = &decision->candidates[*(const int *) a];
	const RouteCandidate *y = &decision->candidates[*(const int *) b];

	return RouteBefore(x, y) ? -1 : (RouteBefore(y, x) ? 1 : 0);
}

/* The eligible candidates, best first, into order; returns how many. */
int
RouteRank(RouteDecision *decision, int *order)
{
	int			n = 0;

	for (int i = 0; i < decision->ncandidates; i++)
		if (decision->candidates[i].exclusion == ROUTE_ELIGIBLE)
			order[n++] = i;
	qsort_arg(order, n, sizeof(int), RouteCompare, decision);
	return n;
}

/* Is a nearer (by latency, then id) than b?  Unknown latencies come last. */
static bool
RouteNearer(const RouteCandidate *a, const RouteCandidate *b)
{
	if (a->has_latency != b->has_latency)
		return a->has_latency;
	if (a->has_latency && a->latency_ms != b->latency_ms)
		return a->latency_ms < b->latency_ms;
	return a->slot < b->slot;
}

/*
 * Why the winner won, or why there is none: the first that holds of
 *   no_regions, no_allowed_region (fenced, none available),
 *   no_region_available, panic (health panic mode), fenced (the fence
 *   changed the answer), failover (the nearest allowed region, or the
 *   default region for a client without location, is drained, open or
 *   half-open), over_capacity_last_resort, default_region,
 *   no_client_location, country_location (located by its country alone),
 *   nearest_over_capacity,
 *   least_loaded / lowest_cost (penalties outweighed latency),
 *   lowest_latency.
 */
RouteReasonCode
RouteReasonOf(const RoutingTable *table, const RouteClient *client, const RouteDecision *decision)
{
	const RouteCandidate *winner;
	const RouteCandidate *unfenced_best = NULL;
	const RouteCandidate *nearest_allowed = NULL;
	const RouteCandidate *nearest_eligible = NULL;

	if (decision->ncandidates == 0)
		return ROUTE_REASON_NO_REGIONS;
	if (decision->winner < 0)
		return decision->nfences > 0 ? ROUTE_REASON_NO_ALLOWED_REGION : ROUTE_REASON_NO_REGION_AVAILABLE;
	winner = &decision->candidates[decision->winner];
	/* the health worker sees too few healthy regions and published no open breaker */
	if (table->panic)
		return ROUTE_REASON_PANIC;

	/*
	 * The common case, cheaply (route_region counts every reason): no fence,
	 * no default region, a located client, and no enabled region nearer
	 * than the winner.  The winner is then both the nearest allowed and the
	 * nearest eligible region, and the rules below end in lowest_latency.
	 * RouteDecide found the nearest enabled region (RouteNearer's order)
	 * while it scored them: a second pass over the candidates here cost
	 * route_region about 4% (docs/benchmarks.md, "Metrics overhead").
	 * Without fences, a region is enabled unless its exclusion is
	 * ROUTE_DISABLED.
	 */
	if (decision->nfences == 0 && decision->default_slot < 0 && winner->has_latency &&
		!winner->over_capacity && !client->from_country &&
		decision->nearest_enabled == decision->winner)
		return ROUTE_REASON_LOWEST_LATENCY;

	for (int i = 0; i < decision->ncandidates; i++)
	{
		const RouteCandidate *c = &decision->candidates[i];
		const RoutingRegion *r = &table->regions[i];
		bool		available = r->enabled && !r->drained && r->breaker != ROUTING_BREAKER_OPEN;

		if (available && (unfenced_best == NULL || RouteBefore(c, unfenced_best)))
			unfenced_best = c;
		if (r->enabled && c->exclusion != ROUTE_FENCED &&
			(nearest_allowed == NULL || RouteNearer(c, nearest_allowed)))
			nearest_allowed = c;
		if (c->exclusion == ROUTE_ELIGIBLE &&
			(nearest_eligible == NULL || RouteNearer(c, nearest_eligible)))
			nearest_eligible = c;
	}

	if (decision->nfences > 0 && unfenced_best != winner)
		return ROUTE_REASON_FENCED;
	/* for a client without location, the default region is the nearest */
	if (decision->default_slot >= 0)
	{
		const RouteCandidate *d = &decision->candidates[decision->default_slot];

		nearest_allowed = table->regions[d->slot].enabled && d->exclusion != ROUTE_FENCED ? d : NULL;
	}
	if (nearest_allowed != NULL &&
		(nearest_allowed->has_latency || nearest_allowed->slot == decision->default_slot) &&
		(nearest_allowed->exclusion != ROUTE_ELIGIBLE ||
		 (winner != nearest_allowed &&
		  table->regions[nearest_allowed->slot].breaker == ROUTING_BREAKER_HALF_OPEN)))
		return ROUTE_REASON_FAILOVER;
	if (winner->over_capacity)
		return ROUTE_REASON_OVER_CAPACITY_LAST_RESORT;
	if (winner->slot == decision->default_slot)
		return ROUTE_REASON_DEFAULT_REGION;
	if (!winner->has_latency)
		return ROUTE_REASON_NO_CLIENT_LOCATION;
	if (client->from_country)
		return ROUTE_REASON_COUNTRY_LOCATION;
	if (nearest_eligible != winner)
	{
		double		cost_gain = nearest_eligible->cost_penalty_ms - winner->cost_penalty_ms;
		double		load_gain = nearest_eligible->load_penalty_ms - winner->load_penalty_ms;

		if (nearest_eligible->over_capacity)
			return ROUTE_REASON_NEAREST_OVER_CAPACITY;
		return load_gain >= cost_gain ? ROUTE_REASON_LEAST_LOADED : ROUTE_REASON_LOWEST_COST;
	}
	return ROUTE_REASON_LOWEST_LATENCY;
}

/* A reason's name, as explain and the metrics show it. */
const char *
RouteReasonName(RouteReasonCode reason)
{
	static const char *const names[ROUTE_REASON_COUNT] = {
		"no_regions",
		"no_allowed_region",
		"no_region_available",
		"panic",
		"fenced",
		"failover",
		"over_capacity_last_resort",
		"default_region",
		"no_client_location",
		"country_location",
		"nearest_over_capacity",
		"least_loaded",
		"lowest_cost",
		"lowest_latency",
	};

	return reason >= 0 && reason < ROUTE_REASON_COUNT ? names[reason] : "unknown";
}

/* Why the winner won, or why there is none, by name. */
const char *
RouteReason(const RoutingTable *table, const RouteClient *client, const RouteDecision *decision)
{
	return RouteReasonName(RouteReasonOf(table, client, decision));
}
