/*
 * src/geo/cap.h
 *	  A spherical cap (the points within a radius of a centre), prepared for
 *	  many tests against tiles: radius queries, covers and the GiST index.
 */
#ifndef GEOSHARD_GEO_CAP_H
#define GEOSHARD_GEO_CAP_H

#include "geo/quadkey.h"
#include "geo/sphere.h"

/*
 * A point prepared for many distance computations against tile boxes: the
 * sine and cosine of its latitude, and its Web Mercator y in deepest-level
 * tile rows (fractional, clamped to the Mercator limit).
 */
typedef struct GeoPoint
{
	double		lat;			/* degrees */
	double		lon;
	double		sinlat;
	double		coslat;
	double		row;
} GeoPoint;

typedef struct GeoCap
{
	double		lat;			/* centre, degrees */
	double		lon;
	double		radius_m;
	GeoPoint	centre;
	bool		wraps;			/* x range crosses the antimeridian */
	QuadkeyBox	bounds;			/* deepest-level tiles that can meet the cap;
								 * xmin > xmax when wraps */
	QuadkeyBox	inner;			/* tiles wholly inside the cap; empty
								 * (xmin > xmax) when not worth having */
} GeoCap;

extern void GeoCapInit(GeoCap *cap, double lat, double lon, double radius_m,
					   GeoCoordOrder order);
extern void GeoPointInit(GeoPoint *point, double lat, double lon);
extern double GeoPointBoxDistance(const GeoPoint *point, const QuadkeyBox *box);
extern double GeoBoxDistance(double lat, double lon, const QuadkeyBox *box);
extern bool GeoCapMeetsBox(const GeoCap *cap, const QuadkeyBox *box);
extern int	GeoCoverCoarse(const GeoCap *cap, int max_cells, Quadkey *cells);

#endif							/* GEOSHARD_GEO_CAP_H */
