/*
 * src/health/breaker.c
 *	  Per-region circuit breakers in shared memory ("geoshard health"): the
 *	  state machine the health worker drives with its probe results, the
 *	  operator's override, panic mode, and the SQL functions that read them.
 *
 * States (docs/health.md):
 *   closed --breaker_failures consecutive failures--> open
 *   open --cooldown--> half_open
 *   half_open --breaker_successes consecutive successes--> closed
 *   half_open --one failure--> open
 * Flap damping: an opening less than HEALTH_STABLE_COOLDOWNS base cooldowns
 * after the previous one (that is, the region did not stay closed that long)
 * doubles the cooldown, up to 2^HEALTH_MAX_COOLDOWN_LEVEL times the base.
 *
 * The measured state ("state") belongs to the health worker; an operator's
 * forced state ("forced", set_region_breaker) overrides it until 'auto'.
 * Routing never reads this struct: HealthPublish() copies the effective
 * states into the routing table, which route_region reads without SQL.
 * Panic mode: when fewer than geoshard.health_panic_threshold percent of the
 * probed regions have closed breakers, the prober's own network is the
 * likelier fault, so HealthPublish() hands routing closed breakers for every
 * region that is not forced, and flags the table so that explain says so.
 *
 * Locking: HealthShared->lock guards every field of HealthShared but the
 * condition variable.  The worker writes everything but "forced" and
 * "round_requested", which backends write; it never holds the lock across a
 * probe or SPI.  The routing table's lock is taken after this one is
 * released, never inside it.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/timestamp.h"

#include "core/guc.h"
#include "core/shmem.h"
#include "health/breaker.h"

/* the stable period, in base cooldowns, and the cap of the doubling */
#define HEALTH_STABLE_COOLDOWNS		12
#define HEALTH_MAX_COOLDOWN_LEVEL	4

/* weight of a new round trip in the smoothed one */
#define HEALTH_RTT_ALPHA			0.3

/*
 * The baseline: a slow average of the round trip (weight 0.05 per probe, a
 * time constant of 20 probes), fed only by probes of a closed region that
 * is not degraded and that are not themselves far above it, so a slow spell
 * does not become its own baseline.  The
 * factor rule (geoshard.health_degraded_factor) waits for
 * HEALTH_BASELINE_SAMPLES healthy probes, and compares with at least
 * HEALTH_BASELINE_FLOOR_MS, so that jitter on a sub-millisecond loopback or
 * LAN round trip is not "4 times slower".
 */
#define HEALTH_BASELINE_ALPHA		0.05
#define HEALTH_BASELINE_SAMPLES		10
#define HEALTH_BASELINE_FLOOR_MS	5.0

/* slack probe_now adds to two probe timeouts before it gives up */
#define HEALTH_PROBE_NOW_SLACK_MS	5000

typedef struct HealthRegion
{
	char		id[ROUTING_NAME_LEN];
	char		endpoint[HEALTH_ENDPOINT_LEN];	/* masked; "" when null */
	bool		has_endpoint;
	bool		probed;			/* enabled with an endpoint, at the last sync */
	uint8		state;			/* RoutingBreaker measured by probes */
	uint8		forced;			/* HEALTH_AUTO or RoutingBreaker + 1 */
	TimestampTz forced_at;		/* when forced last changed */
	uint8		logged_forced;	/* forced as recorded in health_events */
	bool		degraded;
	bool		last_up;		/* outcome of the last probe */
	int			consecutive_failures;
	int			consecutive_successes;
	double		last_rtt_ms;	/* NaN: none yet */
	double		smoothed_rtt_ms;	/* NaN: none yet */
	double		baseline_rtt_ms;	/* NaN: none yet */
	int			baseline_samples;	/* healthy probes since it started (capped) */
	char		last_error[HEALTH_ERROR_LEN];
	TimestampTz last_probe;		/* 0: never */
	TimestampTz since;			/* entered the effective state */
	TimestampTz half_open_at;	/* open: when the cooldown ends */
	TimestampTz opened_at;		/* last transition to open, 0: never */
	int			cooldown_level; /* the cooldown is base << level */
	HealthCounters counters;	/* kept across syncs, for geoshard.metrics */
} HealthRegion;

