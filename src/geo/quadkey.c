/*
 * src/geo/quadkey.c
 *	  The quadkey type: text and binary I/O, casts to and from bigint,
 *	  construction from coordinates and tiles, and navigation (parent,
 *	  children, neighbours, tile, bbox).
 *
 * Tiles follow the Bing Maps tile system: Web Mercator with latitude clamped
 * to +-85.05112878 degrees, tile x = floor(x * 2^level) and tile y =
 * floor(y * 2^level), the same tiles as slippy-map z/x/y.  See quadkey.h for
 * the 64-bit layout.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "geo/quadkey.h"
#include "geo/sphere.h"

/* Spread the low 32 bits of v to the even bits of a 64-bit word. */
static inline uint64
SpreadBits(uint32 v)
{
	uint64		x = v;

	x = (x | (x << 16)) & UINT64CONST(0x0000FFFF0000FFFF);
	x = (x | (x << 8)) & UINT64CONST(0x00FF00FF00FF00FF);
	x = (x | (x << 4)) & UINT64CONST(0x0F0F0F0F0F0F0F0F);
	x = (x | (x << 2)) & UINT64CONST(0x3333333333333333);
	x = (x | (x << 1)) & UINT64CONST(0x5555555555555555);
	return x;
}

/* Inverse of SpreadBits: gather the even bits of x. */
static inline uint32
GatherBits(uint64 x)
{
	x &= UINT64CONST(0x5555555555555555);
	x = (x | (x >> 1)) & UINT64CONST(0x3333333333333333);
	x = (x | (x >> 2)) & UINT64CONST(0x0F0F0F0F0F0F0F0F);
	x = (x | (x >> 4)) & UINT64CONST(0x00FF00FF00FF00FF);
	x = (x | (x >> 8)) & UINT64CONST(0x0000FFFF0000FFFF);
	x = (x | (x >> 16)) & UINT64CONST(0x00000000FFFFFFFF);
	return (uint32) x;
}

/* The quadkey of tile (x, y) at level; x and y must be below 2^level. */
Quadkey
QuadkeyFromTile(uint32 x, uint32 y, int level)
{
	return QuadkeyMake((SpreadBits(y) << 1) | SpreadBits(x), level);
}

void
QuadkeyToTile(Quadkey qk, uint32 *x, uint32 *y)
{
	uint64		path = QuadkeyPath(qk);

	*x = GatherBits(path);
	*y = GatherBits(path >> 1);
}

/*
 * The tile containing (lat, lon) at level.  Coordinates must have been
 * checked; latitude is clamped to the Mercator limit as Bing does.
 */
Quadkey
QuadkeyFromLatLon(double lat, double lon, int level)
{
	double		scale = (double) (UINT64CONST(1) << level);
	double		sinlat;
	double		fx;
	double		fy;
	uint32		x;
	uint32		y;

	if (lat > QUADKEY_MAX_LATITUDE)
		lat = QUADKEY_MAX_LATITUDE;
	else if (lat < -QUADKEY_MAX_LATITUDE)
		lat = -QUADKEY_MAX_LATITUDE;

	sinlat = sin(GEO_RADIANS(lat));
	fx = (lon + 180.0) / 360.0 * scale;
	fy = (0.5 - log((1.0 + sinlat) / (1.0 - sinlat)) / (4.0 * M_PI)) * scale;

	/* lon = 180 and the clamped latitudes land exactly on the far edge */
	x = fx >= scale ? (uint32) (scale - 1) : fx <= 0 ? 0 : (uint32) fx;
	y = fy >= scale ? (uint32) (scale - 1) : fy <= 0 ? 0 : (uint32) fy;

	return QuadkeyFromTile(x, y, level);
}

/* Latitude of the northern edge of tile row y (y may be 2^level: the south edge) */
double
QuadkeyTileLatitude(uint64 y, int level)
{
	double		n = M_PI * (1.0 - 2.0 * (double) y / (double) (UINT64CONST(1) << level));

	return GEO_DEGREES(atan(sinh(n)));
}

/* Longitude of the western edge of tile column x (x may be 2^level: the east edge) */
double
QuadkeyTileLongitude(uint64 x, int level)
{
	return (double) x / (double) (UINT64CONST(1) << level) * 360.0 - 180.0;
}

