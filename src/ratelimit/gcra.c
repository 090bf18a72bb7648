/*
 * src/ratelimit/gcra.c
 *	  The generic cell rate algorithm (GCRA) that rate_limit() decides with,
 *	  and the clock it reads.
 *
 * GCRA keeps one number per key, its theoretical arrival time (TAT): the
 * moment at which the key would be full again if nothing else came.  With an
 * emission interval T = 1 / rate and a window W = burst x T, a request of
 * cost c arriving at "now" is allowed when
 *
 *		max(TAT, now) + c x T - now <= W
 *
 * and then TAT becomes max(TAT, now) + c x T.  A refused request changes
 * nothing.  There is no refill to run: time passing is the refill, so a key
 * costs one comparison and one store, whatever its rate.  This is the token
 * bucket seen from the other side (the bucket holds (W - (TAT - now)) / T
 * tokens), and the algorithm redis-cell and the Go "throttled" package use,
 * except that burst here counts every request a full key lets through at
 * once (redis-cell's max_burst is one less).
 *
 * Worked example, 0.5 per second, burst 2 (T = 2 s, W = 4 s), at t = 0 on a
 * fresh key: request 1 passes (TAT = 2 s), request 2 passes (TAT = 4 s),
 * request 3 would need TAT = 6 s, 6 s > 0 + 4 s, so it is refused with
 * retry_after 2 s.  At t = 2 s, 4 + 2 - 2 = 4 <= 4: it passes (TAT = 6 s).
 *
 * Times are int64 nanoseconds on CLOCK_MONOTONIC, so the arithmetic is exact
 * and a decision never depends on floating-point rounding.
 */
#include "postgres.h"

#include <time.h>

#include "ratelimit/gcra.h"

/*
 * Nanoseconds on CLOCK_MONOTONIC.
 *
 * The wall clock (GetCurrentTimestamp) may be stepped by an administrator or
 * by NTP: a step back would refuse every key until the clock caught up
 * again, which may be hours, and a step forward would refill every key at
 * once.  CLOCK_MONOTONIC never steps: NTP only slews its rate by a few parts
 * per million.  It is one clock for the whole machine, so every backend
 * reads the same time, and it restarts from zero only at boot, when shared
 * memory is gone anyway.  It stands still while the machine is suspended,
 * which leaves keys as they were rather than refilling them: the safe
 * direction for a limiter.  PostgreSQL's instr_time reads the same clock.
 * On Linux it is a vDSO call of about 20 ns.
 */
int64
GcraNow(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		elog(ERROR, "clock_gettime(CLOCK_MONOTONIC) failed: %m");
	return (int64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Decide one request of limit->cost at "now" on a key whose stored TAT is
 * "tat" (now for a key not seen before, or forgotten).
 *
 * The stored TAT is clamped to now + W of this call's limit before use: a key
 * can never be emptier than empty.  That bounds how long a key stays refused
 * to W of the limit asked for now, even when an earlier call used a much
 * slower rate or a larger burst on the same key.
 */
void
GcraDecide(const GcraLimit *limit, int64 tat, int64 now, GcraDecision *out)
{
	int64		start;

	if (tat < now)
		start = now;
	else if (tat - now > limit->window)
		start = now + limit->window;
	else
		start = tat;

	out->new_tat = start;
	out->changed = false;
	out->reset_after = start - now;

	/* more than a full key holds can never pass, and costs nothing */
	if (limit->cost > limit->burst)
	{
		out->allowed = false;
		out->remaining = (int32) ((limit->window - (start - now)) / limit->interval);
		out->retry_after = -1;
		return;
	}

	/* cost <= burst and burst x interval = window, so this cannot overflow */
	if (start + limit->cost * limit->interval - now <= limit->window)
	{
		out->allowed = true;
		out->changed = limit->cost > 0;
		out->new_tat = start + limit->cost * limit->interval;
		out->remaining = (int32) ((limit->window - (out->new_tat - now)) / limit->interval);
		out->retry_after = 0;
		out->reset_after = out->new_tat - now;
	}
	else
	{
		out->allowed = false;
		out->remaining = (int32) ((limit->window - (start - now)) / limit->interval);
		out->retry_after = start + limit->cost * limit->interval - limit->window - now;
	}
}