typedef struct HealthShared
{
	LWLock	   *lock;			/* guards everything below but round_done */
	bool		restored;		/* states were rebuilt from health_events */
	bool		panic;
	Latch	   *worker_latch;	/* NULL: no health worker */
	uint64		round_requested;	/* probe_now tickets handed out */
	uint64		round_served;	/* highest ticket a finished round served */
	int			nregions;
	HealthRegion regions[ROUTING_MAX_REGIONS];
	ConditionVariable round_done;	/* broadcast when round_served moves */
} HealthShared;

static HealthShared *health_shared = NULL;

/* from a LAN to another continent, and the default probe timeout (250 ms) */
const double HealthRttBucketBounds[HEALTH_RTT_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5
};

Size
HealthShmemSize(void)
{
	return MAXALIGN(sizeof(HealthShared));
}

void
HealthShmemInit(void *shared, bool found, LWLockPadded *locks)
{
	health_shared = (HealthShared *) shared;
	if (!found)
	{
		memset(health_shared, 0, sizeof(HealthShared));
		health_shared->lock = &locks[0].lock;
		ConditionVariableInit(&health_shared->round_done);
	}
}

const char *
HealthReasonName(HealthReason reason)
{
	switch (reason)
	{
		case HEALTH_REASON_FAILURES:
			return "probe_failures";
		case HEALTH_REASON_HALF_OPEN_FAILURE:
			return "half_open_failure";
		case HEALTH_REASON_COOLDOWN:
			return "cooldown";
		case HEALTH_REASON_SUCCESSES:
			return "probe_successes";
		case HEALTH_REASON_FORCED:
			return "forced";
		case HEALTH_REASON_AUTO:
			return "auto";
		case HEALTH_REASON_DISABLED:
			return "disabled";
	}
	return "unknown";
}

static void
HealthRequireShared(void)
{
	if (health_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("geoshard is not loaded through shared_preload_libraries"),
				 errhint("Add geoshard to shared_preload_libraries and restart the server.")));
}

/* Entry of region id, or NULL; the caller holds the lock. */
static HealthRegion *
HealthFind(const char *id)
{
	for (int i = 0; i < health_shared->nregions; i++)
		if (strcmp(health_shared->regions[i].id, id) == 0)
			return &health_shared->regions[i];
	return NULL;
}

static RoutingBreaker
HealthEffective(const HealthRegion *h)
{
	return h->forced != HEALTH_AUTO ? (RoutingBreaker) (h->forced - 1) : (RoutingBreaker) h->state;
}

/*
 * Up but slow: the smoothed round trip is above geoshard.health_degraded_ms,
 * or above geoshard.health_degraded_factor times the region's own baseline
 * (once it has one, and at least HEALTH_BASELINE_FLOOR_MS).
 */
static bool
HealthIsDegraded(const HealthRegion *h)
{
	if (h->state == ROUTING_BREAKER_OPEN || isnan(h->smoothed_rtt_ms))
		return false;
	if (geoshard_health_degraded_ms > 0 && h->smoothed_rtt_ms > geoshard_health_degraded_ms)
		return true;
	return geoshard_health_degraded_factor > 0 &&
		h->baseline_samples >= HEALTH_BASELINE_SAMPLES &&
		h->smoothed_rtt_ms > geoshard_health_degraded_factor *
		Max(h->baseline_rtt_ms, HEALTH_BASELINE_FLOOR_MS);
}

/*
 * A round trip far above the baseline does not feed it, even while the
 * smoothed one is not degraded yet: a slow spell never becomes its own
 * baseline.
 */
static bool
HealthIsBaselineOutlier(const HealthRegion *h, double rtt_ms)
{
	return geoshard_health_degraded_factor > 0 && h->baseline_samples > 0 &&
		rtt_ms > geoshard_health_degraded_factor * Max(h->baseline_rtt_ms, HEALTH_BASELINE_FLOOR_MS);
}

static void
HealthRegionReset(HealthRegion *h, const char *id, TimestampTz now)
{
	memset(h, 0, sizeof(HealthRegion));
	strlcpy(h->id, id, ROUTING_NAME_LEN);
	h->state = ROUTING_BREAKER_CLOSED;
	h->last_rtt_ms = get_float8_nan();
	h->smoothed_rtt_ms = get_float8_nan();
	h->baseline_rtt_ms = get_float8_nan();
	h->since = now;
}

