/*
 * src/routing/route.c
 *	  route_region, route_regions and route_region_explain: which region a
 *	  client should talk to, the failover order, and why.
 *
 * A call locates the client (GeoIP for an address, or the location given;
 * a client GeoIP places only in a country is put at its country's point,
 * country.c), reads its network's measured latencies, then scores the
 * routing table (score.c).  route_region scores while holding the table (a shared LWLock
 * when the table is in shared memory) and copies out only the winner's id;
 * it runs no SQL unless the catalogue changed since the last load or the
 * address is not in the GeoIP file and the table fallback answers.  The
 * other two copy the table first and do their slower work unlocked.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/inet.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "core/guc.h"
#include "geo/sphere.h"
#include "observe/counters.h"
#include "routing/country.h"
#include "routing/geoip.h"
#include "routing/latency.h"
#include "routing/routing_table.h"
#include "routing/score.h"

/* a client with where it came from, for explanations */
typedef struct RouteRequest
{
	RouteClient client;
	inet	   *ip;				/* NULL when located by arguments */
	GeoipAnswer geoip;
	const char *source;			/* mmdb, table, argument or NULL */
	const char *location_source;	/* source, or country; NULL when unknown */
	ObserveLocationSource location_code;	/* location_source, for the metrics */
} RouteRequest;

/*
 * Take a country code from GeoIP: upper-cased, and ignored unless it is 1
 * to ROUTING_COUNTRY_LEN letters or digits (the table fallback holds free
 * text).
 */
static void
RouteSetCountry(RouteClient *client, const char *code, int len)
{
	client->country_len = 0;
	if (len < 1 || len > ROUTING_COUNTRY_LEN)
		return;
	for (int i = 0; i < len; i++)
	{
		char		c = code[i];

		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return;
		client->country[i] = c;
	}
	client->country[len] = '\0';
	client->country_len = len;
}

static void
RouteLocateAddress(RouteRequest *req, inet *ip, bool explain)
{
	RouteClient *client = &req->client;

	req->ip = ip;
	req->source = GeoipLocate(ip, explain, &req->geoip);
	client->has_location = req->geoip.has_location;
	client->lat = req->geoip.latitude;
	client->lon = req->geoip.longitude;
	client->from_country = false;
	client->country_len = 0;
	req->location_source = client->has_location ? req->source : NULL;
	/* GeoipLocate answers "mmdb" or "table": the first letter tells them apart */
	req->location_code = req->location_source == NULL ? OBSERVE_SOURCE_NONE :
		req->location_source[0] == 'm' ? OBSERVE_SOURCE_MMDB : OBSERVE_SOURCE_TABLE;
	if (req->geoip.country != NULL)
		RouteSetCountry(client, VARDATA_ANY(req->geoip.country),
						VARSIZE_ANY_EXHDR(req->geoip.country));

	/* only a country: the country's point, with a country-sized radius */
	if (!client->has_location && client->country_len > 0)
	{
		const CountryPoint *country = CountryFind(client->country, client->country_len);

		if (country != NULL && country->has_point)
		{
			client->has_location = true;
			client->from_country = true;
			client->lat = country->lat;
			client->lon = country->lon;
			req->geoip.has_radius = true;
			req->geoip.accuracy_radius_km = country->radius_km;
			req->location_source = "country";
			req->location_code = OBSERVE_SOURCE_COUNTRY;
		}
	}
	client->nobserved = LatencyLookup(LatencyNetworkKey(ip), client->observed);
}

/*
 * Locate by route_region(lat, lon, country) arguments; false when lat or
 * lon is NULL (the answer is then NULL).
 */
