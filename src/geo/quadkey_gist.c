/*
 * src/geo/quadkey_gist.c
 *	  GiST operator class for quadkeys: an R-tree over tiles.
 *
 * Every key, leaf or internal, is a QuadkeyBox: a rectangle of tiles in
 * deepest-level (29) tile coordinates, 16 bytes.  A leaf holds exactly its
 * quadkey's tile, so leaf tests are exact and never need a recheck, and the
 * quadkey can be rebuilt from the key (index-only scans).  Internal keys are
 * bounding boxes of their children.
 *
 * Supported: && @> <@ = between quadkeys (so the index also backs exclusion
 * constraints on non-overlapping prefixes), && with a circle (the radius
 * predicate behind quadkey_dwithin), and <-> with a point for
 * nearest-neighbour ordering, where the distance to a box is a lower bound
 * of the distance to anything inside it.
 *
 * Sorted builds order entries by the Hilbert curve index of their centre
 * (computed once per entry, as the abbreviated sort key), so each leaf page
 * holds a compact run of nearby tiles; the Morton order of quadkeys jumps
 * across the map and leaves wide, overlapping leaf boxes.  Page splits
 * after the build cut at the median of the longer side instead (see
 * quadkey_gist_picksplit).
 */
#include "postgres.h"

#include <float.h>

#include "access/gist.h"
#include "access/stratnum.h"
#include "utils/geo_decls.h"
#include "utils/memutils.h"
#include "utils/sortsupport.h"

#include "geo/cap.h"
#include "geo/dwithin.h"
#include "geo/quadkey.h"
#include "geo/sphere.h"

/* Strategy numbers of quadkey_gist_ops (geo.sql must agree); && circle is in dwithin.h */
#define QK_OVERLAP_STRATEGY			RTOverlapStrategyNumber		/* 3: && */
#define QK_CONTAINS_STRATEGY		RTContainsStrategyNumber	/* 7: @> */
#define QK_CONTAINED_STRATEGY		RTContainedByStrategyNumber /* 8: <@ */
#define QK_DISTANCE_STRATEGY		RTKNNSearchStrategyNumber	/* 15: <-> point */
#define QK_EQUAL_STRATEGY			RTEqualStrategyNumber		/* 18: = */

#define DatumGetQuadkeyBox(X)		((QuadkeyBox *) DatumGetPointer(X))

static inline bool
BoxOverlaps(const QuadkeyBox *a, const QuadkeyBox *b)
{
	return a->xmin <= b->xmax && b->xmin <= a->xmax &&
		a->ymin <= b->ymax && b->ymin <= a->ymax;
}

/* Does a contain b? */
static inline bool
BoxContains(const QuadkeyBox *a, const QuadkeyBox *b)
{
	return a->xmin <= b->xmin && b->xmax <= a->xmax &&
		a->ymin <= b->ymin && b->ymax <= a->ymax;
}

static inline void
BoxExtend(QuadkeyBox *a, const QuadkeyBox *b)
{
	a->xmin = Min(a->xmin, b->xmin);
	a->ymin = Min(a->ymin, b->ymin);
	a->xmax = Max(a->xmax, b->xmax);
	a->ymax = Max(a->ymax, b->ymax);
}

static inline double
BoxArea(const QuadkeyBox *a)
{
	return ((double) a->xmax - a->xmin + 1) * ((double) a->ymax - a->ymin + 1);
}

/* Position of deepest-level tile (x, y) along the Hilbert curve */
static uint64
HilbertIndex(uint32 x, uint32 y)
{
	const uint32 n = (uint32) QUADKEY_BOX_SIZE;
	uint64		d = 0;

	for (uint32 s = n / 2; s > 0; s /= 2)
	{
		uint32		rx = (x & s) ? 1 : 0;
		uint32		ry = (y & s) ? 1 : 0;

		d += (uint64) s * s * ((3 * rx) ^ ry);
		/* rotate the quadrant so the curve continues where it left off */
		if (ry == 0)
		{
			uint32		t;

			if (rx == 1)
			{
				x = n - 1 - x;
				y = n - 1 - y;
			}
			t = x;
			x = y;
			y = t;
		}
	}
	return d;
}

/* Hilbert index of the box centre: the order of sorted builds */
static inline uint64
BoxOrder(const QuadkeyBox *a)
{
	return HilbertIndex(a->xmin + (a->xmax - a->xmin) / 2, a->ymin + (a->ymax - a->ymin) / 2);
}

