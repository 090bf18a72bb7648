/*
 * src/geo/sphere.c
 *	  Spherical geometry: coordinate checks, haversine distance, and the
 *	  shortest distance from a point to a latitude/longitude rectangle.
 *
 * Everything works on a sphere of radius GEO_EARTH_RADIUS_M, the mean radius
 * PostGIS uses for geography with use_spheroid => false, so haversine() and
 * ST_Distance(geog, geog, false) agree to far below a millimetre.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/float.h"

#include "geo/sphere.h"

/*
 * The commonest mistake is swapped coordinates, so a latitude out of range
 * that would make a valid longitude gets a hint on the order the caller's
 * form expects.  A circle's centre may come from quadkey_dwithin's (lat, lon)
 * arguments (its planner support builds the circle), so the point hint names
 * both orders.
 */
void
GeoReportBadLatLon(double lat, double lon, GeoCoordOrder order)
{
	if (isnan(lat) || isinf(lat) || isnan(lon) || isinf(lon))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("coordinates must be finite numbers"),
				 errdetail("Got latitude %s and longitude %s.",
						   float8out_internal(lat), float8out_internal(lon))));
	if (lat < -90.0 || lat > 90.0)
	{
		bool		looks_swapped = lat >= -180.0 && lat <= 180.0;

		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("latitude %s is out of range", float8out_internal(lat)),
				 errdetail("Latitude must be between -90 and 90 degrees."),
				 !looks_swapped ? 0 :
				 order == GEO_ORDER_LAT_LON ?
				 errhint("Arguments are (lat, lon), latitude first; %s looks like a longitude.",
						 float8out_internal(lat)) :
				 errhint("A point is point(lon, lat), longitude first, while functions take (lat, lon); %s looks like a longitude.",
						 float8out_internal(lat))));
	}
	if (lon < -180.0 || lon > 180.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("longitude %s is out of range", float8out_internal(lon)),
				 errdetail("Longitude must be between -180 and 180 degrees.")));
	elog(ERROR, "coordinates %g, %g reported bad but are valid", lat, lon);
}

/*
 * The largest radius, rounded down to the millimetre for messages: the
 * quoted limit must itself be accepted (rounded to the nearest 0.1 m it
 * would be 20015114.4, which is refused).
 */
#define GEO_MAX_RADIUS_QUOTED_M (floor(GEO_MAX_DISTANCE_M * 1000.0) / 1000.0)

void
GeoCheckRadius(double radius_m)
{
	if (isnan(radius_m))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("radius must be a number, not NaN")));
	if (!GeoRadiusIsValid(radius_m))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("radius %s m is out of range", float8out_internal(radius_m)),
				 errdetail("A radius runs from 0 to %.3f m, half the earth's circumference.",
						   GEO_MAX_RADIUS_QUOTED_M)));
}

/* Haversine distance in metres, given the cosines of both latitudes. */
static inline double
DistanceWithCosines(double lat1, double lon1, double cos1,
					double lat2, double lon2, double cos2)
{
	double		sdlat = sin(GEO_RADIANS(lat2 - lat1) * 0.5);
	double		sdlon = sin(GEO_RADIANS(lon2 - lon1) * 0.5);
	double		a = sdlat * sdlat + cos1 * cos2 * sdlon * sdlon;

	/* rounding can push a a hair past 1 for antipodal points */
	if (a > 1.0)
		a = 1.0;
	return 2.0 * GEO_EARTH_RADIUS_M * asin(sqrt(a));
}

/*
 * The last point seen at each argument position of one call site, already
 * checked, with the cosine of its latitude.  Queries usually measure from
 * one fixed point, so one side is nearly always known.
 */
typedef struct PointCache
{
	double		lat[2];
	double		lon[2];
	double		cos[2];
} PointCache;

/* Check (lat, lon) unless it is the cached point, and return cos(lat). */
static inline double
CachedPointCosine(PointCache *cache, int slot, double lat, double lon)
{
	if (cache->lat[slot] != lat || cache->lon[slot] != lon)
	{
		GeoCheckLatLon(lat, lon);
		cache->lat[slot] = lat;
		cache->lon[slot] = lon;
		cache->cos[slot] = cos(GEO_RADIANS(lat));
	}
	return cache->cos[slot];
}

/* haversine(lat1, lon1, lat2, lon2): great-circle distance in metres */
PG_FUNCTION_INFO_V1(haversine);
Datum
haversine(PG_FUNCTION_ARGS)
{
	double		lat1 = PG_GETARG_FLOAT8(0);
	double		lon1 = PG_GETARG_FLOAT8(1);
	double		lat2 = PG_GETARG_FLOAT8(2);
	double		lon2 = PG_GETARG_FLOAT8(3);
	PointCache *cache = (PointCache *) fcinfo->flinfo->fn_extra;
	double		cos1;
	double		cos2;

	if (unlikely(cache == NULL))
	{
		cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(PointCache));
		/* NaN never equals a coordinate, so both slots start empty */
		cache->lat[0] = cache->lat[1] = get_float8_nan();
		fcinfo->flinfo->fn_extra = cache;
	}
	cos1 = CachedPointCosine(cache, 0, lat1, lon1);
	cos2 = CachedPointCosine(cache, 1, lat2, lon2);

	PG_RETURN_FLOAT8(DistanceWithCosines(lat1, lon1, cos1, lat2, lon2, cos2));
}
