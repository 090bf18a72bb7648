/*
 * src/redisview/apply.c
 *	  The Redis commands that apply one row change to one view generation.
 *
 * Every kind keeps its keys under the generation's base key B =
 * "geoshard:rv:<view>:<gen>" (docs/redisview.md):
 *   geo       B:<q>   a GEO set per quadkey prefix q of level shard_level
 *                     (GEOADD/ZREM), and B:idx, a hash member -> its GEO key,
 *                     so that a delete or a move to another prefix removes the
 *                     member from the key it was in (a delete event carries the
 *                     primary key only, not the old coordinates);
 *   hash      B:<m>   a hash per row (HSET of the non-null columns, HDEL of
 *                     the null ones, DEL on delete);
 *   presence  B:<m>   a string per row, SET .. PX ttl_ms, DEL on delete;
 *   counter   B       a hash of counts per group (HINCRBY), and B:idx, a hash
 *                     member -> "<group>\x1f<amount>", so that a delete or an
 *                     update takes back exactly what the row added.
 * The geo and counter commands run as small Lua scripts that read the index
 * and write in one step; every command is state-based, so applying the
 * same change twice leaves the same contents (a counter is not incremented
 * twice for one row).  The worker wraps each source transaction's commands
 * in MULTI/EXEC.
 *
 * Runs in the redisview worker, in its batch memory context.
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "geo/quadkey.h"
#include "redisview/redisview.h"
#include "redisview/view.h"

/* KEYS: idx, new GEO key; ARGV: member, lon, lat */
static const char geo_set_script[] =
"local old = redis.call('HGET', KEYS[1], ARGV[1]) "
"if old and old ~= KEYS[2] then redis.call('ZREM', old, ARGV[1]) end "
"redis.call('GEOADD', KEYS[2], ARGV[2], ARGV[3], ARGV[1]) "
"redis.call('HSET', KEYS[1], ARGV[1], KEYS[2]) "
"if old then return 0 end return 1";

/* KEYS: idx; ARGV: member */
static const char geo_del_script[] =
"local old = redis.call('HGET', KEYS[1], ARGV[1]) "
"if old then redis.call('ZREM', old, ARGV[1]) redis.call('HDEL', KEYS[1], ARGV[1]) return -1 end "
"return 0";

/* KEYS: idx, counts; ARGV: member, group, amount */
static const char counter_set_script[] =
"local old = redis.call('HGET', KEYS[1], ARGV[1]) "
"if old then local g, a = string.match(old, '^(.*)\\31(-?%d+)$') "
"redis.call('HINCRBY', KEYS[2], g, -tonumber(a)) end "
"redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[3]) "
"redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '\\31' .. ARGV[3]) "
"if old then return 0 end return 1";

/* KEYS: idx, counts; ARGV: member */
static const char counter_del_script[] =
"local old = redis.call('HGET', KEYS[1], ARGV[1]) "
"if old then local g, a = string.match(old, '^(.*)\\31(-?%d+)$') "
"redis.call('HINCRBY', KEYS[2], g, -tonumber(a)) redis.call('HDEL', KEYS[1], ARGV[1]) return -1 end "
"return 0";

void
RvPipeAppend(RvPipe *pipe, char tag, int view, const char *key, int argc,
			 const char **argv, const size_t *lens)
{
	if (pipe->n == pipe->cap)
	{
		int			cap = Max(pipe->cap * 2, 256);

		if (pipe->tags == NULL)
		{
			pipe->tags = palloc(cap);
			pipe->views = palloc(sizeof(int) * cap);
			pipe->keys = palloc(sizeof(char *) * cap);
		}
		else
		{
			pipe->tags = repalloc(pipe->tags, cap);
			pipe->views = repalloc(pipe->views, sizeof(int) * cap);
			pipe->keys = repalloc(pipe->keys, sizeof(char *) * cap);
		}
		pipe->cap = cap;
	}
	pipe->tags[pipe->n] = tag;
	pipe->views[pipe->n] = view;
	pipe->keys[pipe->n] = key != NULL ? pstrdup(key) : NULL;
	pipe->n++;
	RedisAppend(pipe->conn, argc, argv, lens);
}