/* quadkey_gistkey_in: the key type is internal to the index */
PG_FUNCTION_INFO_V1(quadkey_gistkey_in);
Datum
quadkey_gistkey_in(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot accept a value of type quadkey_gistkey"),
			 errdetail("This type only stores keys inside quadkey GiST indexes.")));
	PG_RETURN_VOID();
}

/* quadkey_gistkey_out: "(xmin,ymin),(xmax,ymax)" in level-29 tiles, for pageinspect */
PG_FUNCTION_INFO_V1(quadkey_gistkey_out);
Datum
quadkey_gistkey_out(PG_FUNCTION_ARGS)
{
	QuadkeyBox *box = DatumGetQuadkeyBox(PG_GETARG_DATUM(0));

	PG_RETURN_CSTRING(psprintf("(%u,%u),(%u,%u)", box->xmin, box->ymin, box->xmax, box->ymax));
}

/* quadkey_gist_compress: a leaf quadkey becomes its tile box */
PG_FUNCTION_INFO_V1(quadkey_gist_compress);
Datum
quadkey_gist_compress(PG_FUNCTION_ARGS)
{
	GISTENTRY  *entry = (GISTENTRY *) PG_GETARG_POINTER(0);
	GISTENTRY  *result;
	QuadkeyBox *box;

	if (!entry->leafkey)
		PG_RETURN_POINTER(entry);

	box = palloc(sizeof(QuadkeyBox));
	QuadkeyToBox(DatumGetQuadkey(entry->key), box);
	result = palloc(sizeof(GISTENTRY));
	gistentryinit(*result, PointerGetDatum(box), entry->rel, entry->page, entry->offset, false);
	PG_RETURN_POINTER(result);
}

/* quadkey_gist_fetch: rebuild the quadkey of a leaf key, for index-only scans */
PG_FUNCTION_INFO_V1(quadkey_gist_fetch);
Datum
quadkey_gist_fetch(PG_FUNCTION_ARGS)
{
	GISTENTRY  *entry = (GISTENTRY *) PG_GETARG_POINTER(0);
	GISTENTRY  *result = palloc(sizeof(GISTENTRY));

	gistentryinit(*result, QuadkeyGetDatum(QuadkeyFromBox(DatumGetQuadkeyBox(entry->key))),
				  entry->rel, entry->page, entry->offset, false);
	PG_RETURN_POINTER(result);
}

/* quadkey_gist_consistent */
PG_FUNCTION_INFO_V1(quadkey_gist_consistent);
Datum
quadkey_gist_consistent(PG_FUNCTION_ARGS)
{
	GISTENTRY  *entry = (GISTENTRY *) PG_GETARG_POINTER(0);
	StrategyNumber strategy = (StrategyNumber) PG_GETARG_UINT16(2);
	bool	   *recheck = (bool *) PG_GETARG_POINTER(4);
	QuadkeyBox *key = DatumGetQuadkeyBox(entry->key);
	bool		leaf = GIST_LEAF(entry);
	QuadkeyBox	query;

	/* leaf keys are exact tiles */
	*recheck = false;

	if (strategy == QUADKEY_DWITHIN_STRATEGY)
	{
		const GeoCap *cap = GeoCapFromCircle(fcinfo->flinfo, PG_GETARG_CIRCLE_P(1),
													   GEO_ORDER_POINT_LON_LAT);

		PG_RETURN_BOOL(GeoCapMeetsBox(cap, key));
	}

	QuadkeyToBox(PG_GETARG_QUADKEY(1), &query);
	switch (strategy)
	{
		case QK_OVERLAP_STRATEGY:
			PG_RETURN_BOOL(BoxOverlaps(key, &query));
		case QK_CONTAINS_STRATEGY:
			PG_RETURN_BOOL(BoxContains(key, &query));
		case QK_CONTAINED_STRATEGY:
			PG_RETURN_BOOL(leaf ? BoxContains(&query, key) : BoxOverlaps(key, &query));
		case QK_EQUAL_STRATEGY:
			PG_RETURN_BOOL(leaf ? memcmp(key, &query, sizeof(QuadkeyBox)) == 0 :
						   BoxContains(key, &query));
		default:
			elog(ERROR, "unrecognized quadkey GiST strategy number: %d", strategy);
	}
	PG_RETURN_BOOL(false);
}