/* The box covered by qk's tile, in deepest-level tile coordinates */
void
QuadkeyToBox(Quadkey qk, QuadkeyBox *box)
{
	int			shift = QUADKEY_MAX_LEVEL - QuadkeyLevel(qk);
	uint32		x;
	uint32		y;

	QuadkeyToTile(qk, &x, &y);
	box->xmin = x << shift;
	box->ymin = y << shift;
	box->xmax = (uint32) ((((uint64) x + 1) << shift) - 1);
	box->ymax = (uint32) ((((uint64) y + 1) << shift) - 1);
}

/* The quadkey whose tile is exactly box; box must come from QuadkeyToBox */
Quadkey
QuadkeyFromBox(const QuadkeyBox *box)
{
	uint64		width = (uint64) box->xmax - box->xmin + 1;
	int			shift = 0;

	while ((UINT64CONST(1) << shift) < width)
		shift++;

	return QuadkeyFromTile(box->xmin >> shift, box->ymin >> shift, QUADKEY_MAX_LEVEL - shift);
}

void
QuadkeyCheckLevel(int32 level)
{
	if (level < 0 || level > QUADKEY_MAX_LEVEL)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("quadkey level %d is out of range", level),
				 errdetail("Levels run from 0 to %d.", QUADKEY_MAX_LEVEL)));
}

/* quadkey_in: the digit string, most significant first ('' is level 0) */
PG_FUNCTION_INFO_V1(quadkey_in);
Datum
quadkey_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	char	   *p = str;
	uint64		path = 0;
	int			level = 0;

	while (isspace((unsigned char) *p))
		p++;

	for (; *p >= '0' && *p <= '3'; p++)
	{
		if (level == QUADKEY_MAX_LEVEL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type quadkey: \"%s\"", str),
					 errdetail("A quadkey has at most %d digits.", QUADKEY_MAX_LEVEL)));
		path = (path << 2) | (uint64) (*p - '0');
		level++;
	}

	while (isspace((unsigned char) *p))
		p++;

	if (*p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type quadkey: \"%s\"", str),
				 errdetail("Quadkey digits are 0, 1, 2 and 3.")));

	PG_RETURN_QUADKEY(QuadkeyMake(path, level));
}

/* quadkey_out */
PG_FUNCTION_INFO_V1(quadkey_out);
Datum
quadkey_out(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	int			level = QuadkeyLevel(qk);
	char	   *buf = palloc(level + 1);

	for (int i = 0; i < level; i++)
		buf[i] = '0' + (char) ((qk >> (62 - 2 * i)) & 3);
	buf[level] = '\0';

	PG_RETURN_CSTRING(buf);
}

/*
 * Is a 64-bit value a packed quadkey?  Not with a level above
 * QUADKEY_MAX_LEVEL, nor with a set bit beyond the level (two values for
 * one tile would break equality).  Shared by quadkey_recv and the cast from
 * bigint.
 */
static inline bool
QuadkeyPackedIsValid(uint64 packed)
{
	int			level = QuadkeyLevel(packed);

	return level <= QUADKEY_MAX_LEVEL && QuadkeyMake(QuadkeyPath(packed), level) == packed;
}

/* The error for a value QuadkeyPackedIsValid refuses; source says where it came from */
static void
QuadkeyReportBadPacked(uint64 packed, int sqlerrcode, const char *source)
{
	int			level = QuadkeyLevel(packed);

	if (level > QUADKEY_MAX_LEVEL)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("invalid quadkey level %d in %s", level, source),
				 errdetail("Levels run from 0 to %d.", QUADKEY_MAX_LEVEL)));

	if (QuadkeyMake(QuadkeyPath(packed), level) != packed)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("invalid quadkey in %s", source),
				 errdetail("Bits beyond the quadkey's level %d are set.", level)));
	elog(ERROR, "quadkey " UINT64_FORMAT " reported bad but is valid", packed);
}

/* quadkey_recv: the 64-bit layout, checked for a valid level and clean padding */
PG_FUNCTION_INFO_V1(quadkey_recv);
Datum
quadkey_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	Quadkey		qk = (Quadkey) pq_getmsgint64(buf);

	if (!QuadkeyPackedIsValid(qk))
		QuadkeyReportBadPacked(qk, ERRCODE_INVALID_BINARY_REPRESENTATION, "binary input");
	PG_RETURN_QUADKEY(qk);
}

/*
 * quadkey_to_bigint: the cast quadkey::bigint, the packed 64 bits (see
 * quadkey.h) read as a signed integer, so keys whose first digit is 2 or 3
 * are negative.
 */
