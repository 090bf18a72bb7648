/*
 * src/health/probe.c
 *	  Runs one round of health probes, all endpoints concurrently, in the
 *	  health worker.
 *
 * An endpoint's form picks the probe:
 *   http://... and https://...   a GET with libcurl's multi interface: a
 *                                2xx answer is up (or the region's
 *                                probe_status, when set), with a body
 *                                that contains its probe_body, when set;
 *                                at most HEALTH_MAX_REDIRECTS redirects
 *                                and HEALTH_MAX_BODY bytes of body;
 *   tcp://host:port              a connection (libcurl, CURLOPT_CONNECT_ONLY:
 *                                resolution and connect without blocking);
 *   postgres://..., postgresql://..., or a conninfo string (key=value)
 *                                a connection with PQconnectStartParams and
 *                                PQconnectPoll; libpq resolves host names
 *                                synchronously, so such endpoints should
 *                                name hostaddr or an IP address.
 * Every probe has the same deadline, the start of the round plus
 * geoshard.health_timeout; what is still running then fails with "timed
 * out".  One WaitEventSet holds the latch, postmaster death and every
 * socket curl and libpq wait on, so a signal or the postmaster's death ends
 * the wait at once, and no probe blocks another.
 *
 * The curl multi handle lives as long as the worker, so HTTP connections
 * are kept alive from one round to the next.  Curl's resolver runs in
 * threads it starts inside curl calls: those calls run with every signal
 * blocked, so that the threads inherit a blocked mask and PostgreSQL's
 * signal handlers only ever run in the worker's own thread.
 */
#include "postgres.h"

#include <signal.h>

#include <curl/curl.h>

#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include "core/worker.h"
#include "health/probe.h"

#define HEALTH_MAX_BODY			65536
#define HEALTH_MAX_REDIRECTS	3

typedef enum HealthProbeKind
{
	HEALTH_PROBE_NONE,			/* not probed, or failed before it started */
	HEALTH_PROBE_CURL,			/* http, https and tcp */
	HEALTH_PROBE_LIBPQ
} HealthProbeKind;

typedef struct HealthProbe
{
	HealthProbeKind kind;
	bool		running;
	HealthResult *result;
	CURL	   *easy;
	size_t		body_bytes;		/* received so far */
	bool		body_too_large;
	int			expect_status;	/* 0: any 2xx */
	const char *expect_body;	/* NULL: any body */
	char	   *body;			/* HEALTH_MAX_BODY bytes, kept only with expect_body */
	PGconn	   *conn;
	PostgresPollingStatusType polling;	/* what libpq waits for */
	bool		tcp;			/* a tcp:// endpoint: connecting is the probe */
	char		curl_error[CURL_ERROR_SIZE];	/* curl's own detail of a failure */
} HealthProbe;

/* a socket curl wants watched, as its socket callback says */
typedef struct HealthCurlSocket
{
	curl_socket_t fd;
	int			what;			/* CURL_POLL_IN, _OUT or _INOUT */
} HealthCurlSocket;

static CURLM *multi = NULL;
static HealthCurlSocket *curl_sockets = NULL;
static int	ncurl_sockets = 0;
static int	max_curl_sockets = 0;
static long curl_timer_ms = -1;	/* what curl's timer callback asked for, -1: none */
static instr_time curl_timer_set;	/* when it asked */

static int
HealthCurlSocketCallback(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	int			i;

	for (i = 0; i < ncurl_sockets; i++)
		if (curl_sockets[i].fd == fd)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < ncurl_sockets)
			curl_sockets[i] = curl_sockets[--ncurl_sockets];
		return 0;
	}
	if (i == ncurl_sockets)
	{
		if (ncurl_sockets == max_curl_sockets)
		{
			/* curl calls back outside any PostgreSQL error handling: never palloc here */
			int			grown = max_curl_sockets * 2;
			HealthCurlSocket *more = realloc(curl_sockets, sizeof(HealthCurlSocket) * grown);

			if (more == NULL)
				return -1;
			curl_sockets = more;
			max_curl_sockets = grown;
		}
		ncurl_sockets++;
	}
	curl_sockets[i].fd = fd;
	curl_sockets[i].what = what;
	return 0;
}

static int
HealthCurlTimerCallback(CURLM *m, long timeout_ms, void *userp)
{
	curl_timer_ms = timeout_ms;
	INSTR_TIME_SET_CURRENT(curl_timer_set);
	return 0;
}

