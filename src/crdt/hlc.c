/*
 * src/crdt/hlc.c
 *	  Hybrid logical clock: the hlc type's I/O and operators, and this node's
 *	  clock (hlc_now, hlc_update).
 *
 * The clock is one packed 64-bit time (see hlc.h).  When geoshard is
 * preloaded it lives in shared memory and every backend advances it with a
 * compare-and-swap, so stamps are unique and increasing across the whole
 * server and never go backwards, even when the wall clock does.  Without
 * preload each backend keeps its own copy, which still never goes backwards
 * within that backend.
 *
 * Text form: 2026-11-23T23:15:47.123Z/5@7, the UTC wall-clock millisecond,
 * the logical counter and the node id.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "port/atomics.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "core/guc.h"
#include "crdt/hlc.h"

/* Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01) */
#define UNIX_TO_PG_EPOCH_MS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000)

/* The last time handed out, shared by all backends; atomic, so no lock. */
typedef struct HlcShared
{
	pg_atomic_uint64 last;
} HlcShared;

static HlcShared *hlc_shared = NULL;

/* This backend's clock when geoshard is not preloaded */
static uint64 local_last = 0;

Size
HlcShmemSize(void)
{
	return MAXALIGN(sizeof(HlcShared));
}

void
HlcShmemInit(void *shared, bool found, LWLockPadded *locks)
{
	hlc_shared = (HlcShared *) shared;
	if (!found)
		pg_atomic_init_u64(&hlc_shared->last, 0);
}

/* The wall clock, in packed form (logical counter 0) */
static uint64
WallTime(void)
{
	int64		ms = GetCurrentTimestamp() / 1000 + UNIX_TO_PG_EPOCH_MS;

	return ms <= 0 ? 0 : ((uint64) ms << HLC_LOGICAL_BITS);
}

/*
 * Advance the clock past both its last value and floor, or to the wall clock
 * if that is later still, and return the new time.  This is the HLC send
 * rule with floor = 0 and the receive rule with floor = the remote time.
 */
static uint64
ClockAdvance(uint64 floor)
{
	uint64		wall = WallTime();

	if (hlc_shared != NULL)
	{
		uint64		old = pg_atomic_read_u64(&hlc_shared->last);

		for (;;)
		{
			uint64		base = Max(old, floor);
			uint64		next = wall > base ? wall : base + 1;

			if (pg_atomic_compare_exchange_u64(&hlc_shared->last, &old, next))
				return next;
		}
	}
	else
	{
		uint64		base = Max(local_last, floor);

		local_last = wall > base ? wall : base + 1;
		return local_last;
	}
}

/* geoshard.node_id, which every stamp of this node carries; it must be set. */
int32
CrdtNodeId(void)
{
	if (geoshard_node_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("geoshard.node_id is not set"),
				 errdetail("Timestamps and CRDT changes are stamped with this node's id."),
				 errhint("Give every node its own id, for example geoshard.node_id = 1 in postgresql.conf.")));
	return geoshard_node_id;
}

/* True when the clock is the server-wide one in shared memory. */
bool
HlcClockIsShared(void)
{
	return hlc_shared != NULL;
}

/*
 * A new packed time of this node's clock, later than floor as well as every
 * time the clock handed out or received.  Used for or_set dots, whose floor
 * is the latest dot of this node a state already holds.  A floor further
 * ahead of the clock (or the wall clock, if later) than
 * geoshard.hlc_max_offset is refused, as hlc_update refuses such a remote
 * time: no dot of this node can be there unless the node's clock was.
 */
uint64
HlcTick(uint64 floor)
{
	uint64		now = Max(WallTime(), hlc_shared != NULL ? pg_atomic_read_u64(&hlc_shared->last) : local_last);
	int64		ahead = (int64) (floor >> HLC_LOGICAL_BITS) - (int64) (now >> HLC_LOGICAL_BITS);

	if (ahead > geoshard_hlc_max_offset)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("a dot of this node is " INT64_FORMAT " ms ahead of the local clock", ahead),
				 errdetail("geoshard.hlc_max_offset allows %d ms.", geoshard_hlc_max_offset),
				 errhint("Check this node's clock, and that no other node uses geoshard.node_id %d.",
						 geoshard_node_id)));
	return ClockAdvance(floor);
}