PG_FUNCTION_INFO_V1(quadkey_to_bigint);
Datum
quadkey_to_bigint(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) PG_GETARG_QUADKEY(0));
}

/* quadkey_from_bigint: the cast bigint::quadkey, checked as quadkey_recv checks */
PG_FUNCTION_INFO_V1(quadkey_from_bigint);
Datum
quadkey_from_bigint(PG_FUNCTION_ARGS)
{
	int64		value = PG_GETARG_INT64(0);
	char		source[64];

	if (unlikely(!QuadkeyPackedIsValid((Quadkey) value)))
	{
		snprintf(source, sizeof(source), "bigint " INT64_FORMAT, value);
		QuadkeyReportBadPacked((Quadkey) value, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, source);
	}
	PG_RETURN_QUADKEY((Quadkey) value);
}

/* quadkey_send */
PG_FUNCTION_INFO_V1(quadkey_send);
Datum
quadkey_send(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, (int64) qk);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* quadkey(lat, lon, level): the tile containing a point */
PG_FUNCTION_INFO_V1(quadkey_from_latlon);
Datum
quadkey_from_latlon(PG_FUNCTION_ARGS)
{
	double		lat = PG_GETARG_FLOAT8(0);
	double		lon = PG_GETARG_FLOAT8(1);
	int32		level = PG_GETARG_INT32(2);

	GeoCheckLatLon(lat, lon);
	QuadkeyCheckLevel(level);

	PG_RETURN_QUADKEY(QuadkeyFromLatLon(lat, lon, level));
}

/* quadkey_level(qk) */
PG_FUNCTION_INFO_V1(quadkey_level);
Datum
quadkey_level(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(QuadkeyLevel(PG_GETARG_QUADKEY(0)));
}

/* quadkey_parent(qk): one level up; NULL for the level-0 world tile */
PG_FUNCTION_INFO_V1(quadkey_parent);
Datum
quadkey_parent(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	int			level = QuadkeyLevel(qk);

	if (level == 0)
		PG_RETURN_NULL();

	PG_RETURN_QUADKEY(QuadkeyMake(QuadkeyPath(qk) >> 2, level - 1));
}

/* quadkey_parent(qk, level): the ancestor at a given level (qk itself at its own level) */
PG_FUNCTION_INFO_V1(quadkey_parent_at);
Datum
quadkey_parent_at(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	int32		level = PG_GETARG_INT32(1);
	int			own = QuadkeyLevel(qk);

	QuadkeyCheckLevel(level);
	if (level > own)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("level %d is deeper than the quadkey's level %d", level, own),
				 errhint("An ancestor's level must not exceed the quadkey's own level.")));

	PG_RETURN_QUADKEY(QuadkeyMake(QuadkeyPath(qk) >> (2 * (own - level)), level));
}

