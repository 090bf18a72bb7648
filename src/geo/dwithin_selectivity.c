/*
 * src/geo/dwithin_selectivity.c
 *	  Row estimates for radius predicates on a quadkey column.
 *
 * Quadkeys sort so that each tile's descendants form one range, so the
 * column's ordinary histogram (ANALYZE builds it with the btree "<") tells
 * what fraction of rows lies in any tile.  The estimate covers the circle
 * with a few coarse tiles, sums the histogram fraction of their ranges
 * (interpolating linearly inside buckets), scales that by the share of the
 * tiles' area the circle takes, and adds the most common values that meet
 * the circle.  When only the radius is known at plan time (a centre taken
 * from another table, a parameter), it takes the circle's share of the area
 * the column's histogram spans.  Without statistics, or without even a
 * radius, it falls back to a fixed guess.
 *
 * Estimation never raises an error: the planner also estimates clauses that
 * can never run (WHERE false OR ...), so a centre or radius the functions
 * would refuse gets the fixed guess here, and the error, if any, comes when
 * the query evaluates the clause.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_statistic.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "utils/fmgroids.h"
#include "utils/geo_decls.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"

#include "geo/cap.h"
#include "geo/dwithin.h"
#include "geo/quadkey.h"
#include "geo/sphere.h"

/* The guess without statistics, as contsel makes for && on boxes */
#define DWITHIN_DEFAULT_SELECTIVITY 0.001

/* Tiles used to cover the circle for the estimate */
#define ESTIMATE_CELLS 16

/* A probability in [0, 1]; the fixed guess should rounding ever give NaN */
static Selectivity
ClampSelectivity(Selectivity sel)
{
	if (isnan(sel))
		return DWITHIN_DEFAULT_SELECTIVITY;
	CLAMP_PROBABILITY(sel);
	return sel;
}

/* Fraction of the histogram's population below v (0 .. 1). */
static double
HistogramPosition(const Datum *bounds, int n, Quadkey v)
{
	int			lo = 0,
				hi = n - 1;
	Quadkey		b0 = DatumGetQuadkey(bounds[0]);
	Quadkey		bn = DatumGetQuadkey(bounds[n - 1]);

	if (v <= b0)
		return 0.0;
	if (v >= bn)
		return 1.0;

	/* find the bucket [bounds[lo], bounds[lo + 1]) holding v */
	while (hi - lo > 1)
	{
		int			mid = (lo + hi) / 2;

		if (DatumGetQuadkey(bounds[mid]) <= v)
			lo = mid;
		else
			hi = mid;
	}
	{
		Quadkey		a = DatumGetQuadkey(bounds[lo]);
		Quadkey		b = DatumGetQuadkey(bounds[lo + 1]);
		double		within = b > a ? (double) (v - a) / (double) (b - a) : 0.0;

		return (lo + within) / (n - 1);
	}
}

/* Area on the unit sphere of a box of deepest-level tiles */
static double
BoxArea(const QuadkeyBox *box)
{
	double		north = GEO_RADIANS(QuadkeyTileLatitude(box->ymin, QUADKEY_MAX_LEVEL));
	double		south = GEO_RADIANS(QuadkeyTileLatitude((uint64) box->ymax + 1, QUADKEY_MAX_LEVEL));

	return (2.0 * M_PI * ((double) box->xmax - box->xmin + 1) / (double) QUADKEY_BOX_SIZE) *
		(sin(north) - sin(south));
}

/*
 * Fraction of rows within radius_m of a centre unknown at plan time: the
 * circle's area over the area the histogram spans, assuming the centre
 * lies among the data.
 */
