/*
 * src/core/redis.c
 *	  A small Redis client on hiredis 0.14 for geoshard's workers: URLs,
 *	  connections with deadlines, pipelined commands and reply checks.
 *
 * hiredis runs in its non-blocking mode and every wait goes through
 * WaitLatchOrSocket, so that a signal or the postmaster's death ends a wait
 * at once (a blocking hiredis call would sit in read() until its timeout).
 * Every connect and every exchange has a deadline.
 *
 * Commands are appended with redisAppendCommandArgv, binary safe: user data
 * never goes into a format string.  RedisExchange sends everything appended
 * and reads one reply per command.  Failures are values: functions return
 * NULL or false with an error text in the caller's buffer, never an ERROR,
 * and a connection that failed mid-exchange is broken (its replies would be
 * out of step) and must be disconnected.  A peer that does not speak RESP is
 * a protocol error from hiredis's reader; a reply of an unexpected type is
 * for the caller to refuse (RedisReplyIsStatus, RedisDescribeReply).
 *
 * Which process runs it: any backend or worker with a latch (MyLatch).
 * Replies are hiredis's malloc'd objects, freed with RedisFreeReplies; the
 * arrays around them and parsed URLs are palloc'd in the current context.
 */
#include "postgres.h"

#include <sys/socket.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "core/redis.h"

#define REDIS_DEFAULT_PORT		6379
/* the largest database number a URL may select (Redis's own limit is configurable) */
#define REDIS_MAX_DB			1000000

struct RedisConn
{
	redisContext *ctx;
	int			pending;		/* commands appended whose replies are not read */
	bool		broken;			/* a failed exchange left it out of step */
};

static void
RedisSetError(char *error, size_t errlen, const char *fmt,...) pg_attribute_printf(3, 4);

static void
RedisSetError(char *error, size_t errlen, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	vsnprintf(error, errlen, fmt, args);
	va_end(args);
}

/* Decode %XX escapes of a URL part into a new string; false on a bad escape. */
static bool
RedisUnescape(const char *start, size_t len, char **out)
{
	char	   *result = palloc(len + 1);
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (start[i] == '%')
		{
			char		hex[3];
			char	   *end;
			long		value;

			if (i + 2 >= len)
				return false;
			hex[0] = start[i + 1];
			hex[1] = start[i + 2];
			hex[2] = '\0';
			if (!isxdigit((unsigned char) hex[0]) || !isxdigit((unsigned char) hex[1]))
				return false;
			value = strtol(hex, &end, 16);
			if (value == 0)
				return false;
			result[n++] = (char) value;
			i += 2;
		}
		else
			result[n++] = start[i];
	}
	result[n] = '\0';
	*out = result;
	return true;
}

/* Parse a whole decimal number in [min, max] from start..start+len. */
static bool
RedisParseNumber(const char *start, size_t len, int min, int max, int *out)
{
	long		value = 0;

	if (len == 0 || len > 9)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (!isdigit((unsigned char) start[i]))
			return false;
		value = value * 10 + (start[i] - '0');
	}
	if (value < min || value > max)
		return false;
	*out = (int) value;
	return true;
}

/* unix:/path[?db=N][&password=P] */
static bool
RedisParseUnixUrl(const char *url, RedisUrl *out, char *error, size_t errlen)
{
	const char *path = url + strlen("unix:");
	size_t		pathlen = strcspn(path, "?");
	const char *query = path + pathlen;

	if (path[0] != '/' || pathlen < 2)
	{
		RedisSetError(error, errlen, "a unix: URL needs an absolute socket path");
		return false;
	}
	out->path = pnstrdup(path, pathlen);
	if (*query == '\0')
		return true;
	query++;
	while (*query)
	{
		size_t		len = strcspn(query, "&");
		const char *eq = memchr(query, '=', len);

		if (eq != NULL && eq - query == 2 && strncmp(query, "db", 2) == 0)
		{
			if (!RedisParseNumber(eq + 1, query + len - eq - 1, 0, REDIS_MAX_DB, &out->db))
			{
				RedisSetError(error, errlen, "the database must be a number from 0 to %d", REDIS_MAX_DB);
				return false;
			}
		}
		else if (eq != NULL && eq - query == 8 && strncmp(query, "password", 8) == 0)
		{
			if (!RedisUnescape(eq + 1, query + len - eq - 1, &out->password))
			{
				RedisSetError(error, errlen, "the password has an invalid %% escape");
				return false;
			}
		}
		else
		{
			int			namelen = eq != NULL ? (int) (eq - query) : (int) len;

			RedisSetError(error, errlen, "unrecognized parameter \"%.*s\": a unix: URL takes db and password",
						  namelen, query);
			return false;
		}
		query += len;
		if (*query == '&')
			query++;
	}
	return true;
}

