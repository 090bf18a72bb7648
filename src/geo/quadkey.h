/*
 * src/geo/quadkey.h
 *	  The quadkey type: a Bing tile-system quadkey packed in 64 bits.
 *
 * Layout (unsigned 64-bit, pass by value):
 *
 *	 bits 63..6   the path: one base-4 digit per level, two bits each, most
 *				  significant first, left aligned, zero beyond the level
 *	 bits  5..0   the level, 0..QUADKEY_MAX_LEVEL
 *
 * Digit i is 2 * (bit i of tile y) + (bit i of tile x), so the path is the
 * Morton interleave of (y, x).  Comparing the raw integers orders tiles in
 * pre-order: a tile sorts right before its descendants, and the descendants
 * of any tile form one contiguous range.
 */
#ifndef GEOSHARD_GEO_QUADKEY_H
#define GEOSHARD_GEO_QUADKEY_H

#include "fmgr.h"

typedef uint64 Quadkey;

#define QUADKEY_MAX_LEVEL	29
#define QUADKEY_LEVEL_BITS	6
#define QUADKEY_LEVEL_MASK	((UINT64CONST(1) << QUADKEY_LEVEL_BITS) - 1)

/* Web Mercator latitude limit of the Bing tile system */
#define QUADKEY_MAX_LATITUDE 85.05112878

#define DatumGetQuadkey(X)		((Quadkey) DatumGetInt64(X))
#define QuadkeyGetDatum(X)		Int64GetDatum((int64) (X))
#define PG_GETARG_QUADKEY(n)	DatumGetQuadkey(PG_GETARG_DATUM(n))
#define PG_RETURN_QUADKEY(x)	return QuadkeyGetDatum(x)

static inline int
QuadkeyLevel(Quadkey qk)
{
	return (int) (qk & QUADKEY_LEVEL_MASK);
}

/* The path bits of qk, right aligned: 2 * level bits */
static inline uint64
QuadkeyPath(Quadkey qk)
{
	int			level = QuadkeyLevel(qk);

	return level == 0 ? 0 : (qk >> (64 - 2 * level));
}

static inline Quadkey
QuadkeyMake(uint64 path, int level)
{
	return level == 0 ? 0 : ((path << (64 - 2 * level)) | (uint64) level);
}

/* The last quadkey, in sort order, of qk's subtree */
static inline Quadkey
QuadkeySubtreeEnd(Quadkey qk)
{
	int			level = QuadkeyLevel(qk);
	uint64		below = level == 0 ? ~UINT64CONST(0) : ((UINT64CONST(1) << (64 - 2 * level)) - 1);

	return (qk & ~below) | (below & ~QUADKEY_LEVEL_MASK) | QUADKEY_MAX_LEVEL;
}

/* Is a an ancestor of b, or b itself?  (Descendants sort contiguously.) */
static inline bool
QuadkeyContains(Quadkey a, Quadkey b)
{
	return a <= b && b <= QuadkeySubtreeEnd(a);
}

/*
 * A box of tiles in level-QUADKEY_MAX_LEVEL tile coordinates, inclusive on
 * both ends: the tile of a quadkey, or the bounding box of many (the GiST
 * index key).
 */
typedef struct QuadkeyBox
{
	uint32		xmin;
	uint32		ymin;
	uint32		xmax;
	uint32		ymax;
} QuadkeyBox;

/* The number of tiles per axis at the deepest level */
#define QUADKEY_BOX_SIZE	(UINT64CONST(1) << QUADKEY_MAX_LEVEL)

extern Quadkey QuadkeyFromTile(uint32 x, uint32 y, int level);
extern void QuadkeyToTile(Quadkey qk, uint32 *x, uint32 *y);
extern Quadkey QuadkeyFromLatLon(double lat, double lon, int level);
extern double QuadkeyTileLatitude(uint64 y, int level);
extern double QuadkeyTileLongitude(uint64 x, int level);
extern void QuadkeyCheckLevel(int32 level);
extern void QuadkeyToBox(Quadkey qk, QuadkeyBox *box);
extern Quadkey QuadkeyFromBox(const QuadkeyBox *box);
extern void QuadkeyReturnSet(FunctionCallInfo fcinfo, const Quadkey *keys, int64 n);

#endif							/* GEOSHARD_GEO_QUADKEY_H */