static bool
RouteLocateArguments(FunctionCallInfo fcinfo, RouteRequest *req)
{
	RouteClient *client = &req->client;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return false;
	client->lat = PG_GETARG_FLOAT8(0);
	client->lon = PG_GETARG_FLOAT8(1);
	GeoCheckLatLon(client->lat, client->lon);
	client->has_location = true;
	client->from_country = false;
	client->country_len = 0;
	client->nobserved = 0;
	if (!PG_ARGISNULL(2))
	{
		text	   *country = PG_GETARG_TEXT_PP(2);
		const CountryPoint *known = CountryCheckCode(VARDATA_ANY(country),
													 VARSIZE_ANY_EXHDR(country));

		memcpy(client->country, known->code, sizeof(known->code));
		client->country_len = 2;
	}
	req->ip = NULL;
	req->source = "argument";
	req->location_source = "argument";
	req->location_code = OBSERVE_SOURCE_ARGUMENT;
	memset(&req->geoip, 0, sizeof(GeoipAnswer));
	return true;
}

/*
 * The winner's id for a located client, or NULL.  Counts the call by its
 * reason and its client's location source (geoshard.metrics); the reason is
 * worked out only while counting is on.
 */
static text *
RouteWinner(const RouteRequest *req)
{
	const RouteClient *client = &req->client;
	RouteDecision decision;
	const RoutingTable *table;
	char		id[ROUTING_NAME_LEN];

	table = RoutingTableAcquire();
	RouteDecide(table, client, &decision);
	if (geoshard_metrics_enabled)
	{
		ObserveCount(OBSERVE_ROUTE_REASON + RouteReasonOf(table, client, &decision));
		ObserveCount(OBSERVE_ROUTE_SOURCE + req->location_code);
	}
	if (decision.winner >= 0)
		memcpy(id, table->regions[decision.winner].id, ROUTING_NAME_LEN);
	RoutingTableRelease();

	return decision.winner >= 0 ? cstring_to_text(id) : NULL;
}

/* route_region(ip): the best region for a client address */
PG_FUNCTION_INFO_V1(route_region);
Datum
route_region(PG_FUNCTION_ARGS)
{
	RouteRequest req;
	text	   *result;

	RouteLocateAddress(&req, PG_GETARG_INET_PP(0), false);
	result = RouteWinner(&req);
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}

/* route_region(lat, lon, country): the best region for a client location */
PG_FUNCTION_INFO_V1(route_region_at);
Datum
route_region_at(PG_FUNCTION_ARGS)
{
	RouteRequest req;
	text	   *result;

	if (!RouteLocateArguments(fcinfo, &req))
		PG_RETURN_NULL();
	result = RouteWinner(&req);
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}

/* Copy the used part of the current routing table, and decide on the copy. */
static RoutingTable *
RouteDecideOnCopy(const RouteClient *client, RouteDecision *decision)
{
	RoutingTable *copy = palloc(sizeof(RoutingTable));
	const RoutingTable *table = RoutingTableAcquire();

	copy->nregions = table->nregions;
	copy->nfences = table->nfences;
	copy->ncountries = table->ncountries;
	copy->panic = table->panic;
	memcpy(copy->regions, table->regions, sizeof(RoutingRegion) * table->nregions);
	memcpy(copy->fences, table->fences, sizeof(RoutingFence) * table->nfences);
	memcpy(copy->countries, table->countries, sizeof(RoutingFenceCountry) * table->ncountries);
	RoutingTableRelease();

	RouteDecide(copy, client, decision);
	return copy;
}