static size_t
HealthCurlWrite(char *data, size_t size, size_t nmemb, void *userp)
{
	HealthProbe *probe = userp;

	size_t		got = size * nmemb;

	if (got > HEALTH_MAX_BODY - probe->body_bytes)
	{
		probe->body_too_large = true;
		return 0;				/* curl fails the transfer with CURLE_WRITE_ERROR */
	}
	/* the buffer was allocated before the transfer: no palloc in a callback */
	if (probe->body != NULL)
		memcpy(probe->body + probe->body_bytes, data, got);
	probe->body_bytes += got;
	return got;
}

/* curl_multi_socket_action with every signal blocked (see the header comment) */
static void
HealthCurlAction(curl_socket_t fd, int events)
{
	sigset_t	all;
	sigset_t	saved;
	int			running;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &saved);
	(void) curl_multi_socket_action(multi, fd, events, &running);
	sigprocmask(SIG_SETMASK, &saved, NULL);
}

/* Initialise libcurl once for the worker's lifetime. */
void
HealthProbeStartup(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialise libcurl")));
	multi = curl_multi_init();
	if (multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl multi handle")));
	max_curl_sockets = 64;
	curl_sockets = malloc(sizeof(HealthCurlSocket) * max_curl_sockets);
	if (curl_sockets == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, HealthCurlSocketCallback);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, HealthCurlTimerCallback);
}

static void
HealthFail(HealthProbe *probe, const char *fmt,...) pg_attribute_printf(2, 3);

/*
 * The probe failed with this message, on one line: libpq's messages have
 * newlines and tabs, and end in a newline.
 */
static void
HealthFail(HealthProbe *probe, const char *fmt,...)
{
	char		raw[HEALTH_ERROR_LEN];
	char	   *out = probe->result->error;
	va_list		args;

	va_start(args, fmt);
	vsnprintf(raw, sizeof(raw), fmt, args);
	va_end(args);
	for (const char *p = raw; *p; p++)
	{
		bool		space = (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t');

		if (space && (out == probe->result->error || out[-1] == ' '))
			continue;
		*out++ = space ? ' ' : *p;
	}
	if (out > probe->result->error && out[-1] == ' ')
		out--;
	*out = '\0';
	probe->result->up = false;
	probe->running = false;
}

static void
HealthSucceed(HealthProbe *probe, instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	probe->result->up = true;
	probe->result->rtt_ms = INSTR_TIME_GET_MILLISEC(now);
	probe->result->error[0] = '\0';
	probe->running = false;
}

/* Does the received body contain text (bytes, any of them NUL)? */
static bool
HealthBodyContains(const HealthProbe *probe, const char *text)
{
	size_t		len = strlen(text);

	if (len > probe->body_bytes)
		return false;
	for (size_t at = 0; at + len <= probe->body_bytes; at++)
		if (memcmp(probe->body + at, text, len) == 0)
			return true;
	return false;
}

/* Start an http(s) or tcp probe; the URL is validated by curl itself. */
static void
HealthStartCurl(HealthProbe *probe, const HealthTarget *target, int timeout_ms)
{
	const char *endpoint = target->endpoint;
	char		url[1024];
	CURL	   *easy;

	probe->tcp = strncmp(endpoint, "tcp://", 6) == 0;
	if (probe->tcp)
	{
		const char *rest = endpoint + 6;
		const char *colon = strrchr(rest, ':');

		/* host:port only, where curl's http:// parser reads it */
		if (colon == NULL || colon == rest || colon[1] == '\0' ||
			strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
			strpbrk(rest, "/?#@ ") != NULL)
		{
			HealthFail(probe, "invalid tcp endpoint: expected tcp://host:port");
			return;
		}
		snprintf(url, sizeof(url), "http://%s/", rest);
	}
	else
		strlcpy(url, endpoint, sizeof(url));

	easy = curl_easy_init();
	if (easy == NULL)
	{
		HealthFail(probe, "could not create a libcurl handle");
		return;
	}
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, probe);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, probe->curl_error);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) timeout_ms);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	if (probe->tcp)
		curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
	else
	{
		curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(easy, CURLOPT_MAXREDIRS, (long) HEALTH_MAX_REDIRECTS);
		curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) HEALTH_MAX_BODY);
		curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, HealthCurlWrite);
		curl_easy_setopt(easy, CURLOPT_WRITEDATA, probe);
		curl_easy_setopt(easy, CURLOPT_USERAGENT, "geoshard-health");
		probe->expect_status = target->probe_status;
		probe->expect_body = target->probe_body;
		if (probe->expect_body != NULL)
			probe->body = palloc(HEALTH_MAX_BODY);
	}
	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
	{
		curl_easy_cleanup(easy);
		HealthFail(probe, "could not start the probe");
		return;
	}
	probe->easy = easy;
	probe->kind = HEALTH_PROBE_CURL;
	probe->running = true;
}

