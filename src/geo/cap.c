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

/*
 * Check and prepare the cap of radius_m around (lat, lon); order says how
 * the caller wrote the centre, for the error hint.
 */
void
GeoCapInit(GeoCap *cap, double lat, double lon, double radius_m, GeoCoordOrder order)
{
	/* angular radius in degrees, widened a little against rounding */
	double		angle = GEO_DEGREES(radius_m / GEO_EARTH_RADIUS_M) * (1.0 + 1e-9) + 1e-9;
	double		lat_hi = lat + angle;
	double		lat_lo = lat - angle;
	bool		all_lons = false;
	double		dlon = 0.0;

	if (unlikely(!GeoLatLonIsValid(lat, lon)))
		GeoReportBadLatLon(lat, lon, order);
	GeoCheckRadius(radius_m);

	cap->lat = lat;
	cap->lon = lon;
	cap->radius_m = radius_m;
	GeoPointInit(&cap->centre, lat, lon);
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

/* Web Mercator y of a latitude's sine, in deepest-level tile rows */
static inline double
MercatorRow(double sinlat)
{
	/* sin(85.05112878 degrees): the clamp of the tile system */
	const double limit = 0.99627207622075;

	sinlat = Max(-limit, Min(limit, sinlat));
	return (0.5 - log((1.0 + sinlat) / (1.0 - sinlat)) / (4.0 * M_PI)) * (double) QUADKEY_BOX_SIZE;
}

void
GeoPointInit(GeoPoint *point, double lat, double lon)
{
	point->lat = lat;
	point->lon = lon;
	point->sinlat = sin(GEO_RADIANS(lat));
	point->coslat = cos(GEO_RADIANS(lat));
	point->row = MercatorRow(point->sinlat);
}

/* Absolute longitude difference in degrees, wrapped into [0, 180]. */
static inline double
LongitudeGap(double a, double b)
{
	double		d = fabs(a - b);

	return d > 180.0 ? 360.0 - d : d;
}

/* Great-circle distance in metres from the point to (lat, lon) */
static inline double
DistanceTo(const GeoPoint *point, double lat, double lon)
{
	double		sdlat = sin(GEO_RADIANS(lat - point->lat) * 0.5);
	double		sdlon = sin(GEO_RADIANS(lon - point->lon) * 0.5);
	double		a = sdlat * sdlat + point->coslat * cos(GEO_RADIANS(lat)) * sdlon * sdlon;

	return 2.0 * GEO_EARTH_RADIUS_M * asin(sqrt(Min(a, 1.0)));
}

/* Latitudes of a box's northern and southern edges; the polar rows reach the poles */
static inline double
BoxNorth(const QuadkeyBox *box)
{
	return box->ymin == 0 ? 90.0 : QuadkeyTileLatitude(box->ymin, QUADKEY_MAX_LEVEL);
}

static inline double
BoxSouth(const QuadkeyBox *box)
{
	return box->ymax == QUADKEY_BOX_SIZE - 1 ? -90.0 :
		QuadkeyTileLatitude((uint64) box->ymax + 1, QUADKEY_MAX_LEVEL);
}

/*
 * Distance in metres from a point to the nearest point of a box of tiles
 * (0 inside).  The top and bottom rows of tiles also hold the points the
 * Mercator clamp moved into them, so here they reach the poles.
 *
 * Inside the box's longitudes the nearest point lies straight north or
 * south; outside them it lies on the nearer meridian edge (as in S2's
 * S2LatLngRect::GetDistance): at the foot of the perpendicular from the
 * point if that falls within the edge, else at the edge's end nearer the
 * foot.  Which case applies is decided in tile rows, without computing
 * latitudes, so most boxes cost one or two transcendental calls.  Near a
 * row boundary the comparison may misjudge by rounding; the result then
 * errs low (0, or the perpendicular distance), never high.
 */
double
GeoPointBoxDistance(const GeoPoint *point, const QuadkeyBox *box)
{
	double		min_lon = QuadkeyTileLongitude(box->xmin, QUADKEY_MAX_LEVEL);
	double		max_lon = QuadkeyTileLongitude((uint64) box->xmax + 1, QUADKEY_MAX_LEVEL);
	bool		to_north = box->ymin == 0;
	bool		to_south = box->ymax == QUADKEY_BOX_SIZE - 1;
	double		edge_lon;
	double		dlon;
	double		cosd;

	if (point->lon >= min_lon && point->lon <= max_lon)
	{
		if (!to_north && point->row < (double) box->ymin)
			return Max(0.0, GEO_EARTH_RADIUS_M * GEO_RADIANS(point->lat - BoxNorth(box)));
		if (!to_south && point->row > (double) box->ymax + 1.0)
			return Max(0.0, GEO_EARTH_RADIUS_M * GEO_RADIANS(BoxSouth(box) - point->lat));
		return 0.0;
	}

	edge_lon = LongitudeGap(point->lon, min_lon) <= LongitudeGap(point->lon, max_lon) ? min_lon : max_lon;
	dlon = GEO_RADIANS(LongitudeGap(point->lon, edge_lon));
	cosd = cos(dlon);
	if (cosd > 0.0)
	{
		/* the foot of the perpendicular on the edge's meridian, as a sine */
		double		across = point->coslat * cosd;
		double		foot_row = MercatorRow(point->sinlat / sqrt(point->sinlat * point->sinlat + across * across));

		if ((to_north || foot_row >= (double) box->ymin) &&
			(to_south || foot_row <= (double) box->ymax + 1.0))
			return GEO_EARTH_RADIUS_M * asin(Min(1.0, fabs(point->coslat * sin(dlon))));
		return DistanceTo(point, foot_row < (double) box->ymin ? BoxNorth(box) : BoxSouth(box), edge_lon);
	}

	/* the foot is on the far half of the meridian circle: one end is nearest */
	return Min(DistanceTo(point, BoxNorth(box), edge_lon), DistanceTo(point, BoxSouth(box), edge_lon));
}

/* Distance in metres from (lat, lon) to the nearest point of a box of tiles */
double
GeoBoxDistance(double lat, double lon, const QuadkeyBox *box)
{
	GeoPoint	point;

	GeoPointInit(&point, lat, lon);
	return GeoPointBoxDistance(&point, box);
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

	return GeoPointBoxDistance(&cap->centre, box) <= cap->radius_m + GEO_CAP_SLACK_M;
}