static Selectivity
RadiusSelectivity(VariableStatData *vardata, double radius_m)
{
	AttStatsSlot hist;
	QuadkeyBox	extent;
	double		extent_area;
	Selectivity sel;

	if (!HeapTupleIsValid(vardata->statsTuple) ||
		!get_attstatsslot(&hist, vardata->statsTuple, STATISTIC_KIND_HISTOGRAM, InvalidOid,
						  ATTSTATSSLOT_VALUES))
		return DWITHIN_DEFAULT_SELECTIVITY;

	QuadkeyToBox(DatumGetQuadkey(hist.values[0]), &extent);
	for (int i = 1; i < hist.nvalues; i++)
	{
		QuadkeyBox	box;

		QuadkeyToBox(DatumGetQuadkey(hist.values[i]), &box);
		extent.xmin = Min(extent.xmin, box.xmin);
		extent.ymin = Min(extent.ymin, box.ymin);
		extent.xmax = Max(extent.xmax, box.xmax);
		extent.ymax = Max(extent.ymax, box.ymax);
	}
	free_attstatsslot(&hist);

	extent_area = BoxArea(&extent);
	if (!(extent_area > 0.0))
		return DWITHIN_DEFAULT_SELECTIVITY;
	sel = 2.0 * M_PI * (1.0 - cos(Min(radius_m / GEO_EARTH_RADIUS_M, M_PI))) / extent_area;
	sel *= 1.0 - ((Form_pg_statistic) GETSTRUCT(vardata->statsTuple))->stanullfrac;
	return ClampSelectivity(sel);
}

/* Estimated fraction of the column's rows whose tile meets the cap. */
static Selectivity
CapSelectivity(VariableStatData *vardata, const GeoCap *cap)
{
	Form_pg_statistic stats;
	AttStatsSlot mcv;
	AttStatsSlot hist;
	Quadkey		cells[ESTIMATE_CELLS];
	int			ncells;
	double		cover_area = 0.0;
	double		cap_area;
	double		mcv_total = 0.0;
	double		mcv_hits = 0.0;
	double		hist_hits = 0.0;
	Selectivity sel;

	if (!HeapTupleIsValid(vardata->statsTuple))
		return DWITHIN_DEFAULT_SELECTIVITY;
	stats = (Form_pg_statistic) GETSTRUCT(vardata->statsTuple);

	ncells = GeoCoverCoarse(cap, ESTIMATE_CELLS, cells);
	for (int i = 0; i < ncells; i++)
	{
		QuadkeyBox	box;

		QuadkeyToBox(cells[i], &box);
		cover_area += BoxArea(&box);
	}
	cap_area = 2.0 * M_PI * (1.0 - cos(cap->radius_m / GEO_EARTH_RADIUS_M));

	if (get_attstatsslot(&mcv, vardata->statsTuple, STATISTIC_KIND_MCV, InvalidOid,
						 ATTSTATSSLOT_VALUES | ATTSTATSSLOT_NUMBERS))
	{
		for (int i = 0; i < mcv.nvalues; i++)
		{
			QuadkeyBox	box;

			QuadkeyToBox(DatumGetQuadkey(mcv.values[i]), &box);
			mcv_total += mcv.numbers[i];
			if (GeoCapMeetsBox(cap, &box))
				mcv_hits += mcv.numbers[i];
		}
		free_attstatsslot(&mcv);
	}

	if (get_attstatsslot(&hist, vardata->statsTuple, STATISTIC_KIND_HISTOGRAM, InvalidOid,
						 ATTSTATSSLOT_VALUES))
	{
		if (hist.nvalues >= 2)
		{
			for (int i = 0; i < ncells; i++)
				hist_hits += HistogramPosition(hist.values, hist.nvalues, QuadkeySubtreeEnd(cells[i])) -
					HistogramPosition(hist.values, hist.nvalues, cells[i]);
			/* rows spread over the tiles, of which the circle takes a share */
			if (cover_area > 0.0)
				hist_hits *= Min(1.0, cap_area / cover_area);
		}
		free_attstatsslot(&hist);
	}
	else if (mcv_total == 0.0)
		return DWITHIN_DEFAULT_SELECTIVITY;

	sel = mcv_hits + hist_hits * Max(0.0, 1.0 - stats->stanullfrac - mcv_total);
	return ClampSelectivity(sel);
}

/*
 * Selectivity of the cap of radius_m around (lat, lon), or of the radius
 * alone when has_centre is false.  Values the functions would refuse get
 * the fixed guess: the error is theirs to raise, at run time.
 */