/*
 * The query point of a nearest-neighbour scan, checked and prepared once
 * per scan (cached in fn_extra) rather than once per index entry.
 */
static const GeoPoint *
ScanPoint(FmgrInfo *flinfo, const Point *point)
{
	GeoPoint   *cached = (GeoPoint *) flinfo->fn_extra;

	if (cached == NULL || cached->lat != point->y || cached->lon != point->x)
	{
		GeoCheckPointLonLat(point->x, point->y);
		if (cached == NULL)
			cached = flinfo->fn_extra = MemoryContextAlloc(flinfo->fn_mcxt, sizeof(GeoPoint));
		GeoPointInit(cached, point->y, point->x);
	}
	return cached;
}

/* quadkey_gist_distance: metres from point(lon, lat) to the key's box */
PG_FUNCTION_INFO_V1(quadkey_gist_distance);
Datum
quadkey_gist_distance(PG_FUNCTION_ARGS)
{
	GISTENTRY  *entry = (GISTENTRY *) PG_GETARG_POINTER(0);
	Point	   *point = PG_GETARG_POINT_P(1);
	StrategyNumber strategy = (StrategyNumber) PG_GETARG_UINT16(2);
	bool	   *recheck = (bool *) PG_GETARG_POINTER(4);

	if (strategy != QK_DISTANCE_STRATEGY)
		elog(ERROR, "unrecognized quadkey GiST strategy number: %d", strategy);

	*recheck = false;
	PG_RETURN_FLOAT8(GeoPointBoxDistance(ScanPoint(fcinfo->flinfo, point), DatumGetQuadkeyBox(entry->key)));
}

/* quadkey_gist_union: the bounding box of all entries */
PG_FUNCTION_INFO_V1(quadkey_gist_union);
Datum
quadkey_gist_union(PG_FUNCTION_ARGS)
{
	GistEntryVector *entries = (GistEntryVector *) PG_GETARG_POINTER(0);
	int		   *size = (int *) PG_GETARG_POINTER(1);
	QuadkeyBox *result = palloc(sizeof(QuadkeyBox));

	*result = *DatumGetQuadkeyBox(entries->vector[0].key);
	for (int i = 1; i < entries->n; i++)
		BoxExtend(result, DatumGetQuadkeyBox(entries->vector[i].key));

	*size = sizeof(QuadkeyBox);
	PG_RETURN_POINTER(result);
}

/* quadkey_gist_penalty: growth in area, with growth in perimeter to break ties */
PG_FUNCTION_INFO_V1(quadkey_gist_penalty);
Datum
quadkey_gist_penalty(PG_FUNCTION_ARGS)
{
	GISTENTRY  *original = (GISTENTRY *) PG_GETARG_POINTER(0);
	GISTENTRY  *added = (GISTENTRY *) PG_GETARG_POINTER(1);
	float	   *penalty = (float *) PG_GETARG_POINTER(2);
	QuadkeyBox *orig = DatumGetQuadkeyBox(original->key);
	QuadkeyBox	merged = *orig;
	double		perimeter_growth;

	BoxExtend(&merged, DatumGetQuadkeyBox(added->key));
	perimeter_growth = ((double) merged.xmax - merged.xmin + merged.ymax - merged.ymin) -
		((double) orig->xmax - orig->xmin + orig->ymax - orig->ymin);

	*penalty = (float) (BoxArea(&merged) - BoxArea(orig) + perimeter_growth * 1e-6);
	PG_RETURN_POINTER(penalty);
}

typedef struct SplitItem
{
	OffsetNumber offset;
	uint64		order;			/* centre on the split axis, then the other */
} SplitItem;

static int
CompareSplitItems(const void *a, const void *b)
{
	uint64		x = ((const SplitItem *) a)->order;
	uint64		y = ((const SplitItem *) b)->order;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * quadkey_gist_picksplit: split at the median along the longer side of the
 * page's bounding box, so the halves sit side by side.  (Halving a
 * space-filling-curve order instead can give two halves that each span the
 * whole page, since the curve may enter a region in several pieces; inserts
 * would then never separate again.)  Tile units are square in Web
 * Mercator, so the sides compare directly.
 */
