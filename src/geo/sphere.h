/*
 * src/geo/sphere.h
 *	  Spherical geometry shared by the geo area: coordinate checks and
 *	  great-circle distance.
 */
#ifndef GEOSHARD_GEO_SPHERE_H
#define GEOSHARD_GEO_SPHERE_H

/*
 * Mean earth radius, (2a + b) / 3 of the WGS84 ellipsoid: the sphere PostGIS
 * uses for geography with use_spheroid => false (6371008.8 m rounded).
 */
#define GEO_EARTH_RADIUS_M	6371008.771415059

/* Half the circumference: no two points are further apart */
#define GEO_MAX_DISTANCE_M	(M_PI * GEO_EARTH_RADIUS_M)

#define GEO_RADIANS(deg)	((deg) * (M_PI / 180.0))
#define GEO_DEGREES(rad)	((rad) * (180.0 / M_PI))

extern void GeoReportBadLatLon(double lat, double lon) pg_attribute_noreturn();

/*
 * Refuse NaN, infinite and out-of-range coordinates.  One range test per
 * value on the hot path (NaN fails every comparison); the error is built
 * out of line.
 */
static inline void
GeoCheckLatLon(double lat, double lon)
{
	if (unlikely(!(lat >= -90.0 && lat <= 90.0 && lon >= -180.0 && lon <= 180.0)))
		GeoReportBadLatLon(lat, lon);
}

extern void GeoCheckRadius(double radius_m);

#endif							/* GEOSHARD_GEO_SPHERE_H */