/*
 * Copy endpoint into out (outlen bytes) with passwords replaced by ***: the
 * password of a URL's user:password@, and the value of every password=
 * (conninfo strings, and URI query parameters).  Truncated to fit.
 */
static void
HealthMaskEndpoint(const char *endpoint, char *out, size_t outlen)
{
	StringInfoData buf;
	const char *p = endpoint;
	const char *scheme = strstr(endpoint, "://");

	initStringInfo(&buf);
	if (scheme != NULL)
	{
		const char *authority = scheme + 3;
		size_t		len = strcspn(authority, "/?#");
		const char *at = NULL;
		const char *colon;

		for (const char *q = authority; q < authority + len; q++)
			if (*q == '@')
				at = q;
		colon = at != NULL ? memchr(authority, ':', at - authority) : NULL;
		if (colon != NULL)
		{
			appendBinaryStringInfo(&buf, endpoint, colon + 1 - endpoint);
			appendStringInfoString(&buf, "***");
			p = at;
		}
	}
	while (*p)
	{
		if (pg_strncasecmp(p, "password", 8) == 0 &&
			(p == endpoint || !isalnum((unsigned char) p[-1])))
		{
			const char *q = p + 8;

			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '=')
			{
				q++;
				while (*q == ' ' || *q == '\t')
					q++;
				appendBinaryStringInfo(&buf, p, q - p);
				appendStringInfoString(&buf, "***");
				if (*q == '\'')
				{
					for (q++; *q && *q != '\''; q++)
						if (*q == '\\' && q[1])
							q++;
					if (*q)
						q++;
				}
				else
					q += strcspn(q, " \t&");
				p = q;
				continue;
			}
		}
		appendStringInfoChar(&buf, *p++);
	}
	strlcpy(out, buf.data, outlen);
	pfree(buf.data);
}

/* on exit of the worker: nobody is left to wake */
static void
HealthWorkerDetach(int code, Datum arg)
{
	LWLockAcquire(health_shared->lock, LW_EXCLUSIVE);
	health_shared->worker_latch = NULL;
	LWLockRelease(health_shared->lock);
	ConditionVariableBroadcast(&health_shared->round_done);
}

/* The health worker announces itself, so that probe_now can wake it. */
void
HealthWorkerAttach(void)
{
	HealthRequireShared();
	LWLockAcquire(health_shared->lock, LW_EXCLUSIVE);
	health_shared->worker_latch = MyLatch;
	LWLockRelease(health_shared->lock);
	before_shmem_exit(HealthWorkerDetach, (Datum) 0);
}

/* Are the breakers fresh from a server start, so that health_events must rebuild them? */
bool
HealthNeedsRestore(void)
{
	bool		needs;

	LWLockAcquire(health_shared->lock, LW_SHARED);
	needs = !health_shared->restored;
	LWLockRelease(health_shared->lock);
	return needs;
}

/*
 * Rebuild one region from its latest row in health_events (after
 * HealthSync).  Passing a NULL region only marks the restore done.
 */
void
HealthRestore(const char *region, RoutingBreaker state, bool forced)
{
	TimestampTz now = GetCurrentTimestamp();
	HealthRegion *h;

	LWLockAcquire(health_shared->lock, LW_EXCLUSIVE);
	health_shared->restored = true;
	h = region != NULL ? HealthFind(region) : NULL;
	if (h != NULL)
	{
		if (forced)
		{
			h->forced = (uint8) (state + 1);
			h->logged_forced = h->forced;
			h->forced_at = now;
		}
		else if (h->probed)
		{
			/* an open region stays open until probes say otherwise */
			h->state = (uint8) state;
			h->opened_at = state == ROUTING_BREAKER_OPEN ? now : 0;
			h->half_open_at = now + (TimestampTz) geoshard_breaker_cooldown * 1000;
		}
		h->since = now;
	}
	LWLockRelease(health_shared->lock);
}

/*
 * Make the entries match the catalogue: targets are every region, sorted
 * by id.  Kept regions keep their state; a region no longer probed falls
 * back to closed (its forced state, if any, stays).
 */
