/*
 * src/geo/cap.c
 *	  Spherical caps against tiles: the one test behind quadkey_dwithin, the
 *	  cover and the GiST index.
 *
 * A tile "meets" a cap when its nearest point lies within the radius of the
 * centre.  Every point lies in its own tile, so a tile that misses the cap
 * holds no point within the radius: the test never loses a row, and the
 * exact haversine on the row's coordinates then decides.  The test first
 * compares integer tile ranges against the cap's bounding box, which
 * rejects almost every tile without trigonometry, then against a box
 * inscribed in the cap, which accepts most tiles inside it the same way.
 */
#include "postgres.h"

#include <math.h>

#include "geo/cap.h"
#include "geo/sphere.h"

/*
 * Rounding in the tile edges and in the distance formulas is far below a
 * millimetre; this slack keeps a point that sits on a tile edge from being
 * judged a hair outside its own tile.
 */
#define GEO_CAP_SLACK_M 0.001

/* Tile row of a latitude at the deepest level, as QuadkeyFromLatLon assigns it */
static uint32
DeepRow(double lat)
{
	uint32		x;
	uint32		y;

	QuadkeyToTile(QuadkeyFromLatLon(lat, 0.0, QUADKEY_MAX_LEVEL), &x, &y);
	return y;
}

/* Tile column of a longitude at the deepest level */
static uint32
DeepColumn(double lon)
{
	uint32		x;
	uint32		y;

	QuadkeyToTile(QuadkeyFromLatLon(0.0, lon, QUADKEY_MAX_LEVEL), &x, &y);
	return x;
}

/*
 * A box of deepest-level tiles wholly inside the cap: latitudes within a and
 * longitudes within b of the centre, with hav(a) and cos(lat0) * cos(lat) *
 * hav(b) each at most half of hav(radius), so that by the haversine formula
 * every such point is within the radius.  Edges are rounded inwards by a
 * whole tile.  Left empty near the poles and the antimeridian, where the
 * exact test alone is simpler and as fast.
 */
static void
InitInnerBox(GeoCap *cap)
{
	double		theta = cap->radius_m / GEO_EARTH_RADIUS_M;
	double		half = sin(theta / 2) * sin(theta / 2) / 2;
	double		a = GEO_DEGREES(2 * asin(sqrt(half))) * (1 - 1e-9);
	double		lat_lo = cap->lat - a;
	double		lat_hi = cap->lat + a;
	double		cos_max;
	double		hav_b;
	double		b;

	cap->inner.xmin = 1;
	cap->inner.xmax = 0;
	if (theta > 0.5 || lat_hi > 80.0 || lat_lo < -80.0)
		return;

	/* the largest cosine of a latitude in the box */
	cos_max = (lat_lo <= 0.0 && lat_hi >= 0.0) ? 1.0 :
		cos(GEO_RADIANS(Min(fabs(lat_lo), fabs(lat_hi))));
	hav_b = half / (cos(GEO_RADIANS(cap->lat)) * cos_max);
	if (hav_b >= 1.0)
		return;
	b = GEO_DEGREES(2 * asin(sqrt(hav_b))) * (1 - 1e-9);
	if (cap->lon - b < -180.0 || cap->lon + b > 180.0)
		return;

	cap->inner.ymin = DeepRow(lat_hi) + 1;
	cap->inner.ymax = DeepRow(lat_lo) - 1;
	cap->inner.xmin = DeepColumn(cap->lon - b) + 1;
	cap->inner.xmax = DeepColumn(cap->lon + b) - 1;
}

