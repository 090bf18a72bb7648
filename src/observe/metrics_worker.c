/*
 * src/observe/metrics_worker.c
 *	  The metrics worker ("geoshard metrics"): serves /metrics in the
 *	  Prometheus text format and /healthz with libmicrohttpd, on
 *	  geoshard.metrics_listen.
 *
 * Two kinds of thread live in this process:
 *  - the worker's main thread, a PostgreSQL backend, runs the usual loop
 *    (worker.c): every METRICS_REFRESH_MS it takes a snapshot of every
 *    area (metrics.c) in a unit of work, under the areas' LWLocks, and
 *    publishes it with the routing reasons' totals of the last minute
 *    (for the status page); on reload it opens, moves or closes the
 *    listener and takes the new password;
 *  - libmicrohttpd's thread answers requests.  It is not a backend: it
 *    reads only the published snapshot and the lock-free shared counters,
 *    formats into malloc'd memory, and never calls palloc, ereport, an
 *    LWLock or SQL.  It is started with every signal blocked, so that
 *    PostgreSQL's signals reach the main thread only.
 * publish_lock (a pthread mutex) guards the published snapshot, the
 * reason history, the heartbeat, the shared bodies and the password,
 * between the two.  A scrape never waits for the database: at worst for
 * the main thread's copy of a snapshot.  Counters in a body are at most a
 * pass of the main loop (about a second) old.
 *
 * Limits (libmicrohttpd options) keep bad clients from stalling or
 * crashing the endpoint: one event-driven thread (epoll) serves every
 * connection, at most METRICS_MAX_CONNECTIONS at once; a connection idle
 * for METRICS_TIMEOUT_S is closed; a request bigger than
 * METRICS_REQUEST_MEMORY is refused; the request syntax is parsed
 * strictly.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "core/guc.h"
#include "core/worker.h"
#include "observe/counters.h"
#include "observe/exposition.h"
#include "observe/metrics.h"
#include "observe/metrics_worker.h"
#include "observe/status_page.h"

/* how often the main thread publishes a new snapshot */
#define METRICS_REFRESH_MS			1000
/* how long to sleep while the endpoint is off (a reload wakes us) */
#define METRICS_IDLE_MS				60000
/* how often to retry a listener that could not be opened */
#define METRICS_RETRY_MS			5000
/* /healthz fails when the main thread published nothing for this long */
#define METRICS_STALE_MS			(10 * METRICS_REFRESH_MS)
#define METRICS_MAX_CONNECTIONS		512
#define METRICS_TIMEOUT_S			10
#define METRICS_REQUEST_MEMORY		(16 * 1024)
#define METRICS_LISTEN_BACKLOG		128
/* the status page's window of routing reasons, in refreshes */
#define METRICS_HISTORY				61

PGDLLEXPORT void GeoshardMetricsMain(Datum main_arg);

static pthread_mutex_t publish_lock = PTHREAD_MUTEX_INITIALIZER;

/* guarded by publish_lock */
static void *published = NULL;	/* malloc'd snapshot, MetricsSnapshotSize() */
static int64 heartbeat_ms = 0;	/* CLOCK_MONOTONIC of the last loop pass */
static char *password = NULL;	/* malloc'd; NULL: no authentication */
/* route_region totals by reason at the last METRICS_HISTORY refreshes, a ring */
static uint64 reason_history[METRICS_HISTORY][ROUTE_REASON_COUNT];
static int64 reason_history_ms[METRICS_HISTORY];
static int	history_next = 0;
static int	history_count = 0;

/*
 * Bodies of /metrics and of /, formatted once per generation (a pass of
 * the main loop, about a second) and shared by every response of it, so
 * that many slow clients hold one copy, not one each.
 */
typedef struct SharedBody
{
	int			refs;			/* the cache's, and one per response */
	size_t		len;
	char	   *data;			/* malloc'd */
} SharedBody;

#define BODY_METRICS	0
#define BODY_PAGE		1
static uint64 generation = 0;	/* advanced by each pass of the main loop */
static SharedBody *bodies[2];
static uint64 body_generation[2];

/* the main thread's own */
static struct MHD_Daemon *daemon_handle = NULL;
static char *listening_on = NULL;	/* the setting the daemon serves, malloc'd */
static void *work_snapshot = NULL;

static int64
MetricsNowMs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Parse "ipv4:port" or "[ipv6]:port" into addr; false when malformed.
 * Pure: the check hook and the worker both call it.
 */
