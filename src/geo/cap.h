/*
 * src/geo/cap.h
 *	  A spherical cap (the points within a radius of a centre), prepared for
 *	  many tests against tiles: radius queries, covers and the GiST index.
 */
#ifndef GEOSHARD_GEO_CAP_H
#define GEOSHARD_GEO_CAP_H

#include "geo/quadkey.h"

typedef struct GeoCap
{
	double		lat;			/* centre, degrees */
	double		lon;
	double		radius_m;
	bool		wraps;			/* x range crosses the antimeridian */
	QuadkeyBox	bounds;			/* deepest-level tiles that can meet the cap;
								 * xmin > xmax when wraps */
	QuadkeyBox	inner;			/* tiles wholly inside the cap; empty
								 * (xmin > xmax) when not worth having */
} GeoCap;

extern void GeoCapInit(GeoCap *cap, double lat, double lon, double radius_m);
extern double GeoBoxDistance(double lat, double lon, const QuadkeyBox *box);
extern bool GeoCapMeetsBox(const GeoCap *cap, const QuadkeyBox *box);
extern int	GeoCoverCoarse(const GeoCap *cap, int max_cells, Quadkey *cells);

#endif							/* GEOSHARD_GEO_CAP_H */