/* Finish the curl transfers that are done. */
static void
HealthReadCurl(instr_time start)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		HealthProbe *probe = NULL;
		CURLcode	code = msg->data.result;
		long		status = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &probe);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		if (code == CURLE_OK && probe->tcp)
			HealthSucceed(probe, start);
		else if (code == CURLE_OK && probe->expect_status != 0 && status != probe->expect_status)
			HealthFail(probe, "HTTP status %ld, expected %d", status, probe->expect_status);
		else if (code == CURLE_OK && probe->expect_status == 0 && (status < 200 || status >= 300))
			HealthFail(probe, "HTTP status %ld", status);
		else if (code == CURLE_OK && probe->expect_body != NULL &&
				 !HealthBodyContains(probe, probe->expect_body))
			HealthFail(probe, "response body does not contain \"%s\"", probe->expect_body);
		else if (code == CURLE_OK)
			HealthSucceed(probe, start);
		else if (probe->body_too_large || code == CURLE_FILESIZE_EXCEEDED)
			HealthFail(probe, "response body larger than %d bytes", HEALTH_MAX_BODY);
		else
			HealthFail(probe, "%s", probe->curl_error[0] ? probe->curl_error : curl_easy_strerror(code));
	}
}

/* Start a libpq probe: a connection is the proof of life. */
static void
HealthStartLibpq(HealthProbe *probe, const char *endpoint)
{
	const char *keywords[] = {"dbname", "fallback_application_name", NULL};
	const char *values[] = {endpoint, "geoshard health", NULL};

	probe->conn = PQconnectStartParams(keywords, values, 1);
	probe->kind = HEALTH_PROBE_LIBPQ;
	if (probe->conn == NULL)
	{
		HealthFail(probe, "out of memory");
		return;
	}
	if (PQstatus(probe->conn) == CONNECTION_BAD)
	{
		HealthFail(probe, "%s", PQerrorMessage(probe->conn));
		return;
	}
	probe->polling = PGRES_POLLING_WRITING;
	probe->running = true;
}

/* Advance a libpq probe whose socket is ready. */
static void
HealthPollLibpq(HealthProbe *probe, instr_time start)
{
	probe->polling = PQconnectPoll(probe->conn);
	if (probe->polling == PGRES_POLLING_OK)
		HealthSucceed(probe, start);
	else if (probe->polling == PGRES_POLLING_FAILED)
		HealthFail(probe, "%s", PQerrorMessage(probe->conn));
}

static bool
HealthIsLibpq(const char *endpoint)
{
	return strncmp(endpoint, "postgres://", 11) == 0 ||
		strncmp(endpoint, "postgresql://", 13) == 0 ||
		(strstr(endpoint, "://") == NULL && strchr(endpoint, '=') != NULL);
}

/*
 * Probe targets[i].endpoint into results[i] for every target that has an
 * endpoint, all at once; returns when all are done or timeout_ms passed.
 */
