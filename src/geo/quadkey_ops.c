/*
 * src/geo/quadkey_ops.c
 *	  Quadkey operators: comparison (btree and hash support, min and max)
 *	  and containment.
 *
 * Quadkeys compare as unsigned 64-bit integers, which orders tiles in
 * pre-order (see quadkey.h): a tile's descendants follow it contiguously.
 * That makes "qk <@ constant prefix" a single btree range, which the support
 * function below hands to the planner, as LIKE 'abc%' becomes a range on a
 * text index.
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "utils/lsyscache.h"
#include "utils/sortsupport.h"

#include "geo/quadkey.h"

#define QUADKEY_CMP_FUNC(name, op) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(PG_GETARG_QUADKEY(0) op PG_GETARG_QUADKEY(1)); \
}

/* quadkey = quadkey, <>, <, <=, >, >= */
QUADKEY_CMP_FUNC(quadkey_eq, ==)
QUADKEY_CMP_FUNC(quadkey_ne, !=)
QUADKEY_CMP_FUNC(quadkey_lt, <)
QUADKEY_CMP_FUNC(quadkey_le, <=)
QUADKEY_CMP_FUNC(quadkey_gt, >)
QUADKEY_CMP_FUNC(quadkey_ge, >=)

/* quadkey_smaller: the lesser key, transition function of min(quadkey) */
PG_FUNCTION_INFO_V1(quadkey_smaller);
Datum
quadkey_smaller(PG_FUNCTION_ARGS)
{
	Quadkey		a = PG_GETARG_QUADKEY(0);
	Quadkey		b = PG_GETARG_QUADKEY(1);

	PG_RETURN_QUADKEY(a < b ? a : b);
}

/* quadkey_larger: the greater key, transition function of max(quadkey) */
PG_FUNCTION_INFO_V1(quadkey_larger);
Datum
quadkey_larger(PG_FUNCTION_ARGS)
{
	Quadkey		a = PG_GETARG_QUADKEY(0);
	Quadkey		b = PG_GETARG_QUADKEY(1);

	PG_RETURN_QUADKEY(a > b ? a : b);
}

/* quadkey_cmp: btree support 1 */
PG_FUNCTION_INFO_V1(quadkey_cmp);
Datum
quadkey_cmp(PG_FUNCTION_ARGS)
{
	Quadkey		a = PG_GETARG_QUADKEY(0);
	Quadkey		b = PG_GETARG_QUADKEY(1);

	PG_RETURN_INT32(a < b ? -1 : a > b ? 1 : 0);
}

/* quadkey_sortsupport: btree support 2, unsigned comparison of the datums */
PG_FUNCTION_INFO_V1(quadkey_sortsupport);
Datum
quadkey_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = ssup_datum_unsigned_cmp;
	PG_RETURN_VOID();
}

/* quadkey_hash: hash support 1, both 32-bit halves folded together */
PG_FUNCTION_INFO_V1(quadkey_hash);
Datum
quadkey_hash(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);

	return hash_uint32((uint32) qk ^ (uint32) (qk >> 32));
}

/* quadkey_hash_extended: hash support 2 */
PG_FUNCTION_INFO_V1(quadkey_hash_extended);
Datum
quadkey_hash_extended(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);

	return hash_uint32_extended((uint32) qk ^ (uint32) (qk >> 32), PG_GETARG_INT64(1));
}

/* a @> b: a is b or an ancestor of b */
PG_FUNCTION_INFO_V1(quadkey_contains);
Datum
quadkey_contains(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(QuadkeyContains(PG_GETARG_QUADKEY(0), PG_GETARG_QUADKEY(1)));
}

/* a <@ b: a is b or a descendant of b */
PG_FUNCTION_INFO_V1(quadkey_contained);
Datum
quadkey_contained(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(QuadkeyContains(PG_GETARG_QUADKEY(1), PG_GETARG_QUADKEY(0)));
}

/* a && b: the tiles overlap, that is one contains the other */
PG_FUNCTION_INFO_V1(quadkey_overlaps);
Datum
quadkey_overlaps(PG_FUNCTION_ARGS)
{
	Quadkey		a = PG_GETARG_QUADKEY(0);
	Quadkey		b = PG_GETARG_QUADKEY(1);

	PG_RETURN_BOOL(QuadkeyContains(a, b) || QuadkeyContains(b, a));
}

/*
 * For a btree index on the indexed side of a containment with a constant
 * prefix, return "col >= prefix AND col <= end of prefix's subtree".
 */
static List *
PrefixRangeCondition(SupportRequestIndexCondition *req, int prefixarg)
{
	Node	   *column;
	Node	   *prefix;
	Oid			type;
	Oid			ge;
	Oid			le;
	Quadkey		start;
	Expr	   *lower;
	Expr	   *upper;

	if (!IsA(req->node, OpExpr) || req->index->relam != BTREE_AM_OID ||
		req->indexarg != 1 - prefixarg)
		return NIL;

	column = list_nth(((OpExpr *) req->node)->args, 1 - prefixarg);
	prefix = list_nth(((OpExpr *) req->node)->args, prefixarg);
	if (!IsA(prefix, Const) || ((Const *) prefix)->constisnull)
		return NIL;

	type = exprType(column);

	ge = get_opfamily_member(req->opfamily, type, type, BTGreaterEqualStrategyNumber);
	le = get_opfamily_member(req->opfamily, type, type, BTLessEqualStrategyNumber);
	if (!OidIsValid(ge) || !OidIsValid(le))
		return NIL;

	start = DatumGetQuadkey(((Const *) prefix)->constvalue);
	lower = make_opclause(ge, BOOLOID, false, (Expr *) column,
						  (Expr *) makeConst(type, -1, InvalidOid, sizeof(Quadkey),
											 QuadkeyGetDatum(start), false, true),
						  InvalidOid, InvalidOid);
	upper = make_opclause(le, BOOLOID, false, (Expr *) column,
						  (Expr *) makeConst(type, -1, InvalidOid, sizeof(Quadkey),
											 QuadkeyGetDatum(QuadkeySubtreeEnd(start)), false, true),
						  InvalidOid, InvalidOid);
	req->lossy = false;
	return list_make2(lower, upper);
}

/* Planner support for qk <@ prefix: a btree range */
PG_FUNCTION_INFO_V1(quadkey_contained_support);
Datum
quadkey_contained_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);

	if (IsA(rawreq, SupportRequestIndexCondition))
		PG_RETURN_POINTER(PrefixRangeCondition((SupportRequestIndexCondition *) rawreq, 1));
	PG_RETURN_POINTER(NULL);
}

/* Planner support for prefix @> qk: a btree range */
PG_FUNCTION_INFO_V1(quadkey_contains_support);
Datum
quadkey_contains_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);

	if (IsA(rawreq, SupportRequestIndexCondition))
		PG_RETURN_POINTER(PrefixRangeCondition((SupportRequestIndexCondition *) rawreq, 0));
	PG_RETURN_POINTER(NULL);
}