/* route_regions(ip, n): the n best regions, best first */
PG_FUNCTION_INFO_V1(route_regions);
Datum
route_regions(PG_FUNCTION_ARGS)
{
	inet	   *ip = PG_GETARG_INET_PP(0);
	int32		n = PG_GETARG_INT32(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RouteRequest req;
	RouteDecision *decision;
	RoutingTable *table;
	int		   *order;
	int			nranked;

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of regions must not be negative: %d", n)));

	InitMaterializedSRF(fcinfo, 0);
	RouteLocateAddress(&req, ip, false);
	decision = palloc(sizeof(RouteDecision));
	table = RouteDecideOnCopy(&req.client, decision);
	order = palloc(sizeof(int) * ROUTING_MAX_REGIONS);
	nranked = RouteRank(decision, order);

	for (int i = 0; i < nranked && i < n; i++)
	{
		const RouteCandidate *c = &decision->candidates[order[i]];
		const RoutingRegion *r = &table->regions[c->slot];
		Datum		values[10];
		bool		nulls[10] = {0};

		values[0] = Int32GetDatum(i + 1);
		values[1] = CStringGetTextDatum(r->id);
		values[2] = Float8GetDatum(c->score);
		values[3] = Float8GetDatum(c->latency_ms);
		nulls[3] = !c->has_latency;
		if (c->has_latency)
			values[4] = CStringGetTextDatum(RouteLatencySource(&req.client, c));
		nulls[4] = !c->has_latency;
		values[5] = Float8GetDatum(c->distance_km);
		nulls[5] = isnan(c->distance_km);
		values[6] = Float8GetDatum(r->cost);
		values[7] = Float8GetDatum(r->load_fraction);
		values[8] = BoolGetDatum(c->over_capacity);
		values[9] = CStringGetTextDatum(RoutingBreakerName((RoutingBreaker) r->breaker));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * Append a number rounded to 3 decimals, or null.  Numbers too large to
 * have decimals are written in full precision, so that even a saturated
 * score (DBL_MAX) casts back to float8.
 */
static void
RouteAppendNumber(StringInfo buf, const char *key, bool known, double value)
{
	appendStringInfo(buf, ",\"%s\":", key);
	if (!known || !isfinite(value))
		appendStringInfoString(buf, "null");
	else if (fabs(value) < 1e15)
		appendStringInfo(buf, "%.15g", round(value * 1000.0) / 1000.0);
	else
		appendStringInfo(buf, "%.17g", value);
}

static void
RouteAppendString(StringInfo buf, const char *key, const char *value)
{
	appendStringInfo(buf, ",\"%s\":", key);
	if (value != NULL)
		escape_json(buf, value);
	else
		appendStringInfoString(buf, "null");
}

/* The figures of one candidate, as members of an object already opened. */
static void
RouteAppendFigures(StringInfo buf, const RoutingTable *table, const RouteClient *client,
				   const RouteCandidate *c)
{
	const RoutingRegion *r = &table->regions[c->slot];

	RouteAppendNumber(buf, "latency_ms", c->has_latency, c->latency_ms);
	RouteAppendString(buf, "latency_source", RouteLatencySource(client, c));
	RouteAppendNumber(buf, "distance_km", !isnan(c->distance_km), c->distance_km);
	RouteAppendNumber(buf, "score", true, c->score);
	RouteAppendNumber(buf, "cost_penalty_ms", true, c->cost_penalty_ms);
	RouteAppendNumber(buf, "load_penalty_ms", true, c->load_penalty_ms);
	if (r->degraded)
		RouteAppendNumber(buf, "degraded_penalty_ms", true, geoshard_health_degraded_penalty_ms);
	RouteAppendNumber(buf, "load_fraction", true, r->load_fraction);
	appendStringInfo(buf, ",\"over_capacity\":%s", c->over_capacity ? "true" : "false");
	RouteAppendString(buf, "breaker", RoutingBreakerName((RoutingBreaker) r->breaker));
}

static void
RouteAppendCandidate(StringInfo buf, const RoutingTable *table, const RouteClient *client,
					 const RouteCandidate *c, bool first, bool with_why)
{
	appendStringInfoString(buf, first ? "{\"region\":" : ",{\"region\":");
	escape_json(buf, table->regions[c->slot].id);
	if (with_why)
		RouteAppendString(buf, "why", RouteExclusionName(c->exclusion));
	RouteAppendFigures(buf, table, client, c);
	appendStringInfoChar(buf, '}');
}

static void
RouteAppendClient(StringInfo buf, const RouteRequest *req)
{
	const RouteClient *client = &req->client;

	appendStringInfoString(buf, ",\"client\":{\"ip\":");
	if (req->ip != NULL)
	{
		escape_json(buf, DatumGetCString(DirectFunctionCall1(inet_out, PointerGetDatum(req->ip))));
		RouteAppendString(buf, "network", LatencyNetworkText(req->ip));
	}
	else
		appendStringInfoString(buf, "null,\"network\":null");
	RouteAppendString(buf, "country", client->country_len > 0 ? client->country : NULL);
	RouteAppendNumber(buf, "latitude", client->has_location, client->lat);
	RouteAppendNumber(buf, "longitude", client->has_location, client->lon);
	RouteAppendNumber(buf, "accuracy_radius_km", req->geoip.has_radius,
					  req->geoip.accuracy_radius_km);
	RouteAppendString(buf, "source", req->source);
	RouteAppendString(buf, "location_source", req->location_source);
	appendStringInfo(buf, ",\"measured_regions\":%d}", client->nobserved);
}

/* The fences applied, and the regions they allow together. */
static void
RouteAppendFence(StringInfo buf, const RoutingTable *table, const RouteDecision *decision)
{
	bool		first = true;

	appendStringInfoString(buf, ",\"fence\":");
	if (decision->nfences == 0)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	appendStringInfoString(buf, "{\"names\":[");
	for (int i = 0; i < decision->nfences; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		escape_json(buf, table->fences[decision->fences[i]].name);
	}
	appendStringInfoString(buf, "],\"allowed\":[");
	for (int i = 0; i < decision->ncandidates; i++)
	{
		if (decision->candidates[i].exclusion == ROUTE_FENCED)
			continue;
		if (!first)
			appendStringInfoChar(buf, ',');
		escape_json(buf, table->regions[i].id);
		first = false;
	}
	appendStringInfoString(buf, "]}");
}

static Datum
RouteExplain(RouteRequest *req)
{
	RouteDecision *decision = palloc(sizeof(RouteDecision));
	RoutingTable *table = RouteDecideOnCopy(&req->client, decision);
	int		   *order = palloc(sizeof(int) * ROUTING_MAX_REGIONS);
	int			nranked = RouteRank(decision, order);
	StringInfoData buf;
	bool		first;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"region\":");
	if (decision->winner >= 0)
	{
		const RouteCandidate *w = &decision->candidates[decision->winner];

		escape_json(&buf, table->regions[w->slot].id);
		RouteAppendString(&buf, "reason", RouteReason(table, &req->client, decision));
		RouteAppendFigures(&buf, table, &req->client, w);
	}
	else
	{
		appendStringInfoString(&buf, "null");
		RouteAppendString(&buf, "reason", RouteReason(table, &req->client, decision));
	}

	RouteAppendClient(&buf, req);
	RouteAppendFence(&buf, table, decision);
	RouteAppendString(&buf, "default_region", decision->default_slot >= 0 ?
					  table->regions[decision->default_slot].id : NULL);
	appendStringInfoString(&buf, ",\"weights\":{\"base_latency_ms\":");
	appendStringInfo(&buf, "%.15g", geoshard_route_base_latency_ms);
	RouteAppendNumber(&buf, "cost_weight", true, geoshard_route_cost_weight);
	RouteAppendNumber(&buf, "load_weight", true, geoshard_route_load_weight);
	appendStringInfoChar(&buf, '}');

	appendStringInfoString(&buf, ",\"alternatives\":[");
	for (int i = 1; i < nranked; i++)
		RouteAppendCandidate(&buf, table, &req->client, &decision->candidates[order[i]], i == 1, false);
	appendStringInfoString(&buf, "],\"excluded\":[");
	first = true;
	for (int i = 0; i < decision->ncandidates; i++)
	{
		if (decision->candidates[i].exclusion == ROUTE_ELIGIBLE)
			continue;
		RouteAppendCandidate(&buf, table, &req->client, &decision->candidates[i], first, true);
		first = false;
	}
	appendStringInfoString(&buf, "]}");

	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/* route_region_explain(ip): route_region's decision for an address, as jsonb */
PG_FUNCTION_INFO_V1(route_region_explain);
Datum
route_region_explain(PG_FUNCTION_ARGS)
{
	RouteRequest req;

	RouteLocateAddress(&req, PG_GETARG_INET_PP(0), true);
	PG_RETURN_DATUM(RouteExplain(&req));
}

/* route_region_explain(lat, lon, country): route_region's decision for a location */
PG_FUNCTION_INFO_V1(route_region_explain_at);
Datum
route_region_explain_at(PG_FUNCTION_ARGS)
{
	RouteRequest req;

	if (!RouteLocateArguments(fcinfo, &req))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(RouteExplain(&req));
}