/* Emit quadkeys as the rows of a materialized set-returning function. */
void
QuadkeyReturnSet(FunctionCallInfo fcinfo, const Quadkey *keys, int64 n)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC | MAT_SRF_BLESS);
	for (int64 i = 0; i < n; i++)
	{
		Datum		value = QuadkeyGetDatum(keys[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
}

/* quadkey_children(qk): the four tiles one level down, in order */
PG_FUNCTION_INFO_V1(quadkey_children);
Datum
quadkey_children(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	int			level = QuadkeyLevel(qk);
	Quadkey		children[4];

	if (level == QUADKEY_MAX_LEVEL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("quadkey at level %d has no children", level),
				 errdetail("Levels run from 0 to %d.", QUADKEY_MAX_LEVEL)));

	for (int d = 0; d < 4; d++)
		children[d] = QuadkeyMake((QuadkeyPath(qk) << 2) | (uint64) d, level + 1);

	QuadkeyReturnSet(fcinfo, children, 4);
	return (Datum) 0;
}

static int
CompareQuadkeys(const void *a, const void *b)
{
	Quadkey		x = *(const Quadkey *) a;
	Quadkey		y = *(const Quadkey *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * quadkey_neighbors(qk): the tiles around qk at its level, wrapping east-west
 * across the antimeridian but not across the poles; sorted, without
 * duplicates (low levels wrap onto the same tile) and without qk itself.
 */
PG_FUNCTION_INFO_V1(quadkey_neighbors);
Datum
quadkey_neighbors(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	int			level = QuadkeyLevel(qk);
	int64		size = (int64) 1 << level;
	uint32		x;
	uint32		y;
	Quadkey		found[8];
	int			n = 0;
	int			distinct = 0;

	QuadkeyToTile(qk, &x, &y);
	for (int dy = -1; dy <= 1; dy++)
	{
		int64		ny = (int64) y + dy;

		if (ny < 0 || ny >= size)
			continue;
		for (int dx = -1; dx <= 1; dx++)
		{
			int64		nx = ((int64) x + dx + size) % size;
			Quadkey		neighbour = QuadkeyFromTile((uint32) nx, (uint32) ny, level);

			if (neighbour != qk)
				found[n++] = neighbour;
		}
	}

	qsort(found, n, sizeof(Quadkey), CompareQuadkeys);
	for (int i = 0; i < n; i++)
		if (distinct == 0 || found[distinct - 1] != found[i])
			found[distinct++] = found[i];

	QuadkeyReturnSet(fcinfo, found, distinct);
	return (Datum) 0;
}

/* Build a composite result from float8 or int4 values per the declared OUT columns. */
static Datum
ReturnComposite(FunctionCallInfo fcinfo, Datum *values, int natts)
{
	TupleDesc	tupdesc;
	bool		nulls[4] = {false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	Assert(tupdesc->natts == natts && natts <= 4);

	tupdesc = BlessTupleDesc(tupdesc);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* quadkey_tile(qk) -> (x, y, z) */
PG_FUNCTION_INFO_V1(quadkey_tile);
Datum
quadkey_tile(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	uint32		x;
	uint32		y;
	Datum		values[3];

	QuadkeyToTile(qk, &x, &y);
	values[0] = Int32GetDatum((int32) x);
	values[1] = Int32GetDatum((int32) y);
	values[2] = Int32GetDatum(QuadkeyLevel(qk));

	PG_RETURN_DATUM(ReturnComposite(fcinfo, values, 3));
}

/* quadkey_from_tile(x, y, z) */
PG_FUNCTION_INFO_V1(quadkey_from_tile);
Datum
quadkey_from_tile(PG_FUNCTION_ARGS)
{
	int32		x = PG_GETARG_INT32(0);
	int32		y = PG_GETARG_INT32(1);
	int32		z = PG_GETARG_INT32(2);
	int64		size;

	QuadkeyCheckLevel(z);
	size = (int64) 1 << z;
	if (x < 0 || x >= size || y < 0 || y >= size)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("tile (%d, %d) is out of range at level %d", x, y, z),
				 errdetail("At level %d, x and y run from 0 to " INT64_FORMAT ".", z, size - 1)));

	PG_RETURN_QUADKEY(QuadkeyFromTile((uint32) x, (uint32) y, z));
}

/* quadkey_bbox(qk) -> (min_lat, min_lon, max_lat, max_lon), the tile's Mercator edges */
PG_FUNCTION_INFO_V1(quadkey_bbox);
Datum
quadkey_bbox(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	int			level = QuadkeyLevel(qk);
	uint32		x;
	uint32		y;
	Datum		values[4];

	QuadkeyToTile(qk, &x, &y);
	values[0] = Float8GetDatum(QuadkeyTileLatitude((uint64) y + 1, level));
	values[1] = Float8GetDatum(QuadkeyTileLongitude(x, level));
	values[2] = Float8GetDatum(QuadkeyTileLatitude(y, level));
	values[3] = Float8GetDatum(QuadkeyTileLongitude((uint64) x + 1, level));

	PG_RETURN_DATUM(ReturnComposite(fcinfo, values, 4));
}

/* quadkey_center(qk) -> (lat, lon), the tile's centre in Web Mercator */
PG_FUNCTION_INFO_V1(quadkey_center);
Datum
quadkey_center(PG_FUNCTION_ARGS)
{
	Quadkey		qk = PG_GETARG_QUADKEY(0);
	int			level = QuadkeyLevel(qk);
	uint32		x;
	uint32		y;
	Datum		values[2];

	/* the centre is the corner of the level+1 child in the middle */
	QuadkeyToTile(qk, &x, &y);
	values[0] = Float8GetDatum(QuadkeyTileLatitude(2 * (uint64) y + 1, level + 1));
	values[1] = Float8GetDatum(QuadkeyTileLongitude(2 * (uint64) x + 1, level + 1));

	PG_RETURN_DATUM(ReturnComposite(fcinfo, values, 2));
}