PG_FUNCTION_INFO_V1(quadkey_gist_picksplit);
Datum
quadkey_gist_picksplit(PG_FUNCTION_ARGS)
{
	GistEntryVector *entries = (GistEntryVector *) PG_GETARG_POINTER(0);
	GIST_SPLITVEC *v = (GIST_SPLITVEC *) PG_GETARG_POINTER(1);
	OffsetNumber maxoff = entries->n - 1;
	int			n = maxoff - FirstOffsetNumber + 1;
	SplitItem  *items = palloc(sizeof(SplitItem) * n);
	QuadkeyBox *left = palloc(sizeof(QuadkeyBox));
	QuadkeyBox *right = palloc(sizeof(QuadkeyBox));
	QuadkeyBox	all = *DatumGetQuadkeyBox(entries->vector[FirstOffsetNumber].key);
	bool		split_x;

	for (int i = 1; i < n; i++)
		BoxExtend(&all, DatumGetQuadkeyBox(entries->vector[FirstOffsetNumber + i].key));
	split_x = (all.xmax - all.xmin) >= (all.ymax - all.ymin);

	for (int i = 0; i < n; i++)
	{
		QuadkeyBox *box = DatumGetQuadkeyBox(entries->vector[FirstOffsetNumber + i].key);
		uint64		cx = ((uint64) box->xmin + box->xmax) / 2;
		uint64		cy = ((uint64) box->ymin + box->ymax) / 2;

		items[i].offset = FirstOffsetNumber + i;
		items[i].order = split_x ? (cx << 32 | cy) : (cy << 32 | cx);
	}
	qsort(items, n, sizeof(SplitItem), CompareSplitItems);

	v->spl_left = palloc(sizeof(OffsetNumber) * n);
	v->spl_right = palloc(sizeof(OffsetNumber) * n);
	v->spl_nleft = 0;
	v->spl_nright = 0;

	for (int i = 0; i < n; i++)
	{
		QuadkeyBox *box = DatumGetQuadkeyBox(entries->vector[items[i].offset].key);

		if (i < n / 2)
		{
			if (v->spl_nleft == 0)
				*left = *box;
			else
				BoxExtend(left, box);
			v->spl_left[v->spl_nleft++] = items[i].offset;
		}
		else
		{
			if (v->spl_nright == 0)
				*right = *box;
			else
				BoxExtend(right, box);
			v->spl_right[v->spl_nright++] = items[i].offset;
		}
	}

	v->spl_ldatum = PointerGetDatum(left);
	v->spl_rdatum = PointerGetDatum(right);
	PG_RETURN_POINTER(v);
}

/* quadkey_gist_same */
PG_FUNCTION_INFO_V1(quadkey_gist_same);
Datum
quadkey_gist_same(PG_FUNCTION_ARGS)
{
	QuadkeyBox *a = DatumGetQuadkeyBox(PG_GETARG_DATUM(0));
	QuadkeyBox *b = DatumGetQuadkeyBox(PG_GETARG_DATUM(1));
	bool	   *result = (bool *) PG_GETARG_POINTER(2);

	*result = memcmp(a, b, sizeof(QuadkeyBox)) == 0;
	PG_RETURN_POINTER(result);
}

static int
CompareBoxesForBuild(Datum a, Datum b, SortSupport ssup)
{
	uint64		x = BoxOrder(DatumGetQuadkeyBox(a));
	uint64		y = BoxOrder(DatumGetQuadkeyBox(b));

	return x < y ? -1 : x > y ? 1 : 0;
}

/* The abbreviated key is the whole Hilbert index: nothing is lost. */
static Datum
AbbreviateBox(Datum original, SortSupport ssup)
{
	return UInt64GetDatum(BoxOrder(DatumGetQuadkeyBox(original)));
}

static bool
NeverAbortAbbreviation(int memtupcount, SortSupport ssup)
{
	return false;
}

/* quadkey_gist_sortsupport: sorted builds, in Hilbert order */
PG_FUNCTION_INFO_V1(quadkey_gist_sortsupport);
Datum
quadkey_gist_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	if (ssup->abbreviate)
	{
		ssup->comparator = ssup_datum_unsigned_cmp;
		ssup->abbrev_converter = AbbreviateBox;
		ssup->abbrev_abort = NeverAbortAbbreviation;
		ssup->abbrev_full_comparator = CompareBoxesForBuild;
	}
	else
		ssup->comparator = CompareBoxesForBuild;
	PG_RETURN_VOID();
}
