/*
 * src/raft/raft_lookup.c
 *	  Host name lookups for the raft worker's peer connections that do not
 *	  block: glibc's getaddrinfo_a, polled from the worker's loop.
 *
 * libpq resolves a conninfo's host name synchronously inside
 * PQconnectStartParams; a resolver that neither answers nor fails (a
 * container's DNS for a peer that just stopped, an unreachable name server)
 * held the worker there for seconds: no heartbeats, no elections answered,
 * no shutdown.  So the transport looks the name up here first and connects
 * with the address as hostaddr (host stays for authentication and TLS).
 * glibc runs the lookup in a helper thread of its own, which never enters
 * PostgreSQL code.  A lookup given up while in flight cannot always be
 * cancelled: it is parked and freed once glibc is done with it.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include "libpq-fe.h"

#include "raft/raft_lookup.h"

struct RaftLookup
{
	struct gaicb req;
	struct addrinfo hints;
	char		name[FLEXIBLE_ARRAY_MEMBER];
};

/* given up while glibc still owned them; freed by later polls */
#define RAFT_LOOKUPS_PARKED 64
static RaftLookup *parked[RAFT_LOOKUPS_PARKED];

static void
lookup_free(RaftLookup *l)
{
	if (l->req.ar_result)
		freeaddrinfo(l->req.ar_result);
	free(l);
}

static void
reap_parked(void)
{
	for (int i = 0; i < RAFT_LOOKUPS_PARKED; i++)
		if (parked[i] != NULL && gai_error(&parked[i]->req) != EAI_INPROGRESS)
		{
			lookup_free(parked[i]);
			parked[i] = NULL;
		}
}

/*
 * The host name of conninfo that needs a lookup, palloc'd; NULL when libpq
 * needs none (hostaddr given, a socket directory, an address, several
 * hosts) or the conninfo does not parse (libpq then reports it).
 */
char *
RaftLookupHostOf(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *host = NULL;
	bool		hostaddr = false;
	char	   *result = NULL;
	unsigned char buf[sizeof(struct in6_addr)];

	if (opts == NULL)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		if (strcmp(o->keyword, "host") == 0 && o->val != NULL)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0 && o->val != NULL && o->val[0] != '\0')
			hostaddr = true;
	}
	if (!hostaddr && host != NULL && host[0] != '\0' && host[0] != '/' && host[0] != '@' &&
		strchr(host, ',') == NULL &&
		inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
		result = pstrdup(host);
	PQconninfoFree(opts);
	return result;
}

/* Start looking name up; NULL with error set when it cannot start. */
RaftLookup *
RaftLookupStart(const char *name, char *error, size_t errlen)
{
	size_t		len = strlen(name);
	RaftLookup *l = calloc(1, offsetof(RaftLookup, name) + len + 1);
	struct gaicb *list[1];
	int			rc;

	reap_parked();
	if (l == NULL)
	{
		snprintf(error, errlen, "out of memory");
		return NULL;
	}
	memcpy(l->name, name, len + 1);
	l->hints.ai_family = AF_UNSPEC;
	l->hints.ai_socktype = SOCK_STREAM;
	l->req.ar_name = l->name;
	l->req.ar_request = &l->hints;
	list[0] = &l->req;
	rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (rc != 0)
	{
		snprintf(error, errlen, "could not look up host name \"%s\": %s", name, gai_strerror(rc));
		free(l);
		return NULL;
	}
	return l;
}

/*
 * 0 while the lookup runs; 1 with the first address in addr, or -1 with
 * error set, once it is over (the lookup is then freed).
 */
int
RaftLookupPoll(RaftLookup *l, char *addr, size_t addrlen, char *error, size_t errlen)
{
	int			rc = gai_error(&l->req);
	int			result = 1;

	if (rc == EAI_INPROGRESS)
		return 0;
	if (rc != 0)
	{
		snprintf(error, errlen, "could not look up host name \"%s\": %s", l->name, gai_strerror(rc));
		result = -1;
	}
	else if (l->req.ar_result == NULL ||
			 getnameinfo(l->req.ar_result->ai_addr, l->req.ar_result->ai_addrlen,
						 addr, addrlen, NULL, 0, NI_NUMERICHOST) != 0)
	{
		snprintf(error, errlen, "host name \"%s\" has no usable address", l->name);
		result = -1;
	}
	lookup_free(l);
	return result;
}

/* Give a lookup up: cancelled, or parked until glibc is done with it. */
void
RaftLookupAbandon(RaftLookup *l)
{
	if (gai_cancel(&l->req) != EAI_NOTCANCELED || gai_error(&l->req) != EAI_INPROGRESS)
	{
		lookup_free(l);
		return;
	}
	reap_parked();
	for (int i = 0; i < RAFT_LOOKUPS_PARKED; i++)
		if (parked[i] == NULL)
		{
			parked[i] = l;
			return;
		}
	/* all parked ones still running: leak this one rather than free what glibc uses */
}