/* A top-level field of a jsonb object as text; NULL when missing or null. */
char *
RvJsonText(Jsonb *jb, const char *key)
{
	JsonbValue *v;

	if (jb == NULL)
		return NULL;
	v = getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);
	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvBinary:
			return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
		default:
			return NULL;
	}
}

char *
RvBaseKey(RvView *view, int64 gen)
{
	return psprintf(REDISVIEW_PREFIX "%s:" INT64_FORMAT, view->name, gen);
}

/* The member of a row: its member columns joined by ":"; NULL if one is missing. */
static char *
RvMember(RvView *view, Jsonb *jb)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < view->nmembers; i++)
	{
		char	   *v = RvJsonText(jb, view->members[i]);

		if (v == NULL)
			return NULL;
		if (i > 0)
			appendStringInfoChar(&s, ':');
		appendStringInfoString(&s, v);
	}
	return s.data;
}

static void
RvCommand(RvPipe *pipe, bool in_multi, int vi, const char *key, int argc, const char **argv)
{
	size_t		lens[64];

	Assert(argc <= 64);
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	RvPipeAppend(pipe, in_multi ? 'Q' : 'P', vi, key, argc, argv, lens);
}

/*
 * Where a geo row goes: its GEO key under base, and its coordinates as
 * text; false when the row has no usable position (no value, or outside
 * the range Redis's GEO commands take).
 */
static bool
RvGeoPlace(RvView *view, Jsonb *row, const char *base, char **key, char **lon_text, char **lat_text)
{
	double		lat;
	double		lon;
	char		digits[QUADKEY_MAX_LEVEL + 1];

	if (view->quadkey != NULL)
	{
		char	   *qk = RvJsonText(row, view->quadkey);
		int			level = qk != NULL ? (int) strlen(qk) : 0;
		uint64		x = 0;
		uint64		y = 0;
		double		n;

		if (qk == NULL || level < view->shard_level || level > QUADKEY_MAX_LEVEL)
			return false;
		for (int i = 0; i < level; i++)
		{
			int			d = qk[i] - '0';

			if (d < 0 || d > 3)
				return false;
			x = (x << 1) | (uint64) (d & 1);
			y = (y << 1) | (uint64) (d >> 1);
		}
		/* the centre of the tile */
		n = ldexp(1.0, level);
		lon = ((double) x + 0.5) / n * 360.0 - 180.0;
		lat = atan(sinh(M_PI * (1.0 - 2.0 * ((double) y + 0.5) / n))) * 180.0 / M_PI;
		memcpy(digits, qk, view->shard_level);
	}
	else
	{
		char	   *lat_s = RvJsonText(row, view->lat);
		char	   *lon_s = RvJsonText(row, view->lon);
		char	   *end;
		Quadkey		q;

		if (lat_s == NULL || lon_s == NULL)
			return false;
		lat = strtod(lat_s, &end);
		if (*end != '\0')
			return false;
		lon = strtod(lon_s, &end);
		if (*end != '\0')
			return false;
		if (!(fabs(lat) <= QUADKEY_MAX_LATITUDE) || !(fabs(lon) <= 180.0))
			return false;
		q = QuadkeyFromLatLon(lat, lon, view->shard_level);
		for (int i = 0; i < view->shard_level; i++)
			digits[i] = '0' + (char) ((q >> (62 - 2 * i)) & 3);
	}
	digits[view->shard_level] = '\0';
	*key = psprintf("%s:%s", base, digits);
	*lon_text = psprintf("%.9f", lon);
	*lat_text = psprintf("%.9f", lat);
	return true;
}

/*
 * Append the commands applying one row change (action I, U or D) of the
 * view's table to generation gen.  pk holds the row's key columns (the new
 * ones for an update), row its new values (I and U), identity its old key
 * when the update changed it (else NULL).  Returns the change in the
 * number of rows the view holds as far as it can tell without asking (+1
 * insert, -1 delete, 0 otherwise); *skipped says a row was left out (or
 * removed) because its position is unusable.
 */