void
HealthSync(const HealthTarget *targets, int ntargets)
{
	HealthRegion *next = palloc(sizeof(HealthRegion) * ROUTING_MAX_REGIONS);
	TimestampTz now = GetCurrentTimestamp();

	char	  **masked = palloc(sizeof(char *) * Max(ntargets, 1));

	Assert(ntargets <= ROUTING_MAX_REGIONS);
	/* masked before the lock: it allocates */
	for (int i = 0; i < ntargets; i++)
	{
		masked[i] = palloc(HEALTH_ENDPOINT_LEN);
		HealthMaskEndpoint(targets[i].configured ? targets[i].configured : "", masked[i],
						   HEALTH_ENDPOINT_LEN);
	}
	LWLockAcquire(health_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < ntargets; i++)
	{
		HealthRegion *old = HealthFind(targets[i].region);
		HealthRegion *h = &next[i];
		bool		probed = targets[i].endpoint != NULL;

		if (old != NULL)
			memcpy(h, old, sizeof(HealthRegion));
		else
			HealthRegionReset(h, targets[i].region, now);
		/* another endpoint: another normal round trip */
		if (old != NULL && strcmp(old->endpoint, masked[i]) != 0)
		{
			h->baseline_rtt_ms = get_float8_nan();
			h->baseline_samples = 0;
		}
		h->has_endpoint = targets[i].configured != NULL;
		strlcpy(h->endpoint, masked[i], HEALTH_ENDPOINT_LEN);
		if (!probed && h->probed)
		{
			uint8		forced = h->forced;
			uint8		logged = h->logged_forced;
			TimestampTz forced_at = h->forced_at;
			bool		changes = h->state != ROUTING_BREAKER_CLOSED && forced == HEALTH_AUTO;
			TimestampTz since = h->since;
			HealthCounters counters = h->counters;

			HealthRegionReset(h, targets[i].region, changes ? now : since);
			h->counters = counters;
			h->has_endpoint = targets[i].configured != NULL;
			strlcpy(h->endpoint, masked[i], HEALTH_ENDPOINT_LEN);
			h->forced = forced;
			h->logged_forced = logged;
			h->forced_at = forced_at;
		}
		h->probed = probed;
	}
	memcpy(health_shared->regions, next, sizeof(HealthRegion) * ntargets);
	health_shared->nregions = ntargets;
	LWLockRelease(health_shared->lock);
	pfree(next);
	for (int i = 0; i < ntargets; i++)
		pfree(masked[i]);
	pfree(masked);
}

static int
HealthCooldownMs(const HealthRegion *h)
{
	int64		ms = (int64) geoshard_breaker_cooldown << h->cooldown_level;

	return (int) Min(ms, (int64) PG_INT32_MAX);
}

/* Queue a transition of h for health_events; returns the new count. */
static int
HealthAddEvent(HealthEvent *events, int nevents, int maxevents, HealthRegion *h,
			   RoutingBreaker from, RoutingBreaker to, HealthReason reason, TimestampTz at)
{
	HealthEvent *e;

	h->counters.transitions[to]++;
	if (nevents >= maxevents)
		return nevents;
	e = &events[nevents];
	strlcpy(e->region, h->id, ROUTING_NAME_LEN);
	e->from = from;
	e->to = to;
	e->reason = reason;
	strlcpy(e->error, reason == HEALTH_REASON_FAILURES || reason == HEALTH_REASON_HALF_OPEN_FAILURE ?
			h->last_error : "", HEALTH_ERROR_LEN);
	e->rtt_ms = h->last_rtt_ms;
	e->at = at;
	return nevents + 1;
}

/* Move h's measured state to "to", as of now. */
static int
HealthTransition(HealthRegion *h, RoutingBreaker to, HealthReason reason, TimestampTz now,
				 HealthEvent *events, int nevents, int maxevents)
{
	RoutingBreaker from = (RoutingBreaker) h->state;

	if (to == ROUTING_BREAKER_OPEN)
	{
		int64		stable_us = (int64) geoshard_breaker_cooldown * 1000 * HEALTH_STABLE_COOLDOWNS;

		/* damping: a region that did not stay closed for the stable period flaps */
		if (h->opened_at != 0 && now - h->opened_at < stable_us + ((int64) HealthCooldownMs(h) * 1000))
			h->cooldown_level = Min(h->cooldown_level + 1, HEALTH_MAX_COOLDOWN_LEVEL);
		else
			h->cooldown_level = 0;
		h->opened_at = now;
		h->half_open_at = now + (TimestampTz) HealthCooldownMs(h) * 1000;
	}
	h->state = (uint8) to;
	h->consecutive_failures = 0;
	h->consecutive_successes = 0;
	if (h->forced == HEALTH_AUTO)
		h->since = now;
	return HealthAddEvent(events, nevents, maxevents, h, from, to, reason, now);
}