void
GeoCapInit(GeoCap *cap, double lat, double lon, double radius_m)
{
	/* angular radius in degrees, widened a little against rounding */
	double		angle = GEO_DEGREES(radius_m / GEO_EARTH_RADIUS_M) * (1.0 + 1e-9) + 1e-9;
	double		lat_hi = lat + angle;
	double		lat_lo = lat - angle;
	bool		all_lons = false;
	double		dlon = 0.0;

	GeoCheckLatLon(lat, lon);
	GeoCheckRadius(radius_m);

	cap->lat = lat;
	cap->lon = lon;
	cap->radius_m = radius_m;
	cap->wraps = false;

	/* A cap that reaches a pole spans every longitude. */
	if (lat_hi >= 90.0 || lat_lo <= -90.0)
		all_lons = true;
	else
	{
		double		s = sin(GEO_RADIANS(angle)) / cos(GEO_RADIANS(lat));

		if (s >= 1.0)
			all_lons = true;
		else
		{
			dlon = GEO_DEGREES(asin(s)) * (1.0 + 1e-9) + 1e-9;
			all_lons = dlon >= 180.0;
		}
	}

	cap->bounds.ymin = DeepRow(Min(lat_hi, 90.0));
	cap->bounds.ymax = DeepRow(Max(lat_lo, -90.0));
	if (cap->bounds.ymin > 0)
		cap->bounds.ymin--;
	if (cap->bounds.ymax < QUADKEY_BOX_SIZE - 1)
		cap->bounds.ymax++;

	InitInnerBox(cap);

	if (all_lons)
	{
		cap->bounds.xmin = 0;
		cap->bounds.xmax = QUADKEY_BOX_SIZE - 1;
		return;
	}

	{
		double		lon_lo = lon - dlon;
		double		lon_hi = lon + dlon;

		if (lon_lo < -180.0)
		{
			lon_lo += 360.0;
			cap->wraps = true;
		}
		if (lon_hi > 180.0)
		{
			lon_hi -= 360.0;
			cap->wraps = true;
		}
		cap->bounds.xmin = DeepColumn(lon_lo);
		cap->bounds.xmax = DeepColumn(lon_hi);
		if (cap->bounds.xmin > 0)
			cap->bounds.xmin--;
		if (cap->bounds.xmax < QUADKEY_BOX_SIZE - 1)
			cap->bounds.xmax++;

		/* widening may have closed the gap of a wrapped range */
		if (cap->wraps && cap->bounds.xmin <= cap->bounds.xmax)
		{
			cap->wraps = false;
			cap->bounds.xmin = 0;
			cap->bounds.xmax = QUADKEY_BOX_SIZE - 1;
		}
	}
}

/*
 * Distance in metres from a point to the nearest point of a box of tiles.
 * The top and bottom rows of tiles also hold the points the Mercator clamp
 * moved into them, so here they reach the poles.
 */
double
GeoBoxDistance(double lat, double lon, const QuadkeyBox *box)
{
	GeoRect		rect;

	rect.max_lat = box->ymin == 0 ? 90.0 :
		QuadkeyTileLatitude(box->ymin, QUADKEY_MAX_LEVEL);
	rect.min_lat = box->ymax == QUADKEY_BOX_SIZE - 1 ? -90.0 :
		QuadkeyTileLatitude((uint64) box->ymax + 1, QUADKEY_MAX_LEVEL);
	rect.min_lon = QuadkeyTileLongitude(box->xmin, QUADKEY_MAX_LEVEL);
	rect.max_lon = QuadkeyTileLongitude((uint64) box->xmax + 1, QUADKEY_MAX_LEVEL);

	return GeoRectDistance(lat, lon, &rect);
}

/* Does any point of the box lie within the cap? */
bool
GeoCapMeetsBox(const GeoCap *cap, const QuadkeyBox *box)
{
	if (box->ymax < cap->bounds.ymin || box->ymin > cap->bounds.ymax)
		return false;
	if (cap->wraps)
	{
		if (box->xmax < cap->bounds.xmin && box->xmin > cap->bounds.xmax)
			return false;
	}
	else if (box->xmax < cap->bounds.xmin || box->xmin > cap->bounds.xmax)
		return false;

	if (box->xmin >= cap->inner.xmin && box->xmax <= cap->inner.xmax &&
		box->ymin >= cap->inner.ymin && box->ymax <= cap->inner.ymax)
		return true;

	return GeoBoxDistance(cap->lat, cap->lon, box) <= cap->radius_m + GEO_CAP_SLACK_M;
}