/*
 * Parse redis://[[user]:password@]host[:port][/db] or unix:/path[?db=N]
 * [&password=P] into out (palloc'd strings).  The user and password may use
 * %XX escapes.  Returns false with a reason in error when it is not one.
 */
bool
RedisParseUrl(const char *url, RedisUrl *out, char *error, size_t errlen)
{
	const char *authority;
	size_t		authlen;
	const char *at = NULL;
	const char *host;
	const char *hostend;
	const char *rest;

	memset(out, 0, sizeof(*out));
	out->port = REDIS_DEFAULT_PORT;

	if (pg_strncasecmp(url, "unix:", 5) == 0)
		return RedisParseUnixUrl(url, out, error, errlen);
	if (pg_strncasecmp(url, "redis://", 8) != 0)
	{
		RedisSetError(error, errlen, "a Redis URL starts with redis:// or unix:");
		return false;
	}
	authority = url + 8;
	authlen = strcspn(authority, "/?#");
	for (const char *p = authority; p < authority + authlen; p++)
		if (*p == '@')
			at = p;

	if (at != NULL)
	{
		const char *colon = memchr(authority, ':', at - authority);

		if (colon == NULL)
		{
			RedisSetError(error, errlen, "the user information must be written user:password@ or :password@");
			return false;
		}
		if (colon > authority && !RedisUnescape(authority, colon - authority, &out->user))
		{
			RedisSetError(error, errlen, "the user name has an invalid %% escape");
			return false;
		}
		if (!RedisUnescape(colon + 1, at - colon - 1, &out->password))
		{
			RedisSetError(error, errlen, "the password has an invalid %% escape");
			return false;
		}
		host = at + 1;
	}
	else
		host = authority;

	if (*host == '[')
	{
		const char *close = memchr(host, ']', authority + authlen - host);

		if (close == NULL)
		{
			RedisSetError(error, errlen, "an IPv6 address must end with ]");
			return false;
		}
		out->host = pnstrdup(host + 1, close - host - 1);
		hostend = close + 1;
	}
	else
	{
		hostend = host;
		while (hostend < authority + authlen && *hostend != ':')
			hostend++;
		out->host = pnstrdup(host, hostend - host);
	}
	if (out->host[0] == '\0')
	{
		RedisSetError(error, errlen, "the URL names no host");
		return false;
	}
	if (hostend < authority + authlen)
	{
		if (*hostend != ':' ||
			!RedisParseNumber(hostend + 1, authority + authlen - hostend - 1, 1, 65535, &out->port))
		{
			RedisSetError(error, errlen, "the port must be a number from 1 to 65535");
			return false;
		}
	}

	rest = authority + authlen;
	if (*rest == '/')
	{
		rest++;
		if (*rest != '\0' && !RedisParseNumber(rest, strlen(rest), 0, REDIS_MAX_DB, &out->db))
		{
			RedisSetError(error, errlen, "the database must be a number from 0 to %d", REDIS_MAX_DB);
			return false;
		}
	}
	else if (*rest != '\0')
	{
		RedisSetError(error, errlen, "a redis:// URL takes no query or fragment");
		return false;
	}
	return true;
}

/*
 * The URL with its password replaced by ***, for logs and views; palloc'd.
 * Works on text that does not parse too, so that an error can show it.
 */