/* A new timestamp of this node, later than every one it made or received */
Hlc
HlcNow(void)
{
	Hlc			result;

	result.node = CrdtNodeId();
	result.time = ClockAdvance(0);
	result.reserved = 0;
	return result;
}

void
HlcToText(StringInfo buf, const Hlc *hlc)
{
	int64		ms = (int64) HlcPhysical(hlc);
	int64		days = ms / (SECS_PER_DAY * 1000);
	int64		rest = ms % (SECS_PER_DAY * 1000);
	int			year;
	int			month;
	int			day;

	j2date((int) (days + UNIX_EPOCH_JDATE), &year, &month, &day);
	appendStringInfo(buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ/%d@%d",
					 year, month, day,
					 (int) (rest / 3600000), (int) (rest / 60000 % 60),
					 (int) (rest / 1000 % 60), (int) (rest % 1000),
					 HlcLogical(hlc), hlc->node);
}

/* Read exactly n decimal digits. */
static bool
ReadDigits(const char **p, int n, int *value)
{
	*value = 0;
	for (int i = 0; i < n; i++, (*p)++)
	{
		if (**p < '0' || **p > '9')
			return false;
		*value = *value * 10 + (**p - '0');
	}
	return true;
}

/* Read a decimal number up to max, at least one digit. */
static bool
ReadNumber(const char **p, int64 max, int64 *value)
{
	const char *start = *p;

	*value = 0;
	for (; **p >= '0' && **p <= '9'; (*p)++)
	{
		*value = *value * 10 + (**p - '0');
		if (*value > max)
			return false;
	}
	return *p > start;
}

static bool
Expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/*
 * Parse the text form strictly; false on any deviation.  Years run from
 * 1970 to 9999, and the wall-clock part must be a real UTC date and time.
 * Used by hlc_in and for the stamps inside CRDT values.
 */
bool
HlcParse(const char *str, Hlc *result)
{
	const char *p = str;
	int			year,
				month,
				day,
				hour,
				minute,
				second,
				millis;
	int64		logical,
				node,
				days,
				ms;

	if (!ReadDigits(&p, 4, &year) || !Expect(&p, '-') ||
		!ReadDigits(&p, 2, &month) || !Expect(&p, '-') ||
		!ReadDigits(&p, 2, &day) || !Expect(&p, 'T') ||
		!ReadDigits(&p, 2, &hour) || !Expect(&p, ':') ||
		!ReadDigits(&p, 2, &minute) || !Expect(&p, ':') ||
		!ReadDigits(&p, 2, &second) || !Expect(&p, '.') ||
		!ReadDigits(&p, 3, &millis) || !Expect(&p, 'Z') ||
		!Expect(&p, '/') || !ReadNumber(&p, HLC_LOGICAL_MAX, &logical) ||
		!Expect(&p, '@') || !ReadNumber(&p, PG_INT32_MAX, &node) || *p != '\0')
		return false;

	if (year < 1970 || month < 1 || month > 12 || day < 1 ||
		day > day_tab[isleap(year)][month - 1] ||
		hour > 23 || minute > 59 || second > 59)
		return false;

	days = date2j(year, month, day) - UNIX_EPOCH_JDATE;
	ms = ((days * 24 + hour) * 60 + minute) * 60000 + second * 1000 + millis;

	result->time = ((uint64) ms << HLC_LOGICAL_BITS) | (uint64) logical;
	result->node = (int32) node;
	result->reserved = 0;
	return true;
}

