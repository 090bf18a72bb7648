/*
 * src/geo/cover.c
 *	  quadkey_cover: the tiles at one level that together cover a circle.
 *
 * The cover is found top down: start from the world tile and, level by
 * level, keep only the children that meet the cap.  Work is proportional to
 * the answer (plus its boundary), not to the cap's bounding box, so polar
 * caps and caps across the antimeridian cost nothing special.  Every tile
 * that holds a point within the radius is returned (a correct superset);
 * tiles are dropped only when their nearest point is out of reach, which is
 * as tight as a set of whole tiles can be.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "core/guc.h"
#include "geo/cap.h"
#include "geo/quadkey.h"

/*
 * The cover at the deepest level that needs at most max_cells cells (at
 * least the world tile at level 0).  Returns the number of cells written to
 * cells, which must hold max_cells entries (max_cells >= 4).
 */
int
GeoCoverCoarse(const GeoCap *cap, int max_cells, Quadkey *cells)
{
	Quadkey    *next = palloc(sizeof(Quadkey) * 4 * max_cells);
	int			ncells = 1;

	cells[0] = QuadkeyMake(0, 0);
	for (int l = 1; l <= QUADKEY_MAX_LEVEL; l++)
	{
		int			nnext = 0;

		for (int i = 0; i < ncells; i++)
			for (int d = 0; d < 4; d++)
			{
				Quadkey		child = QuadkeyMake((QuadkeyPath(cells[i]) << 2) | (uint64) d, l);
				QuadkeyBox	box;

				QuadkeyToBox(child, &box);
				if (GeoCapMeetsBox(cap, &box))
					next[nnext++] = child;
			}
		if (nnext > max_cells)
			break;
		memcpy(cells, next, sizeof(Quadkey) * nnext);
		ncells = nnext;
	}
	pfree(next);
	return ncells;
}

static void
CheckCoverSize(int64 cells, int level)
{
	if (cells > geoshard_cover_max_cells)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("cover at level %d needs more than %d cells", level, geoshard_cover_max_cells),
				 errhint("Use a coarser level, a smaller radius, or raise geoshard.cover_max_cells.")));
}

/* quadkey_cover(lat, lon, radius_m, level) -> setof quadkey, in quadkey order */
PG_FUNCTION_INFO_V1(quadkey_cover);
Datum
quadkey_cover(PG_FUNCTION_ARGS)
{
	double		lat = PG_GETARG_FLOAT8(0);
	double		lon = PG_GETARG_FLOAT8(1);
	double		radius_m = PG_GETARG_FLOAT8(2);
	int32		level = PG_GETARG_INT32(3);
	GeoCap		cap;
	Quadkey    *cells;
	int64		ncells = 1;

	GeoCapInit(&cap, lat, lon, radius_m, GEO_ORDER_LAT_LON);
	QuadkeyCheckLevel(level);

	cells = palloc(sizeof(Quadkey));
	cells[0] = QuadkeyMake(0, 0);

	/* children of tiles in order stay in order, so no sort is needed */
	for (int l = 1; l <= level; l++)
	{
		Quadkey    *next;
		int64		nnext = 0;

		next = palloc(mul_size(sizeof(Quadkey), mul_size(ncells, 4)));
		for (int64 i = 0; i < ncells; i++)
		{
			uint64		path = QuadkeyPath(cells[i]);

			for (int d = 0; d < 4; d++)
			{
				Quadkey		child = QuadkeyMake((path << 2) | (uint64) d, l);
				QuadkeyBox	box;

				QuadkeyToBox(child, &box);
				if (GeoCapMeetsBox(&cap, &box))
					next[nnext++] = child;
			}
			CHECK_FOR_INTERRUPTS();
		}
		CheckCoverSize(nnext, level);
		pfree(cells);
		cells = next;
		ncells = nnext;
	}

	QuadkeyReturnSet(fcinfo, cells, ncells);
	return (Datum) 0;
}