char *
RedisMaskUrl(const char *url)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (pg_strncasecmp(url, "redis://", 8) == 0)
	{
		const char *authority = url + 8;
		size_t		authlen = strcspn(authority, "/?#");
		const char *at = NULL;

		for (const char *p = authority; p < authority + authlen; p++)
			if (*p == '@')
				at = p;
		if (at != NULL)
		{
			const char *colon = memchr(authority, ':', at - authority);

			/* without a colon the whole user information may be a password */
			appendBinaryStringInfo(&buf, url, (colon != NULL ? colon : authority) - url);
			appendStringInfoString(&buf, colon != NULL ? ":***" : "***");
			appendStringInfoString(&buf, at);
			return buf.data;
		}
	}
	else if (pg_strncasecmp(url, "unix:", 5) == 0)
	{
		const char *p = url;
		const char *q;

		while ((q = strstr(p, "password=")) != NULL)
		{
			appendBinaryStringInfo(&buf, p, q + 9 - p);
			appendStringInfoString(&buf, "***");
			p = q + 9 + strcspn(q + 9, "&");
		}
		appendStringInfoString(&buf, p);
		return buf.data;
	}
	appendStringInfoString(&buf, url);
	return buf.data;
}

/*
 * Wait until the socket is ready for events or the deadline passes; signals
 * are served meanwhile (SIGTERM ends the process here).  Returns the ready
 * events, 0 on timeout.
 */
static int
RedisWait(redisContext *ctx, int events, TimestampTz deadline)
{
	for (;;)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		int			rc;

		if (left <= 0)
			return 0;
		rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | events,
							   ctx->fd, left, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (rc & events)
			return rc & events;
	}
}

/*
 * Connect to url, authenticate and select its database, all within
 * timeout_ms.  Returns NULL with a reason in error on failure.
 */
RedisConn *
RedisConnect(const char *url, int timeout_ms, char *error, size_t errlen)
{
	RedisUrl	target;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	redisContext *ctx;
	RedisConn  *conn;
	int			soerr = 0;
	socklen_t	solen = sizeof(soerr);

	if (!RedisParseUrl(url, &target, error, errlen))
		return NULL;

	ctx = target.host != NULL ? redisConnectNonBlock(target.host, target.port) :
		redisConnectUnixNonBlock(target.path);
	if (ctx == NULL)
	{
		RedisSetError(error, errlen, "out of memory");
		return NULL;
	}
	if (ctx->err)
	{
		RedisSetError(error, errlen, "%s", ctx->errstr);
		redisFree(ctx);
		return NULL;
	}
	if (RedisWait(ctx, WL_SOCKET_WRITEABLE, deadline) == 0)
	{
		RedisSetError(error, errlen, "connection timed out after %d ms", timeout_ms);
		redisFree(ctx);
		return NULL;
	}
	if (getsockopt(ctx->fd, SOL_SOCKET, SO_ERROR, &soerr, &solen) != 0 || soerr != 0)
	{
		RedisSetError(error, errlen, "%s", strerror(soerr != 0 ? soerr : errno));
		redisFree(ctx);
		return NULL;
	}

	conn = palloc0(sizeof(RedisConn));
	conn->ctx = ctx;

	if (target.password != NULL)
	{
		const char *argv[3] = {"AUTH", target.user, target.password};
		redisReply *reply;

		if (target.user == NULL)
			argv[1] = target.password;
		reply = RedisCommand(conn, Max(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline), 1),
							 error, errlen, target.user != NULL ? 3 : 2, argv);
		if (reply == NULL || !RedisReplyIsStatus(reply, "OK"))
		{
			if (reply != NULL)
			{
				char		what[REDIS_ERROR_LEN];

				RedisDescribeReply(reply, what, sizeof(what));
				RedisSetError(error, errlen, "AUTH failed: %s", what);
				freeReplyObject(reply);
			}
			RedisDisconnect(conn);
			return NULL;
		}
		freeReplyObject(reply);
	}
	if (target.db != 0)
	{
		char		db[16];
		const char *argv[2] = {"SELECT", db};
		redisReply *reply;

		snprintf(db, sizeof(db), "%d", target.db);
		reply = RedisCommand(conn, Max(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline), 1),
							 error, errlen, 2, argv);
		if (reply == NULL || !RedisReplyIsStatus(reply, "OK"))
		{
			if (reply != NULL)
			{
				char		what[REDIS_ERROR_LEN];

				RedisDescribeReply(reply, what, sizeof(what));
				RedisSetError(error, errlen, "SELECT %d failed: %s", target.db, what);
				freeReplyObject(reply);
			}
			RedisDisconnect(conn);
			return NULL;
		}
		freeReplyObject(reply);
	}
	return conn;
}