/* hlc_in */
PG_FUNCTION_INFO_V1(hlc_in);
Datum
hlc_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	Hlc		   *result = palloc(sizeof(Hlc));

	if (!HlcParse(str, result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type hlc: \"%s\"", str),
				 errdetail("An hlc looks like 2026-11-23T23:15:47.123Z/5@7: UTC time to the millisecond, logical counter (0 to %d), node id.",
						   HLC_LOGICAL_MAX)));
	PG_RETURN_HLC_P(result);
}

/* hlc_out */
PG_FUNCTION_INFO_V1(hlc_out);
Datum
hlc_out(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	initStringInfo(&buf);
	HlcToText(&buf, PG_GETARG_HLC_P(0));
	PG_RETURN_CSTRING(buf.data);
}

/* hlc_recv: time (int8), node (int4); the node must not be negative */
PG_FUNCTION_INFO_V1(hlc_recv);
Datum
hlc_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	Hlc		   *result = palloc(sizeof(Hlc));

	result->time = (uint64) pq_getmsgint64(buf);
	result->node = pq_getmsgint(buf, 4);
	result->reserved = 0;
	if (result->node < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid node id %d in binary hlc", result->node)));
	if (HlcPhysical(result) > HLC_PHYSICAL_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("hlc time in binary input is after 9999-12-31")));
	PG_RETURN_HLC_P(result);
}

/* hlc_send */
PG_FUNCTION_INFO_V1(hlc_send);
Datum
hlc_send(PG_FUNCTION_ARGS)
{
	Hlc		   *hlc = PG_GETARG_HLC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, (int64) hlc->time);
	pq_sendint32(&buf, hlc->node);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

#define HLC_CMP_FUNC(name, op) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(HlcCompare(PG_GETARG_HLC_P(0), PG_GETARG_HLC_P(1)) op 0); \
}

/* hlc = hlc, <>, <, <=, >, >= */
HLC_CMP_FUNC(hlc_eq, ==)
HLC_CMP_FUNC(hlc_ne, !=)
HLC_CMP_FUNC(hlc_lt, <)
HLC_CMP_FUNC(hlc_le, <=)
HLC_CMP_FUNC(hlc_gt, >)
HLC_CMP_FUNC(hlc_ge, >=)

/* hlc_cmp: btree support */
PG_FUNCTION_INFO_V1(hlc_cmp);
Datum
hlc_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(HlcCompare(PG_GETARG_HLC_P(0), PG_GETARG_HLC_P(1)));
}

/* hlc_hash: hash support */
PG_FUNCTION_INFO_V1(hlc_hash);
Datum
hlc_hash(PG_FUNCTION_ARGS)
{
	Hlc		   *hlc = PG_GETARG_HLC_P(0);

	return hash_any((unsigned char *) hlc, offsetof(Hlc, reserved));
}

/* hlc_hash_extended */
PG_FUNCTION_INFO_V1(hlc_hash_extended);
Datum
hlc_hash_extended(PG_FUNCTION_ARGS)
{
	Hlc		   *hlc = PG_GETARG_HLC_P(0);

	return hash_any_extended((unsigned char *) hlc, offsetof(Hlc, reserved), PG_GETARG_INT64(1));
}

/* hlc_larger(a, b): the later, for max(hlc) */
PG_FUNCTION_INFO_V1(hlc_larger);
Datum
hlc_larger(PG_FUNCTION_ARGS)
{
	Hlc		   *a = PG_GETARG_HLC_P(0);
	Hlc		   *b = PG_GETARG_HLC_P(1);

	PG_RETURN_HLC_P(HlcCompare(a, b) >= 0 ? a : b);
}

/* hlc_smaller(a, b): the earlier, for min(hlc) */
PG_FUNCTION_INFO_V1(hlc_smaller);
Datum
hlc_smaller(PG_FUNCTION_ARGS)
{
	Hlc		   *a = PG_GETARG_HLC_P(0);
	Hlc		   *b = PG_GETARG_HLC_P(1);

	PG_RETURN_HLC_P(HlcCompare(a, b) <= 0 ? a : b);
}

