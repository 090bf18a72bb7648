/*
 * src/redisview/view.h
 *	  The redisview worker's private types: a view as the worker holds it, and
 *	  the pipeline of Redis commands whose replies it checks.  Used by
 *	  worker.c and apply.c only; runs in the "geoshard redisview" worker.
 */
#ifndef GEOSHARD_REDISVIEW_VIEW_H
#define GEOSHARD_REDISVIEW_VIEW_H

#include "access/transam.h"
#include "utils/jsonb.h"

#include "core/redis.h"

typedef enum RvKind
{
	RV_GEO,
	RV_HASH,
	RV_PRESENCE,
	RV_COUNTER
} RvKind;

/* the transactions a build's snapshot sees: xmin, xmax and the running ones */
typedef struct RvSnapshot
{
	TransactionId xmin;
	TransactionId xmax;
	int			xcnt;
	TransactionId *xip;			/* in the view's config_context */
} RvSnapshot;

typedef struct RvView
{
	/* configuration, from geoshard.redis_views; strings in config_context */
	char		name[NAMEDATALEN];
	char		schema[NAMEDATALEN];
	char		table[NAMEDATALEN];
	RvKind		kind;
	int			nmembers;
	char	  **members;
	char	   *lat;			/* geo: lat/lon columns, or */
	char	   *lon;
	char	   *quadkey;		/* geo: a quadkey column */
	int			shard_level;	/* geo: level of the key's quadkey prefix */
	int			nfields;		/* hash: the columns written */
	char	  **fields;
	char	   *group;			/* counter: the field's column, NULL: "count" */
	char	   *value;			/* counter: the amount's column, NULL: 1; presence: the value */
	int64		ttl_ms;			/* presence */
	bool		enabled;
	char	   *requested;		/* rebuild_requested_at as text, NULL none */
	char	   *created;		/* created_at as text: tells a view from one of the same name */
	MemoryContext config_context;
	bool		seen;			/* found by the current reload */

	/* the worker's state */
	int64		gen;			/* live generation; 0: none (Redis has no view) */
	bool		need_build;
	bool		failed;			/* a Redis error on one of its keys: the live
								 * generation is left as it is until a build
								 * replaces it */
	bool		mark_unbuilt;	/* geoshard:rv:<view>:built must be deleted */
	bool		building;		/* build_gen is loaded and catching up */
	int64		build_gen;
	RvSnapshot	snap;			/* what the build's snapshot saw */
	int			build_failures; /* builds in a row that failed */
	TimestampTz build_retry_at; /* no build before then */
	bool		range_logged;	/* a row out of GEO range was logged */
	uint64		window_rows;	/* for rows_per_s */
	TimestampTz window_start;
} RvView;

/*
 * A pipeline: the commands sent, each with the reply it must get: 'M'
 * MULTI (OK), 'Q' queued inside MULTI (QUEUED), 'E' EXEC (an array without
 * errors), 'P' a plain command (anything but an error).  For errors, the
 * view and key of each command; for an EXEC, the position it sets.
 */
typedef struct RvPipe
{
	RedisConn  *conn;
	int			n;
	int			cap;
	char	   *tags;
	int		   *views;
	char	  **keys;
} RvPipe;

extern void RvPipeAppend(RvPipe *pipe, char tag, int view, const char *key, int argc,
						 const char **argv, const size_t *lens);
extern char *RvJsonText(Jsonb *jb, const char *key);
extern char *RvBaseKey(RvView *view, int64 gen);
extern int	RvAppendRow(RvPipe *pipe, RvView *view, int vi, int64 gen, char action, Jsonb *pk,
						Jsonb *row, Jsonb *identity, bool in_multi, bool *skipped);

#endif							/* GEOSHARD_REDISVIEW_VIEW_H */