static bool
MetricsParseListen(const char *value, struct sockaddr_storage *addr, socklen_t *addrlen)
{
	char		host[INET6_ADDRSTRLEN + 1];
	const char *port;
	size_t		hostlen;
	char	   *end;
	long		number;

	memset(addr, 0, sizeof(*addr));
	if (value[0] == '[')
	{
		const char *close = strchr(value, ']');

		if (close == NULL || close[1] != ':')
			return false;
		hostlen = close - value - 1;
		if (hostlen == 0 || hostlen >= sizeof(host))
			return false;
		memcpy(host, value + 1, hostlen);
		port = close + 2;
	}
	else
	{
		const char *colon = strrchr(value, ':');

		if (colon == NULL)
			return false;
		hostlen = colon - value;
		if (hostlen == 0 || hostlen >= sizeof(host))
			return false;
		memcpy(host, value, hostlen);
		port = colon + 1;
	}
	host[hostlen] = '\0';

	if (*port < '0' || *port > '9')
		return false;
	errno = 0;
	number = strtol(port, &end, 10);
	if (errno != 0 || *end != '\0' || number < 1 || number > 65535)
		return false;

	if (value[0] == '[')
	{
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) addr;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return false;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16) number);
		*addrlen = sizeof(*in6);
	}
	else
	{
		struct sockaddr_in *in4 = (struct sockaddr_in *) addr;

		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			return false;
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16) number);
		*addrlen = sizeof(*in4);
	}
	return true;
}

/* geoshard.metrics_listen: empty, or an address and a port */
bool
MetricsListenCheckHook(char **newval, void **extra, GucSource source)
{
	struct sockaddr_storage addr;
	socklen_t	addrlen;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (MetricsParseListen(*newval, &addr, &addrlen))
		return true;
	GUC_check_errdetail("The value must be an IPv4 address or a bracketed IPv6 address, a colon and a port from 1 to 65535, such as 127.0.0.1:9188 or [::1]:9188.");
	return false;
}

/* ---- the HTTP thread: no palloc, no ereport, no LWLock, no SQL ---- */

/* Answer with a fixed text. */
static enum MHD_Result
MetricsRespondStatic(struct MHD_Connection *connection, unsigned int status, const char *text)
{
	struct MHD_Response *response;
	enum MHD_Result ret;

	response = MHD_create_response_from_buffer(strlen(text), unconstify(char *, text),
											   MHD_RESPMEM_PERSISTENT);
	if (response == NULL)
		return MHD_NO;
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return ret;
}

/* Does the request carry the password?  Any user name is accepted. */
static bool
MetricsAuthorized(struct MHD_Connection *connection)
{
	char	   *given = NULL;
	char	   *user;
	bool		ok;

	pthread_mutex_lock(&publish_lock);
	if (password == NULL)
	{
		pthread_mutex_unlock(&publish_lock);
		return true;
	}
	user = MHD_basic_auth_get_username_password(connection, &given);
	ok = false;
	if (given != NULL)
	{
		size_t		a = strlen(given);
		size_t		b = strlen(password);
		unsigned char diff = a != b;

		/* the same time for every password of the right length */
		for (size_t i = 0; i < a && i < b; i++)
			diff |= (unsigned char) (given[i] ^ password[i]);
		ok = diff == 0;
	}
	pthread_mutex_unlock(&publish_lock);
	if (user != NULL)
		MHD_free(user);
	if (given != NULL)
		MHD_free(given);
	return ok;
}

/* The status page from the published snapshot; publish_lock held. */
static char *
MetricsFormatPage(size_t *len)
{
	uint64		recent[ROUTE_REASON_COUNT] = {0};
	int			window_s = 0;

	if (history_count > 1)
	{
		int			newest = (history_next + METRICS_HISTORY - 1) % METRICS_HISTORY;
		int			oldest = (history_next + METRICS_HISTORY - history_count) % METRICS_HISTORY;

		for (int r = 0; r < ROUTE_REASON_COUNT; r++)
			recent[r] = reason_history[newest][r] - reason_history[oldest][r];
		window_s = (int) ((reason_history_ms[newest] - reason_history_ms[oldest] + 500) / 1000);
	}
	return StatusPageFormat(published, recent, window_s, len);
}

/* Drop a reference; publish_lock held. */
static void
MetricsBodyUnref(SharedBody *body)
{
	if (--body->refs == 0)
	{
		free(body->data);
		free(body);
	}
}