/* Put a successful probe's round trip in the histogram. */
static void
HealthCountRtt(HealthCounters *counters, double rtt_s)
{
	for (int b = 0; b < HEALTH_RTT_BUCKETS; b++)
		if (rtt_s <= HealthRttBucketBounds[b])
		{
			counters->rtt_buckets[b]++;
			break;
		}
	counters->rtt_sum_s += rtt_s;
}

/*
 * Apply one round's results (results[i] belongs to targets[i]; unprobed
 * targets have none), time-based transitions and forced changes; fill
 * events with the transitions and return their number.  Computes panic
 * mode and says so in the log when it starts or ends.
 */
int
HealthApplyResults(const HealthTarget *targets, const HealthResult *results, int ntargets,
				   HealthEvent *events, int maxevents)
{
	TimestampTz now = GetCurrentTimestamp();
	int			nevents = 0;
	int			probed = 0;
	int			healthy = 0;
	bool		was_panic;
	bool		panic;

	LWLockAcquire(health_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < ntargets; i++)
	{
		HealthRegion *h = HealthFind(targets[i].region);
		const HealthResult *r = &results[i];

		if (h == NULL || !h->probed || targets[i].endpoint == NULL)
			continue;

		h->last_probe = now;
		h->last_up = r->up;
		strlcpy(h->last_error, r->up ? "" : r->error, HEALTH_ERROR_LEN);
		h->last_rtt_ms = r->up ? r->rtt_ms : get_float8_nan();
		h->counters.probes++;
		if (r->up)
			HealthCountRtt(&h->counters, r->rtt_ms / 1000.0);
		else
			h->counters.failures++;
		if (r->up)
		{
			h->smoothed_rtt_ms = isnan(h->smoothed_rtt_ms) ? r->rtt_ms :
				HEALTH_RTT_ALPHA * r->rtt_ms + (1.0 - HEALTH_RTT_ALPHA) * h->smoothed_rtt_ms;
			h->consecutive_successes++;
			h->consecutive_failures = 0;
		}
		else
		{
			h->consecutive_failures++;
			h->consecutive_successes = 0;
		}

		switch ((RoutingBreaker) h->state)
		{
			case ROUTING_BREAKER_CLOSED:
				if (h->consecutive_failures >= geoshard_breaker_failures)
					nevents = HealthTransition(h, ROUTING_BREAKER_OPEN, HEALTH_REASON_FAILURES,
											   now, events, nevents, maxevents);
				break;
			case ROUTING_BREAKER_HALF_OPEN:
				if (!r->up)
					nevents = HealthTransition(h, ROUTING_BREAKER_OPEN, HEALTH_REASON_HALF_OPEN_FAILURE,
											   now, events, nevents, maxevents);
				else if (h->consecutive_successes >= geoshard_breaker_successes)
					nevents = HealthTransition(h, ROUTING_BREAKER_CLOSED, HEALTH_REASON_SUCCESSES,
											   now, events, nevents, maxevents);
				break;
			case ROUTING_BREAKER_OPEN:
				/* the cooldown decides, below; probes only keep the figures current */
				break;
		}
		if (h->state == ROUTING_BREAKER_OPEN && now >= h->half_open_at)
			nevents = HealthTransition(h, ROUTING_BREAKER_HALF_OPEN, HEALTH_REASON_COOLDOWN,
									   now, events, nevents, maxevents);

		h->degraded = HealthIsDegraded(h);
		if (r->up && h->state == ROUTING_BREAKER_CLOSED && !h->degraded)
		{
			if (!HealthIsBaselineOutlier(h, r->rtt_ms))
				h->baseline_rtt_ms = isnan(h->baseline_rtt_ms) ? r->rtt_ms :
					HEALTH_BASELINE_ALPHA * r->rtt_ms + (1.0 - HEALTH_BASELINE_ALPHA) * h->baseline_rtt_ms;
			/* outliers count towards the warm-up: a few slow ones must not postpone it forever */
			if (h->baseline_samples < HEALTH_BASELINE_SAMPLES)
				h->baseline_samples++;
		}

		probed++;
		if (h->state == ROUTING_BREAKER_CLOSED)
			healthy++;
	}

	/* forced changes made by set_region_breaker since the last round */
	for (int i = 0; i < health_shared->nregions; i++)
	{
		HealthRegion *h = &health_shared->regions[i];

		if (h->forced != h->logged_forced)
		{
			RoutingBreaker from = h->logged_forced != HEALTH_AUTO ?
				(RoutingBreaker) (h->logged_forced - 1) : (RoutingBreaker) h->state;

			nevents = HealthAddEvent(events, nevents, maxevents, h, from, HealthEffective(h),
									 h->forced != HEALTH_AUTO ? HEALTH_REASON_FORCED : HEALTH_REASON_AUTO,
									 h->forced_at);
			h->logged_forced = h->forced;
		}
	}

	was_panic = health_shared->panic;
	panic = geoshard_health_panic_threshold > 0 && probed > 0 &&
		healthy * 100 < geoshard_health_panic_threshold * probed;
	health_shared->panic = panic;
	LWLockRelease(health_shared->lock);

	if (panic && !was_panic)
		ereport(WARNING,
				(errmsg("geoshard health entered panic mode: %d of %d probed regions are healthy", healthy, probed),
				 errdetail("Fewer than geoshard.health_panic_threshold (%d%%) of the probed regions are healthy, so routing ignores the circuit breakers that are not forced.",
						   geoshard_health_panic_threshold),
				 errhint("Check the network of this server first: the regions may be fine.")));
	else if (!panic && was_panic)
		ereport(WARNING,
				(errmsg("geoshard health left panic mode: %d of %d probed regions are healthy", healthy, probed)));
	return nevents;
}

