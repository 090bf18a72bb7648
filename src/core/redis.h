/*
 * src/core/redis.h
 *	  A small Redis client on hiredis 0.14 for geoshard's workers: URLs,
 *	  connections with deadlines, pipelined commands and reply checks.
 */
#ifndef GEOSHARD_CORE_REDIS_H
#define GEOSHARD_CORE_REDIS_H

#include <hiredis/hiredis.h>

/* room for an error text; longer ones are truncated */
#define REDIS_ERROR_LEN			256

/* a parsed redis:// or unix: URL; strings point into the struct's own buffer */
typedef struct RedisUrl
{
	char	   *host;			/* NULL for a Unix socket */
	int			port;
	char	   *path;			/* Unix socket path, else NULL */
	char	   *user;			/* NULL: AUTH with the password alone */
	char	   *password;		/* NULL: no AUTH */
	int			db;				/* SELECT this database when not 0 */
} RedisUrl;

typedef struct RedisConn RedisConn;

extern bool RedisParseUrl(const char *url, RedisUrl *out, char *error, size_t errlen);
extern char *RedisMaskUrl(const char *url);

extern RedisConn *RedisConnect(const char *url, int timeout_ms, char *error, size_t errlen);
extern void RedisDisconnect(RedisConn *conn);
extern void RedisAppend(RedisConn *conn, int argc, const char **argv, const size_t *argvlen);
extern int	RedisPending(RedisConn *conn);
extern redisReply **RedisExchange(RedisConn *conn, int timeout_ms, char *error, size_t errlen);
extern void RedisFreeReplies(redisReply **replies, int n);
extern redisReply *RedisCommand(RedisConn *conn, int timeout_ms, char *error, size_t errlen,
								int argc, const char **argv);

extern redisReply *RedisCommandChecked(RedisConn *conn, int timeout_ms, char *error, size_t errlen,
									   int argc, const char **argv);
extern bool RedisBroken(RedisConn *conn);
extern bool RedisUnlinkMatching(RedisConn *conn, int timeout_ms, const char *pattern,
								bool (*wanted) (const char *key, void *arg), void *arg,
								char *error, size_t errlen);

extern bool RedisReplyIsStatus(const redisReply *reply, const char *status);
extern bool RedisErrorIsServerWide(const redisReply *reply);
extern void RedisDescribeReply(const redisReply *reply, char *out, size_t outlen);

#endif							/* GEOSHARD_CORE_REDIS_H */
