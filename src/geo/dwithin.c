/*
 * src/geo/dwithin.c
 *	  Radius and distance predicates on quadkeys, and the planner support
 *	  that lets a plain quadkey_dwithin() call use a GiST index.
 *
 * quadkey_dwithin(qk, lat, lon, r) is true when qk's tile comes within r
 * metres of (lat, lon).  Its support function turns the call into the
 * indexable clause qk && circle(point(lon, lat), r), where the built-in
 * circle carries the centre as (lon, lat) degrees, earthdistance's point
 * convention, and the radius in metres.  Both have the same meaning, so the
 * index condition is exact: a plain index scan drops the call, while bitmap
 * heap scans still evaluate it once per row, cheaply, from the cached cap.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "utils/fmgroids.h"
#include "utils/geo_decls.h"
#include "utils/lsyscache.h"

#include "geo/cap.h"
#include "geo/dwithin.h"
#include "geo/quadkey.h"
#include "geo/sphere.h"

/* A prepared cap and the circle it was made from */
typedef struct CircleCap
{
	bool		valid;
	CIRCLE		circle;
	GeoCap		cap;
} CircleCap;

/*
 * The cap of a circle argument, prepared once per call site (cached in
 * fn_extra) and remade only when the circle changes.
 */
const GeoCap *
GeoCapFromCircle(FmgrInfo *flinfo, const CIRCLE *circle, GeoCoordOrder order)
{
	CircleCap  *cached = (CircleCap *) flinfo->fn_extra;

	if (cached == NULL)
		cached = flinfo->fn_extra = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(CircleCap));
	else if (cached->valid && memcmp(&cached->circle, circle, sizeof(CIRCLE)) == 0)
		return &cached->cap;

	cached->valid = false;
	GeoCapInit(&cached->cap, circle->center.y, circle->center.x, circle->radius, order);
	cached->circle = *circle;
	cached->valid = true;
	return &cached->cap;
}

/* quadkey_dwithin(qk, lat, lon, radius_m): does qk's tile come within radius_m of the point? */
PG_FUNCTION_INFO_V1(quadkey_dwithin);
Datum
quadkey_dwithin(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	CIRCLE		circle;
	QuadkeyBox	box;

	circle.center.y = PG_GETARG_FLOAT8(1);
	circle.center.x = PG_GETARG_FLOAT8(2);
	circle.radius = PG_GETARG_FLOAT8(3);

	QuadkeyToBox(qk, &box);
	PG_RETURN_BOOL(GeoCapMeetsBox(GeoCapFromCircle(fcinfo->flinfo, &circle, GEO_ORDER_LAT_LON), &box));
}

/* quadkey && circle: the operator form of quadkey_dwithin, for the index */
PG_FUNCTION_INFO_V1(quadkey_dwithin_circle);
Datum
quadkey_dwithin_circle(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	CIRCLE	   *circle = PG_GETARG_CIRCLE_P(1);
	QuadkeyBox	box;

	QuadkeyToBox(qk, &box);
	PG_RETURN_BOOL(GeoCapMeetsBox(GeoCapFromCircle(fcinfo->flinfo, circle, GEO_ORDER_POINT_LON_LAT), &box));
}

/* quadkey <-> point: metres from point(lon, lat) to the nearest point of qk's tile */
PG_FUNCTION_INFO_V1(quadkey_distance);
Datum
quadkey_distance(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	Point	   *point = PG_GETARG_POINT_P(1);
	QuadkeyBox	box;

	GeoCheckPointLonLat(point->x, point->y);
	QuadkeyToBox(qk, &box);
	PG_RETURN_FLOAT8(GeoBoxDistance(point->y, point->x, &box));
}

/* Build circle(point(lon, lat), radius) from the call's arguments. */
static Expr *
MakeCircleExpr(List *args)
{
	Expr	   *point = (Expr *) makeFuncExpr(F_POINT_FLOAT8_FLOAT8, POINTOID,
											  list_make2(lthird(args), lsecond(args)),
											  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);

	return (Expr *) makeFuncExpr(F_CIRCLE_POINT_FLOAT8, CIRCLEOID,
								 list_make2(point, lfourth(args)),
								 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
}

/*
 * Planner support for quadkey_dwithin: an index condition on a GiST
 * quadkey index, and a selectivity estimate.
 */
PG_FUNCTION_INFO_V1(quadkey_dwithin_support);
Datum
quadkey_dwithin_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);

	if (IsA(rawreq, SupportRequestSelectivity))
	{
		SupportRequestSelectivity *req = (SupportRequestSelectivity *) rawreq;

		/* joins have no constant circle; keep the planner's default */
		if (req->is_join || list_length(req->args) != 4)
			PG_RETURN_POINTER(NULL);
		req->selectivity = DwithinSelectivity(req->root, req->args, req->varRelid);
		PG_RETURN_POINTER(req);
	}

	if (IsA(rawreq, SupportRequestIndexCondition))
	{
		SupportRequestIndexCondition *req = (SupportRequestIndexCondition *) rawreq;
		FuncExpr   *clause = (FuncExpr *) req->node;
		Expr	   *circle;
		Oid			opno;
		ListCell   *lc;

		/* only the quadkey argument can be matched to the index */
		if (!IsA(clause, FuncExpr) || req->indexarg != 0 || list_length(clause->args) != 4)
			PG_RETURN_POINTER(NULL);

		opno = get_opfamily_member(req->opfamily, exprType(linitial(clause->args)),
								   CIRCLEOID, QUADKEY_DWITHIN_STRATEGY);
		if (!OidIsValid(opno))
			PG_RETURN_POINTER(NULL);

		/* the centre and radius must be fixed for the whole index scan */
		for_each_from(lc, clause->args, 1)
		{
			if (!is_pseudo_constant_for_index(req->root, lfirst(lc), req->index))
				PG_RETURN_POINTER(NULL);
		}

		circle = MakeCircleExpr(clause->args);
		req->lossy = false;
		PG_RETURN_POINTER(list_make1(make_opclause(opno, BOOLOID, false,
												   linitial(clause->args), circle,
												   InvalidOid, clause->inputcollid)));
	}

	PG_RETURN_POINTER(NULL);
}