void
RedisDisconnect(RedisConn *conn)
{
	if (conn == NULL)
		return;
	redisFree(conn->ctx);
	pfree(conn);
}

/* Queue one command; nothing is sent before RedisExchange. */
void
RedisAppend(RedisConn *conn, int argc, const char **argv, const size_t *argvlen)
{
	if (redisAppendCommandArgv(conn->ctx, argc, argv, argvlen) != REDIS_OK)
		elog(ERROR, "out of memory while queueing a Redis command");
	conn->pending++;
}

/* How many commands are queued. */
int
RedisPending(RedisConn *conn)
{
	return conn->pending;
}

/*
 * Send every queued command and read one reply each, within timeout_ms.
 * Returns the replies (RedisPending() of them before the call, in order), or
 * NULL with a reason in error; after a failure the connection is broken and
 * must be disconnected.
 */
redisReply **
RedisExchange(RedisConn *conn, int timeout_ms, char *error, size_t errlen)
{
	redisContext *ctx = conn->ctx;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	int			n = conn->pending;
	redisReply **replies;
	int			got = 0;
	int			written = 0;

	if (conn->broken)
	{
		RedisSetError(error, errlen, "the connection is broken");
		return NULL;
	}
	replies = palloc0(sizeof(redisReply *) * Max(n, 1));
	conn->pending = 0;
	while (got < n)
	{
		int			ready;

		if (!written && redisBufferWrite(ctx, &written) != REDIS_OK)
			goto fail;
		while (got < n)
		{
			void	   *reply = NULL;

			if (redisGetReplyFromReader(ctx, &reply) != REDIS_OK)
				goto fail;
			if (reply == NULL)
				break;
			replies[got++] = reply;
		}
		if (got == n)
			break;
		ready = RedisWait(ctx, WL_SOCKET_READABLE | (written ? 0 : WL_SOCKET_WRITEABLE), deadline);
		if (ready == 0)
		{
			RedisSetError(error, errlen, "no reply within %d ms", timeout_ms);
			goto broken;
		}
		if ((ready & WL_SOCKET_READABLE) && redisBufferRead(ctx) != REDIS_OK)
			goto fail;
	}
	/* replies before the whole request was sent: the peer does not follow RESP */
	if (!written)
	{
		RedisSetError(error, errlen, "protocol error: the server replied before the request was sent");
		goto broken;
	}
	return replies;

fail:
	RedisSetError(error, errlen, "%s", ctx->err == REDIS_ERR_EOF ? "the server closed the connection" :
				  ctx->errstr[0] != '\0' ? ctx->errstr : "I/O error");
broken:
	conn->broken = true;
	RedisFreeReplies(replies, got);
	return NULL;
}

void
RedisFreeReplies(redisReply **replies, int n)
{
	if (replies == NULL)
		return;
	for (int i = 0; i < n; i++)
		if (replies[i] != NULL)
			freeReplyObject(replies[i]);
	pfree(replies);
}

/* One command (NUL-terminated arguments) and its reply, or NULL with error. */
redisReply *
RedisCommand(RedisConn *conn, int timeout_ms, char *error, size_t errlen, int argc, const char **argv)
{
	size_t	   *lens = palloc(sizeof(size_t) * argc);
	redisReply **replies;
	redisReply *reply;

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	RedisAppend(conn, argc, argv, lens);
	pfree(lens);
	replies = RedisExchange(conn, timeout_ms, error, errlen);
	if (replies == NULL)
		return NULL;
	reply = replies[0];
	pfree(replies);
	return reply;
}

/*
 * One command whose error reply is a failure too: the reply, or NULL with
 * the reason in error (RedisBroken() tells an I/O failure, after which the
 * connection must be dropped, from an error reply).
 */
redisReply *
RedisCommandChecked(RedisConn *conn, int timeout_ms, char *error, size_t errlen, int argc, const char **argv)
{
	redisReply *reply = RedisCommand(conn, timeout_ms, error, errlen, argc, argv);

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
	{
		RedisDescribeReply(reply, error, errlen);
		freeReplyObject(reply);
		return NULL;
	}
	return reply;
}

/* Did an exchange fail on the connection (it must be dropped)? */
bool
RedisBroken(RedisConn *conn)
{
	return conn->broken;
}