int
RvAppendRow(RvPipe *pipe, RvView *view, int vi, int64 gen, char action, Jsonb *pk,
			Jsonb *row, Jsonb *identity, bool in_multi, bool *skipped)
{
	char	   *base = RvBaseKey(view, gen);
	char	   *member = RvMember(view, action == 'D' ? pk : (row != NULL ? row : pk));
	char	   *idx = psprintf("%s:idx", base);
	char	   *key;

	*skipped = false;
	if (member == NULL)
		return 0;

	/* an update that changed the member: the old one goes first */
	if (action == 'U' && identity != NULL)
	{
		char	   *old = RvMember(view, identity);

		if (old != NULL && strcmp(old, member) != 0)
			(void) RvAppendRow(pipe, view, vi, gen, 'D', identity, NULL, NULL, in_multi, skipped);
	}

	switch (view->kind)
	{
		case RV_GEO:
			{
				char	   *lon;
				char	   *lat;

				if (action != 'D' && RvGeoPlace(view, row, base, &key, &lon, &lat))
				{
					const char *argv[] = {"EVAL", geo_set_script, "2", idx, key, member, lon, lat};

					RvCommand(pipe, in_multi, vi, key, lengthof(argv), argv);
					return action == 'I' ? 1 : 0;
				}
				else
				{
					const char *argv[] = {"EVAL", geo_del_script, "1", idx, member};

					*skipped = action != 'D';
					RvCommand(pipe, in_multi, vi, idx, lengthof(argv), argv);
					return action == 'D' ? -1 : 0;
				}
			}
		case RV_HASH:
			key = psprintf("%s:%s", base, member);
			if (action == 'D')
			{
				const char *argv[] = {"DEL", key};

				RvCommand(pipe, in_multi, vi, key, 2, argv);
				return -1;
			}
			else
			{
				const char **set = palloc(sizeof(char *) * (2 + 2 * view->nfields));
				const char **del = palloc(sizeof(char *) * (2 + view->nfields));
				int			nset = 2;
				int			ndel = 2;

				set[0] = "HSET";
				set[1] = key;
				del[0] = "HDEL";
				del[1] = key;
				for (int i = 0; i < view->nfields; i++)
				{
					char	   *v = RvJsonText(row, view->fields[i]);
					JsonbValue *present = getKeyJsonValueFromContainer(&row->root, view->fields[i],
																	   strlen(view->fields[i]), NULL);

					if (v != NULL)
					{
						set[nset++] = view->fields[i];
						set[nset++] = v;
					}
					else if (present != NULL)
						del[ndel++] = view->fields[i];
					/* a column missing from the event is an unchanged TOAST value: kept */
				}
				if (action == 'I' && nset == 2)
				{
					set[nset++] = "_";
					set[nset++] = "";
				}
				if (ndel > 2 && action == 'U')
					RvCommand(pipe, in_multi, vi, key, ndel, del);
				if (nset > 2)
					RvCommand(pipe, in_multi, vi, key, nset, set);
				return action == 'I' ? 1 : 0;
			}
		case RV_PRESENCE:
			key = psprintf("%s:%s", base, member);
			if (action == 'D')
			{
				const char *argv[] = {"DEL", key};

				RvCommand(pipe, in_multi, vi, key, 2, argv);
				return -1;
			}
			else
			{
				char	   *value = view->value != NULL ? RvJsonText(row, view->value) : NULL;
				char	   *ttl = psprintf(INT64_FORMAT, view->ttl_ms);
				const char *argv[] = {"SET", key, value != NULL ? value : "1", "PX", ttl};

				RvCommand(pipe, in_multi, vi, key, 5, argv);
				return action == 'I' ? 1 : 0;
			}
		case RV_COUNTER:
			if (action == 'D')
			{
				const char *argv[] = {"EVAL", counter_del_script, "2", idx, base, member};

				RvCommand(pipe, in_multi, vi, base, lengthof(argv), argv);
				return -1;
			}
			else
			{
				char	   *group = view->group != NULL ? RvJsonText(row, view->group) : "count";
				char	   *amount = view->value != NULL ? RvJsonText(row, view->value) : "1";
				const char *argv[] = {"EVAL", counter_set_script, "2", idx, base, member,
				group != NULL ? group : "", amount != NULL ? amount : "0"};

				RvCommand(pipe, in_multi, vi, base, lengthof(argv), argv);
				return action == 'I' ? 1 : 0;
			}
	}
	return 0;
}