/*
 * geoshard.health_enabled went off: every measured state falls back to
 * closed (forced states stay), panic mode ends.
 */
int
HealthDisable(HealthEvent *events, int maxevents)
{
	TimestampTz now = GetCurrentTimestamp();
	int			nevents = 0;
	bool		was_panic;

	LWLockAcquire(health_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < health_shared->nregions; i++)
	{
		HealthRegion *h = &health_shared->regions[i];

		if (h->state != ROUTING_BREAKER_CLOSED)
			nevents = HealthTransition(h, ROUTING_BREAKER_CLOSED, HEALTH_REASON_DISABLED,
									   now, events, nevents, maxevents);
		h->degraded = false;
	}
	was_panic = health_shared->panic;
	health_shared->panic = false;
	LWLockRelease(health_shared->lock);
	if (was_panic)
		ereport(WARNING,
				(errmsg("geoshard health left panic mode: geoshard.health_enabled is off")));
	return nevents;
}

/* The latest probe_now ticket; the round starting now serves it. */
uint64
HealthRoundRequested(void)
{
	uint64		requested;

	LWLockAcquire(health_shared->lock, LW_SHARED);
	requested = health_shared->round_requested;
	LWLockRelease(health_shared->lock);
	return requested;
}

/* A round that started after ticket "request" was handed out is over. */
void
HealthRoundServed(uint64 request)
{
	LWLockAcquire(health_shared->lock, LW_EXCLUSIVE);
	if (request > health_shared->round_served)
		health_shared->round_served = request;
	LWLockRelease(health_shared->lock);
	ConditionVariableBroadcast(&health_shared->round_done);
}

static int
HealthCompareIds(const void *a, const void *b)
{
	return strcmp(((const RoutingHealth *) a)->id, ((const RoutingHealth *) b)->id);
}