/*
 * Delete (UNLINK: freed in Redis's background) every key matching a SCAN
 * pattern that wanted() accepts (NULL: every one), COUNT 1000 keys a step,
 * so that a big key space never blocks Redis.  False with error set after a
 * failure; the keys deleted until then stay deleted.
 */
bool
RedisUnlinkMatching(RedisConn *conn, int timeout_ms, const char *pattern,
					bool (*wanted) (const char *key, void *arg), void *arg,
					char *error, size_t errlen)
{
	char		cursor[32] = "0";

	do
	{
		const char *scan[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
		redisReply *reply = RedisCommandChecked(conn, timeout_ms, error, errlen, 6, scan);
		redisReply *keys;
		const char **argv;
		int			argc = 1;

		if (reply == NULL)
			return false;
		if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
			reply->element[0]->type != REDIS_REPLY_STRING ||
			reply->element[1]->type != REDIS_REPLY_ARRAY ||
			reply->element[0]->len >= sizeof(cursor))
		{
			RedisDescribeReply(reply, error, errlen);
			freeReplyObject(reply);
			return false;
		}
		strlcpy(cursor, reply->element[0]->str, sizeof(cursor));
		keys = reply->element[1];
		argv = palloc(sizeof(char *) * (keys->elements + 1));
		argv[0] = "UNLINK";
		for (size_t k = 0; k < keys->elements; k++)
			if (keys->element[k]->type == REDIS_REPLY_STRING &&
				(wanted == NULL || wanted(keys->element[k]->str, arg)))
				argv[argc++] = keys->element[k]->str;
		if (argc > 1)
		{
			redisReply *del = RedisCommandChecked(conn, timeout_ms, error, errlen, argc, argv);

			if (del == NULL)
			{
				pfree(argv);
				freeReplyObject(reply);
				return false;
			}
			freeReplyObject(del);
		}
		pfree(argv);
		freeReplyObject(reply);
	} while (strcmp(cursor, "0") != 0);
	return true;
}

/*
 * Is reply an error of the whole server rather than of one key: out of
 * memory, loading, busy with a script, a failed background save that stops
 * writes, a read-only replica, too few replicas?  Waiting and sending the
 * same commands again is the remedy for these; for the others (a key of the
 * wrong type, no permission on a key) it is not.
 */
bool
RedisErrorIsServerWide(const redisReply *reply)
{
	static const char *const codes[] = {"OOM", "LOADING", "BUSY", "MISCONF", "READONLY",
	"NOREPLICAS", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"};

	if (reply == NULL || reply->type != REDIS_REPLY_ERROR || reply->str == NULL)
		return false;
	for (int i = 0; i < (int) lengthof(codes); i++)
	{
		size_t		len = strlen(codes[i]);

		if (strncmp(reply->str, codes[i], len) == 0 && (reply->str[len] == ' ' || reply->str[len] == '\0'))
			return true;
	}
	return false;
}

/* Is reply the status reply status (such as OK, QUEUED)? */
bool
RedisReplyIsStatus(const redisReply *reply, const char *status)
{
	return reply != NULL && reply->type == REDIS_REPLY_STATUS && reply->str != NULL &&
		strcmp(reply->str, status) == 0;
}

/* Describe a reply for an error message: its type, and its text when short. */
void
RedisDescribeReply(const redisReply *reply, char *out, size_t outlen)
{
	if (reply == NULL)
	{
		snprintf(out, outlen, "no reply");
		return;
	}
	switch (reply->type)
	{
		case REDIS_REPLY_ERROR:
			snprintf(out, outlen, "error reply \"%.200s\"", reply->str);
			break;
		case REDIS_REPLY_STATUS:
			snprintf(out, outlen, "unexpected status reply \"%.200s\"", reply->str);
			break;
		case REDIS_REPLY_STRING:
			snprintf(out, outlen, "unexpected string reply of %zu bytes", reply->len);
			break;
		case REDIS_REPLY_INTEGER:
			snprintf(out, outlen, "unexpected integer reply %lld", reply->integer);
			break;
		case REDIS_REPLY_NIL:
			snprintf(out, outlen, "unexpected nil reply");
			break;
		case REDIS_REPLY_ARRAY:
			snprintf(out, outlen, "unexpected array reply of %zu elements", reply->elements);
			break;
		default:
			snprintf(out, outlen, "reply of unknown type %d", reply->type);
			break;
	}
}
