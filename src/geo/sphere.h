/*
 * src/geo/sphere.h
 *	  Spherical geometry shared by the geo area: coordinate checks and
 *	  great-circle distance.
 */
#ifndef GEOSHARD_GEO_SPHERE_H
#define GEOSHARD_GEO_SPHERE_H

#include <math.h>

/*
 * Mean earth radius, (2a + b) / 3 of the WGS84 ellipsoid: the sphere PostGIS
 * uses for geography with use_spheroid => false (6371008.8 m rounded).
 */
#define GEO_EARTH_RADIUS_M	6371008.771415059

/* Half the circumference: no two points are further apart */
#define GEO_MAX_DISTANCE_M	(M_PI * GEO_EARTH_RADIUS_M)

#define GEO_RADIANS(deg)	((deg) * (M_PI / 180.0))
#define GEO_DEGREES(rad)	((rad) * (180.0 / M_PI))

/*
 * How the caller wrote the coordinates, for the hint about swapped ones:
 * function arguments are (lat, lon), the built-in point and circle carry
 * point(lon, lat).
 */
typedef enum GeoCoordOrder
{
	GEO_ORDER_LAT_LON,
	GEO_ORDER_POINT_LON_LAT
} GeoCoordOrder;

extern void GeoReportBadLatLon(double lat, double lon, GeoCoordOrder order) pg_attribute_noreturn();

/* Are the coordinates finite and in range?  (NaN fails every comparison.) */
static inline bool
GeoLatLonIsValid(double lat, double lon)
{
	return lat >= -90.0 && lat <= 90.0 && lon >= -180.0 && lon <= 180.0;
}

/*
 * Refuse NaN, infinite and out-of-range coordinates given as (lat, lon)
 * arguments.  One range test per value on the hot path; the error is built
 * out of line.
 */
static inline void
GeoCheckLatLon(double lat, double lon)
{
	if (unlikely(!GeoLatLonIsValid(lat, lon)))
		GeoReportBadLatLon(lat, lon, GEO_ORDER_LAT_LON);
}

/* The same for a point(lon, lat) */
static inline void
GeoCheckPointLonLat(double lon, double lat)
{
	if (unlikely(!GeoLatLonIsValid(lat, lon)))
		GeoReportBadLatLon(lat, lon, GEO_ORDER_POINT_LON_LAT);
}

/* Is the radius a number from 0 to half the circumference? */
static inline bool
GeoRadiusIsValid(double radius_m)
{
	return radius_m >= 0.0 && radius_m <= GEO_MAX_DISTANCE_M;
}

extern void GeoCheckRadius(double radius_m);

#endif							/* GEOSHARD_GEO_SPHERE_H */