/* hlc_now(): a new timestamp of this node */
PG_FUNCTION_INFO_V1(hlc_now);
Datum
hlc_now(PG_FUNCTION_ARGS)
{
	Hlc		   *result = palloc(sizeof(Hlc));

	*result = HlcNow();
	PG_RETURN_HLC_P(result);
}

/*
 * hlc_update(remote): merge a received timestamp into this node's clock
 * (the HLC receive rule) and return the new local time.  A remote time
 * further ahead of our wall clock than geoshard.hlc_max_offset is refused:
 * accepting it would drag every later stamp of this node into the future.
 */
PG_FUNCTION_INFO_V1(hlc_update);
Datum
hlc_update(PG_FUNCTION_ARGS)
{
	Hlc		   *remote = PG_GETARG_HLC_P(0);
	Hlc		   *result = palloc(sizeof(Hlc));
	int64		ahead = (int64) HlcPhysical(remote) - (int64) (WallTime() >> HLC_LOGICAL_BITS);

	result->node = CrdtNodeId();
	if (ahead > geoshard_hlc_max_offset)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("remote hlc is " INT64_FORMAT " ms ahead of the local clock", ahead),
				 errdetail("geoshard.hlc_max_offset allows %d ms.", geoshard_hlc_max_offset),
				 errhint("Check the clocks of node %d and of this node.", remote->node)));

	result->time = ClockAdvance(remote->time);
	result->reserved = 0;
	PG_RETURN_HLC_P(result);
}

/* hlc(physical, logical, node): build a timestamp, for tests and imports */
PG_FUNCTION_INFO_V1(hlc_make);
Datum
hlc_make(PG_FUNCTION_ARGS)
{
	TimestampTz physical = PG_GETARG_TIMESTAMPTZ(0);
	int32		logical = PG_GETARG_INT32(1);
	int32		node = PG_GETARG_INT32(2);
	Hlc		   *result = palloc(sizeof(Hlc));
	int64		ms;

	if (TIMESTAMP_NOT_FINITE(physical) || physical < -UNIX_TO_PG_EPOCH_MS * 1000)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("hlc physical time must be a finite time after 1970-01-01")));
	if (logical < 0 || logical > HLC_LOGICAL_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("hlc logical counter %d is out of range", logical),
				 errdetail("The logical counter runs from 0 to %d.", HLC_LOGICAL_MAX)));
	if (node < 1)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("hlc node id %d is out of range", node),
				 errdetail("Node ids run from 1 to %d.", PG_INT32_MAX)));

	/*
	 * Round down to the millisecond, as the clock does.  C division truncates
	 * toward zero, which rounds times before 2000 (negative here) up.
	 */
	ms = physical / 1000 - (physical % 1000 < 0 ? 1 : 0) + UNIX_TO_PG_EPOCH_MS;
	if (ms > HLC_PHYSICAL_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("hlc physical time is out of range")));
	result->time = ((uint64) ms << HLC_LOGICAL_BITS) | (uint64) logical;
	result->node = node;
	result->reserved = 0;
	PG_RETURN_HLC_P(result);
}

/* hlc_physical(hlc) -> timestamptz */
PG_FUNCTION_INFO_V1(hlc_physical);
Datum
hlc_physical(PG_FUNCTION_ARGS)
{
	Hlc		   *hlc = PG_GETARG_HLC_P(0);

	PG_RETURN_TIMESTAMPTZ(((int64) HlcPhysical(hlc) - UNIX_TO_PG_EPOCH_MS) * 1000);
}

/* hlc_logical(hlc) */
PG_FUNCTION_INFO_V1(hlc_logical);
Datum
hlc_logical(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(HlcLogical(PG_GETARG_HLC_P(0)));
}

/* hlc_node(hlc) */
PG_FUNCTION_INFO_V1(hlc_node);
Datum
hlc_node(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_HLC_P(0)->node);
}