/* Copy the effective states into the routing table, where route_region reads them. */
void
HealthPublish(void)
{
	RoutingHealth *health = palloc(sizeof(RoutingHealth) * ROUTING_MAX_REGIONS);
	int			n;
	bool		panic;

	LWLockAcquire(health_shared->lock, LW_SHARED);
	n = health_shared->nregions;
	panic = health_shared->panic;
	for (int i = 0; i < n; i++)
	{
		const HealthRegion *h = &health_shared->regions[i];

		strlcpy(health[i].id, h->id, ROUTING_NAME_LEN);
		health[i].breaker = (uint8) (h->forced == HEALTH_AUTO && panic ?
									 ROUTING_BREAKER_CLOSED : HealthEffective(h));
		health[i].degraded = h->degraded;
	}
	LWLockRelease(health_shared->lock);

	qsort(health, n, sizeof(RoutingHealth), HealthCompareIds);
	RoutingPublishHealth(health, n, panic);
	pfree(health);
}

/* geoshard.set_region_breaker(region, state): force a breaker, or hand it back with 'auto' */
PG_FUNCTION_INFO_V1(set_region_breaker);
Datum
set_region_breaker(PG_FUNCTION_ARGS)
{
	char	   *region = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	uint8		forced;
	HealthRegion *h;

	if (strcmp(name, "auto") == 0)
		forced = HEALTH_AUTO;
	else if (strcmp(name, "closed") == 0)
		forced = ROUTING_BREAKER_CLOSED + 1;
	else if (strcmp(name, "half_open") == 0)
		forced = ROUTING_BREAKER_HALF_OPEN + 1;
	else if (strcmp(name, "open") == 0)
		forced = ROUTING_BREAKER_OPEN + 1;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized circuit breaker state: \"%s\"", name),
				 errhint("Use open, closed, half_open or auto.")));

	RoutingRequireShared();
	if (!RoutingHasRegion(region))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("region \"%s\" does not exist", region),
				 errhint("List regions with: SELECT * FROM geoshard.regions.")));

	LWLockAcquire(health_shared->lock, LW_EXCLUSIVE);
	h = HealthFind(region);
	if (h == NULL && health_shared->nregions < ROUTING_MAX_REGIONS)
	{
		/* the worker has not seen the region yet; its next round keeps this entry */
		h = &health_shared->regions[health_shared->nregions++];
		HealthRegionReset(h, region, GetCurrentTimestamp());
	}
	if (h != NULL && h->forced != forced)
	{
		RoutingBreaker before = HealthEffective(h);

		h->forced = forced;
		h->forced_at = GetCurrentTimestamp();
		if (HealthEffective(h) != before)
			h->since = h->forced_at;
	}
	LWLockRelease(health_shared->lock);

	HealthPublish();
	PG_RETURN_VOID();
}