static Selectivity
EstimateCircle(VariableStatData *vardata, bool has_centre, double lat, double lon,
			   double radius_m)
{
	GeoCap		cap;

	if (!GeoRadiusIsValid(radius_m) || (has_centre && !GeoLatLonIsValid(lat, lon)))
		return DWITHIN_DEFAULT_SELECTIVITY;
	if (!has_centre)
		return RadiusSelectivity(vardata, radius_m);

	/* checked above, so this raises no error */
	GeoCapInit(&cap, lat, lon, radius_m, GEO_ORDER_LAT_LON);
	return CapSelectivity(vardata, &cap);
}

/* The value of an expression if it is a non-null constant at plan time */
static Const *
PlanTimeConst(PlannerInfo *root, Node *node)
{
	node = estimate_expression_value(root, node);
	if (!IsA(node, Const) || ((Const *) node)->constisnull)
		return NULL;
	return (Const *) node;
}

/*
 * Selectivity of qk && circle: from the cap when the circle is a constant,
 * from the radius when the circle is built as circle(point(...), radius)
 * with a constant radius (what the support function makes), else a guess.
 */
static Selectivity
CircleSelectivity(PlannerInfo *root, VariableStatData *vardata, Node *circle_expr)
{
	Const	   *whole = PlanTimeConst(root, circle_expr);

	if (whole != NULL)
	{
		CIRCLE	   *circle = DatumGetCircleP(whole->constvalue);

		return EstimateCircle(vardata, true, circle->center.y, circle->center.x, circle->radius);
	}
	if (IsA(circle_expr, FuncExpr) && ((FuncExpr *) circle_expr)->funcid == F_CIRCLE_POINT_FLOAT8)
	{
		Const	   *radius = PlanTimeConst(root, lsecond(((FuncExpr *) circle_expr)->args));

		if (radius != NULL)
			return EstimateCircle(vardata, false, 0.0, 0.0, DatumGetFloat8(radius->constvalue));
	}
	return DWITHIN_DEFAULT_SELECTIVITY;
}

/* Selectivity of quadkey_dwithin(qk, lat, lon, radius_m), for its support function */
Selectivity
DwithinSelectivity(PlannerInfo *root, List *args, int varRelid)
{
	Const	   *lat = PlanTimeConst(root, lsecond(args));
	Const	   *lon = PlanTimeConst(root, lthird(args));
	Const	   *radius = PlanTimeConst(root, lfourth(args));
	VariableStatData vardata;
	Selectivity sel;

	if (radius == NULL)
		return DWITHIN_DEFAULT_SELECTIVITY;

	examine_variable(root, linitial(args), varRelid, &vardata);
	if (lat != NULL && lon != NULL)
		sel = EstimateCircle(&vardata, true, DatumGetFloat8(lat->constvalue),
							 DatumGetFloat8(lon->constvalue), DatumGetFloat8(radius->constvalue));
	else
		sel = EstimateCircle(&vardata, false, 0.0, 0.0, DatumGetFloat8(radius->constvalue));
	ReleaseVariableStats(vardata);
	return sel;
}

/* quadkey_dwithin_sel: restriction estimator of quadkey && circle */
PG_FUNCTION_INFO_V1(quadkey_dwithin_sel);
Datum
quadkey_dwithin_sel(PG_FUNCTION_ARGS)
{
	PlannerInfo *root = (PlannerInfo *) PG_GETARG_POINTER(0);
	List	   *args = (List *) PG_GETARG_POINTER(2);
	int			varRelid = PG_GETARG_INT32(3);
	VariableStatData vardata;
	Node	   *other;
	bool		varonleft;
	Selectivity sel;

	if (!get_restriction_variable(root, args, varRelid, &vardata, &other, &varonleft))
		PG_RETURN_FLOAT8(DWITHIN_DEFAULT_SELECTIVITY);
	sel = varonleft ? CircleSelectivity(root, &vardata, other) : DWITHIN_DEFAULT_SELECTIVITY;
	ReleaseVariableStats(vardata);
	PG_RETURN_FLOAT8(sel);
}