/* libmicrohttpd is done with a response's body. */
static void
MetricsBodyRelease(void *arg)
{
	pthread_mutex_lock(&publish_lock);
	MetricsBodyUnref((SharedBody *) arg);
	pthread_mutex_unlock(&publish_lock);
}

/*
 * Answer with the body of this kind for the current generation, formatted
 * by the first request of the generation and shared by the others.
 */
static enum MHD_Result
MetricsRespondBody(struct MHD_Connection *connection, int kind, const char *type)
{
	SharedBody *body;
	struct MHD_Response *response;
	enum MHD_Result ret;

	pthread_mutex_lock(&publish_lock);
	if (bodies[kind] == NULL || body_generation[kind] != generation)
	{
		size_t		len = 0;
		char	   *data = kind == BODY_METRICS ? MetricsFormatText(published, &len) :
			MetricsFormatPage(&len);
		SharedBody *fresh = data != NULL ? malloc(sizeof(SharedBody)) : NULL;

		if (fresh == NULL)
		{
			pthread_mutex_unlock(&publish_lock);
			free(data);
			return MetricsRespondStatic(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		}
		fresh->refs = 1;		/* the cache's */
		fresh->len = len;
		fresh->data = data;
		if (bodies[kind] != NULL)
			MetricsBodyUnref(bodies[kind]);
		bodies[kind] = fresh;
		body_generation[kind] = generation;
	}
	body = bodies[kind];
	body->refs++;				/* the response's */
	pthread_mutex_unlock(&publish_lock);

	response = MHD_create_response_from_buffer_with_free_callback_cls(body->len, body->data,
																	  MetricsBodyRelease, body);
	if (response == NULL)
	{
		MetricsBodyRelease(body);
		return MHD_NO;
	}
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(connection, MHD_HTTP_OK, response);
	MHD_destroy_response(response);
	return ret;
}

static enum MHD_Result
MetricsHandle(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
			  const char *version, const char *upload_data, size_t *upload_data_size,
			  void **request_state)
{
	static int	headers_seen;

	/* the first call has the headers only: answer on the next */
	if (*request_state == NULL)
	{
		*request_state = &headers_seen;
		return MHD_YES;
	}
	/* a body is not wanted: drop it */
	if (*upload_data_size != 0)
	{
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return MetricsRespondStatic(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");

	if (strcmp(url, "/healthz") == 0)
	{
		bool		fresh;

		pthread_mutex_lock(&publish_lock);
		fresh = heartbeat_ms != 0 && MetricsNowMs() - heartbeat_ms <= METRICS_STALE_MS;
		pthread_mutex_unlock(&publish_lock);
		return fresh ? MetricsRespondStatic(connection, MHD_HTTP_OK, "ok\n") :
			MetricsRespondStatic(connection, MHD_HTTP_SERVICE_UNAVAILABLE, "stale\n");
	}

	if (!MetricsAuthorized(connection))
	{
		struct MHD_Response *response;
		enum MHD_Result ret;
		const char *text = "authentication required\n";

		response = MHD_create_response_from_buffer(strlen(text), unconstify(char *, text),
												   MHD_RESPMEM_PERSISTENT);
		if (response == NULL)
			return MHD_NO;
		ret = MHD_queue_basic_auth_fail_response(connection, "geoshard metrics", response);
		MHD_destroy_response(response);
		return ret;
	}

	if (strcmp(url, "/metrics") == 0)
		return MetricsRespondBody(connection, BODY_METRICS, "text/plain; version=0.0.4; charset=utf-8");
	if (strcmp(url, "/") == 0)
		return MetricsRespondBody(connection, BODY_PAGE, "text/html; charset=utf-8");
	return MetricsRespondStatic(connection, MHD_HTTP_NOT_FOUND, "not found: try /, /metrics or /healthz\n");
}

/* ---- the main thread ---- */

static void
MetricsStop(void)
{
	if (daemon_handle != NULL)
	{
		MHD_stop_daemon(daemon_handle);
		daemon_handle = NULL;
	}
	free(listening_on);
	listening_on = NULL;
}

static void
MetricsStopAtExit(int code, Datum arg)
{
	MetricsStop();
}

/*
 * Open the listener of geoshard.metrics_listen; false, said once in the
 * log per setting, when it cannot be opened.
 */
static bool
MetricsStart(bool *logged)
{
	struct sockaddr_storage addr;
	socklen_t	addrlen;
	sigset_t	all;
	sigset_t	old;
	unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD;

	if (!MetricsParseListen(geoshard_metrics_listen, &addr, &addrlen))
		return false;				/* the check hook refused it already */
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	/* the thread inherits the mask: PostgreSQL's signals stay with us */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	daemon_handle = MHD_start_daemon(flags, 0, NULL, NULL, MetricsHandle, NULL,
									 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
									 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) METRICS_MAX_CONNECTIONS,
									 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) METRICS_TIMEOUT_S,
									 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) METRICS_REQUEST_MEMORY,
									 MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int) METRICS_LISTEN_BACKLOG,
									 MHD_OPTION_STRICT_FOR_CLIENT, (int) 1,
									 MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (daemon_handle == NULL)
	{
		if (!*logged)
			ereport(WARNING,
					(errmsg("geoshard metrics could not listen on \"%s\"", geoshard_metrics_listen),
					 errdetail("The address may be in use or not local to this host."),
					 errhint("Set geoshard.metrics_listen to a free local address and port, then reload.")));
		*logged = true;
		return false;
	}
	listening_on = strdup(geoshard_metrics_listen);
	if (listening_on == NULL)
	{
		MetricsStop();
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	ereport(LOG,
			(errmsg("geoshard metrics listening on \"%s\"", geoshard_metrics_listen)));
	*logged = false;
	return true;
}

/* Take the password of geoshard.metrics_password for the HTTP thread. */
static void
MetricsTakePassword(void)
{
	char	   *copy = NULL;

	if (geoshard_metrics_password != NULL && geoshard_metrics_password[0] != '\0')
	{
		copy = strdup(geoshard_metrics_password);
		if (copy == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
	}
	pthread_mutex_lock(&publish_lock);
	free(password);
	password = copy;
	pthread_mutex_unlock(&publish_lock);
}

/* One unit of work: a snapshot of every area, published for the HTTP thread. */
static void
MetricsRefresh(void *arg)
{
	MetricsTakeSnapshot(work_snapshot);
	pthread_mutex_lock(&publish_lock);
	memcpy(published, work_snapshot, MetricsSnapshotSize());
	pthread_mutex_unlock(&publish_lock);
}

/* Keep the routing reasons' totals of now, for the status page's last minute. */
static void
MetricsRecordReasons(void)
{
	uint64		totals[OBSERVE_COUNTERS];

	ObserveSum(totals);
	pthread_mutex_lock(&publish_lock);
	memcpy(reason_history[history_next], &totals[OBSERVE_ROUTE_REASON],
		   sizeof(uint64) * ROUTE_REASON_COUNT);
	reason_history_ms[history_next] = MetricsNowMs();
	history_next = (history_next + 1) % METRICS_HISTORY;
	history_count = Min(history_count + 1, METRICS_HISTORY);
	pthread_mutex_unlock(&publish_lock);
}

void
GeoshardMetricsMain(Datum main_arg)
{
	bool		start_logged = false;
	int64		next_try_ms = 0;

	GeoshardWorkerStart("geoshard metrics");

	published = calloc(1, MetricsSnapshotSize());
	work_snapshot = calloc(1, MetricsSnapshotSize());
	if (published == NULL || work_snapshot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	MetricsTakePassword();
	before_shmem_exit(MetricsStopAtExit, (Datum) 0);

	for (;;)
	{
		bool		want = geoshard_metrics_listen[0] != '\0';
		bool		reloaded;

		/* the listener follows the setting */
		if (daemon_handle != NULL && (!want || strcmp(listening_on, geoshard_metrics_listen) != 0))
		{
			MetricsStop();
			start_logged = false;
		}
		if (want && daemon_handle == NULL && MetricsNowMs() >= next_try_ms)
		{
			if (!MetricsStart(&start_logged))
				next_try_ms = MetricsNowMs() + METRICS_RETRY_MS;
		}

		if (daemon_handle != NULL)
		{
			(void) GeoshardWorkerRun("refreshing the metrics snapshot", MetricsRefresh, NULL);
			MetricsRecordReasons();
			pthread_mutex_lock(&publish_lock);
			heartbeat_ms = MetricsNowMs();
			generation++;
			pthread_mutex_unlock(&publish_lock);
		}

		reloaded = GeoshardWorkerWait(daemon_handle != NULL ? METRICS_REFRESH_MS :
									  want ? METRICS_RETRY_MS : METRICS_IDLE_MS);
		if (reloaded)
		{
			MetricsTakePassword();
			next_try_ms = 0;
		}
	}
}