void
HealthProbeRound(const HealthTarget *targets, HealthResult *results, int n, int timeout_ms)
{
	HealthProbe *probes = palloc0(sizeof(HealthProbe) * Max(n, 1));
	instr_time	start;
	int			running;

	INSTR_TIME_SET_CURRENT(start);
	for (int i = 0; i < n; i++)
	{
		const char *endpoint = targets[i].endpoint;

		probes[i].result = &results[i];
		results[i].up = false;
		results[i].rtt_ms = 0;
		results[i].error[0] = '\0';
		if (endpoint == NULL)
			continue;
		if (strncmp(endpoint, "http://", 7) == 0 || strncmp(endpoint, "https://", 8) == 0 ||
			strncmp(endpoint, "tcp://", 6) == 0)
			HealthStartCurl(&probes[i], &targets[i], timeout_ms);
		else if (HealthIsLibpq(endpoint))
			HealthStartLibpq(&probes[i], endpoint);
		else
			/* not quoted: an endpoint may hold a password */
			HealthFail(&probes[i], "unrecognized endpoint: use http://, https://, tcp://host:port, postgres:// or a conninfo string");
	}
	HealthCurlAction(CURL_SOCKET_TIMEOUT, 0);

	for (;;)
	{
		WaitEventSet *set;
		WaitEvent  *events;
		instr_time	now;
		long		elapsed_ms;
		long		wait_ms;
		int			nevents;
		int			nsockets = ncurl_sockets;

		HealthReadCurl(start);
		running = 0;
		for (int i = 0; i < n; i++)
			running += probes[i].running;
		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, start);
		elapsed_ms = (long) INSTR_TIME_GET_MILLISEC(now);
		if (running == 0 || elapsed_ms >= timeout_ms)
			break;

		wait_ms = timeout_ms - elapsed_ms;
		if (curl_timer_ms >= 0)
		{
			instr_time	since;
			long		curl_left;

			INSTR_TIME_SET_CURRENT(since);
			INSTR_TIME_SUBTRACT(since, curl_timer_set);
			curl_left = curl_timer_ms - (long) INSTR_TIME_GET_MILLISEC(since);
			wait_ms = Max(Min(wait_ms, curl_left), 0);
		}

		set = CreateWaitEventSet(CurrentMemoryContext, n + nsockets + 2);
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		for (int s = 0; s < nsockets; s++)
		{
			uint32		ev = 0;

			if (curl_sockets[s].what & CURL_POLL_IN)
				ev |= WL_SOCKET_READABLE;
			if (curl_sockets[s].what & CURL_POLL_OUT)
				ev |= WL_SOCKET_WRITEABLE;
			if (ev != 0)
				AddWaitEventToSet(set, ev, curl_sockets[s].fd, NULL, NULL);
		}
		for (int i = 0; i < n; i++)
			if (probes[i].running && probes[i].kind == HEALTH_PROBE_LIBPQ)
				AddWaitEventToSet(set,
								  probes[i].polling == PGRES_POLLING_READING ?
								  WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE,
								  PQsocket(probes[i].conn), NULL, &probes[i]);

		events = palloc(sizeof(WaitEvent) * (n + nsockets + 2));
		nevents = WaitEventSetWait(set, wait_ms, events, n + nsockets + 2, PG_WAIT_EXTENSION);
		FreeWaitEventSet(set);

		for (int e = 0; e < nevents; e++)
		{
			WaitEvent  *ev = &events[e];

			if (ev->events & WL_LATCH_SET)
			{
				/* probe_now's request stays in shared memory; only signals matter here */
				ResetLatch(MyLatch);
				(void) GeoshardWorkerHandleInterrupts();
			}
			else if (ev->user_data != NULL)
				HealthPollLibpq((HealthProbe *) ev->user_data, start);
			else
				HealthCurlAction(ev->fd,
								 ((ev->events & WL_SOCKET_READABLE) ? CURL_CSELECT_IN : 0) |
								 ((ev->events & WL_SOCKET_WRITEABLE) ? CURL_CSELECT_OUT : 0));
		}
		pfree(events);
		if (curl_timer_ms >= 0)
		{
			instr_time	since;

			INSTR_TIME_SET_CURRENT(since);
			INSTR_TIME_SUBTRACT(since, curl_timer_set);
			if ((long) INSTR_TIME_GET_MILLISEC(since) >= curl_timer_ms)
			{
				curl_timer_ms = -1;
				HealthCurlAction(CURL_SOCKET_TIMEOUT, 0);
			}
		}
	}

	for (int i = 0; i < n; i++)
	{
		HealthProbe *probe = &probes[i];

		if (probe->running)
			HealthFail(probe, "timed out after %d ms", timeout_ms);
		if (probe->easy != NULL)
		{
			curl_multi_remove_handle(multi, probe->easy);
			curl_easy_cleanup(probe->easy);
		}
		if (probe->conn != NULL)
			PQfinish(probe->conn);
		if (probe->body != NULL)
			pfree(probe->body);
	}
	pfree(probes);
}