/* geoshard.region_health_state(): the breakers as the health worker keeps them */
PG_FUNCTION_INFO_V1(region_health_state);
Datum
region_health_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HealthRegion *regions;
	int			n;
	bool		panic;

	InitMaterializedSRF(fcinfo, 0);
	if (health_shared == NULL)
		return (Datum) 0;

	regions = palloc(sizeof(HealthRegion) * ROUTING_MAX_REGIONS);
	LWLockAcquire(health_shared->lock, LW_SHARED);
	n = health_shared->nregions;
	panic = health_shared->panic;
	memcpy(regions, health_shared->regions, sizeof(HealthRegion) * n);
	LWLockRelease(health_shared->lock);

	for (int i = 0; i < n; i++)
	{
		HealthRegion *h = &regions[i];
		Datum		values[16];
		bool		nulls[16] = {0};

		values[0] = CStringGetTextDatum(h->id);
		values[1] = CStringGetTextDatum(h->endpoint);
		nulls[1] = !h->has_endpoint;
		values[2] = CStringGetTextDatum(RoutingBreakerName(HealthEffective(h)));
		values[3] = BoolGetDatum(h->degraded);
		values[4] = BoolGetDatum(h->forced != HEALTH_AUTO);
		values[5] = BoolGetDatum(h->probed);
		values[6] = Int32GetDatum(h->consecutive_failures);
		values[7] = Int32GetDatum(h->consecutive_successes);
		values[8] = Float8GetDatum(h->last_rtt_ms);
		nulls[8] = isnan(h->last_rtt_ms);
		values[9] = Float8GetDatum(h->smoothed_rtt_ms);
		nulls[9] = isnan(h->smoothed_rtt_ms);
		values[10] = CStringGetTextDatum(h->last_error);
		nulls[10] = h->last_error[0] == '\0';
		values[11] = TimestampTzGetDatum(h->last_probe);
		nulls[11] = h->last_probe == 0;
		values[12] = TimestampTzGetDatum(h->since);
		values[13] = Int32GetDatum(HealthCooldownMs(h));
		values[14] = BoolGetDatum(panic);
		values[15] = Float8GetDatum(h->baseline_rtt_ms);
		nulls[15] = isnan(h->baseline_rtt_ms);
		/* under 0.3's definition, without baseline_rtt_ms, the last value is left out */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* geoshard.probe_now(region): run a round now and return the region's result */
PG_FUNCTION_INFO_V1(probe_now);
Datum
probe_now(PG_FUNCTION_ARGS)
{
	char	   *region = text_to_cstring(PG_GETARG_TEXT_PP(0));
	long		bound_ms = 2L * geoshard_health_timeout + HEALTH_PROBE_NOW_SLACK_MS;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), bound_ms);
	TupleDesc	desc;
	Latch	   *latch;
	uint64		ticket;
	HealthRegion h;
	bool		found;
	Datum		values[4];
	bool		nulls[4] = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	HealthRequireShared();
	if (!geoshard_health_enabled)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("health checks are disabled"),
				 errhint("Set geoshard.health_enabled to on and reload the configuration.")));

	LWLockAcquire(health_shared->lock, LW_EXCLUSIVE);
	latch = health_shared->worker_latch;
	ticket = ++health_shared->round_requested;
	LWLockRelease(health_shared->lock);
	if (latch == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the geoshard health worker is not running"),
				 errhint("Check the server log; the postmaster restarts the worker a few seconds after it exits.")));
	SetLatch(latch);

	ConditionVariablePrepareToSleep(&health_shared->round_done);
	for (;;)
	{
		bool		served;
		long		left;

		LWLockAcquire(health_shared->lock, LW_SHARED);
		served = health_shared->round_served >= ticket;
		latch = health_shared->worker_latch;
		LWLockRelease(health_shared->lock);
		if (served)
			break;
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (latch == NULL || left <= 0)
		{
			ConditionVariableCancelSleep();
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the geoshard health worker did not finish a round within %ld ms", bound_ms),
					 errhint("Check the server log for the health worker.")));
		}
		(void) ConditionVariableTimedSleep(&health_shared->round_done, left, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();

	LWLockAcquire(health_shared->lock, LW_SHARED);
	{
		HealthRegion *p = HealthFind(region);

		found = p != NULL;
		if (found)
			memcpy(&h, p, sizeof(HealthRegion));
	}
	LWLockRelease(health_shared->lock);

	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("region \"%s\" does not exist", region),
				 errhint("List regions with: SELECT * FROM geoshard.regions.")));
	if (!h.probed)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("region \"%s\" is not probed", region),
				 errdetail("Only enabled regions with an endpoint are probed."),
				 errhint("Set its endpoint with geoshard.update_region.")));

	values[0] = BoolGetDatum(h.last_up);
	values[1] = Float8GetDatum(h.last_rtt_ms);
	nulls[1] = isnan(h.last_rtt_ms);
	values[2] = CStringGetTextDatum(h.last_error);
	nulls[2] = h.last_error[0] == '\0';
	values[3] = CStringGetTextDatum(RoutingBreakerName(HealthEffective(&h)));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * Copy every region's state and totals into out (room for
 * ROUTING_MAX_REGIONS), for geoshard.metrics; returns their number, 0
 * without shared memory.
 */
int
HealthMetricsCopy(HealthRegionMetrics *out, bool *panic)
{
	int			n;

	*panic = false;
	if (health_shared == NULL)
		return 0;
	LWLockAcquire(health_shared->lock, LW_SHARED);
	n = health_shared->nregions;
	*panic = health_shared->panic;
	for (int i = 0; i < n; i++)
	{
		const HealthRegion *h = &health_shared->regions[i];

		memcpy(out[i].id, h->id, ROUTING_NAME_LEN);
		out[i].state = (uint8) HealthEffective(h);
		out[i].degraded = h->degraded;
		out[i].forced = h->forced != HEALTH_AUTO;
		out[i].probed = h->probed;
		out[i].counters = h->counters;
	}
	LWLockRelease(health_shared->lock);
	return n;
}
