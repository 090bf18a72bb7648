/*
 * src/ratelimit/rate_limit.c
 *	  SQL functions of rate limiting: rate_limit(), rate_limit_info() and the
 *	  usage behind geoshard.rate_limit_usage.
 *
 * Arguments are checked here, before any lock is taken; the decision itself
 * is GcraDecide (gcra.c) on the key's entry in the shared table
 * (rate_limit_table.c).  Every function needs geoshard in
 * shared_preload_libraries, since the table lives in shared memory.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "ratelimit/gcra.h"
#include "ratelimit/rate_limit_table.h"

static void
RateLimitRequireShared(void)
{
	if (!RateLimitAttached())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("geoshard is not loaded through shared_preload_libraries"),
				 errdetail("Rate limits are kept in shared memory."),
				 errhint("Add geoshard to shared_preload_libraries and restart the server.")));
}

static void
RateLimitNotNull(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rate limit %s must not be null", name)));
}

/*
 * Check the arguments (key text, per_second float8, burst int4, cost int4) and
 * turn them into a limit.  Returns the detoasted key, which *key points into.
 */
static text *
RateLimitArgs(FunctionCallInfo fcinfo, const char **key, int *keylen, GcraLimit *limit)
{
	text	   *key_text;
	double		per_second;
	double		interval;
	int32		burst;
	int32		cost;

	RateLimitNotNull(fcinfo, 0, "key");
	RateLimitNotNull(fcinfo, 1, "per_second");
	RateLimitNotNull(fcinfo, 2, "burst");
	RateLimitNotNull(fcinfo, 3, "cost");
	key_text = PG_GETARG_TEXT_PP(0);
	per_second = PG_GETARG_FLOAT8(1);
	burst = PG_GETARG_INT32(2);
	cost = PG_GETARG_INT32(3);

	*key = VARDATA_ANY(key_text);
	*keylen = VARSIZE_ANY_EXHDR(key_text);
	if (*keylen > RATE_LIMIT_KEY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate limit key is too long: %d bytes", *keylen),
				 errdetail("A key may have at most %d bytes.", RATE_LIMIT_KEY_MAX),
				 errhint("Hash longer keys, for example with md5().")));

	if (isnan(per_second) || isinf(per_second) || per_second <= 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate limit per_second must be a positive finite number: %s",
						float8out_internal(per_second))));
	if (per_second > GCRA_MAX_RATE)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("rate limit per_second %s is out of range", float8out_internal(per_second)),
				 errdetail("A rate may be at most %.0f per second.", GCRA_MAX_RATE)));
	if (burst < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate limit burst must be at least 1: %d", burst)));
	if (cost < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate limit cost must not be negative: %d", cost)));

	/* in double first: a tiny rate makes an interval no int64 holds */
	interval = rint(1e9 / per_second);
	if (interval * burst > (double) GCRA_MAX_WINDOW_NS)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("rate limit window of %s seconds is out of range",
						float8out_internal(burst / per_second)),
				 errdetail("The window, burst / per_second, may span at most %lld seconds (ten years).",
						   (long long) (GCRA_MAX_WINDOW_NS / 1000000000)),
				 errhint("Use a higher rate or a smaller burst.")));

	limit->interval = (int64) interval;
	limit->burst = burst;
	limit->window = limit->interval * burst;
	limit->cost = cost;
	return key_text;
}

/* rate_limit(key, per_second, burst, cost): may this request of cost pass now? */
PG_FUNCTION_INFO_V1(rate_limit);
Datum
rate_limit(PG_FUNCTION_ARGS)
{
	text	   *key_text;
	const char *key;
	int			keylen;
	GcraLimit	limit;
	GcraDecision decision;

	RateLimitRequireShared();
	key_text = RateLimitArgs(fcinfo, &key, &keylen, &limit);
	RateLimitApply(key, keylen, &limit, &decision);
	PG_FREE_IF_COPY(key_text, 0);
	PG_RETURN_BOOL(decision.allowed);
}

/*
 * rate_limit_info(key, per_second, burst, cost): the same decision, with
 * remaining, retry_after and reset_after in seconds (redis-cell's
 * CL.THROTTLE); retry_after is 0 when allowed and infinity when the cost
 * exceeds the burst.
 */
PG_FUNCTION_INFO_V1(rate_limit_info);
Datum
rate_limit_info(PG_FUNCTION_ARGS)
{
	text	   *key_text;
	const char *key;
	int			keylen;
	GcraLimit	limit;
	GcraDecision decision;
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	RateLimitRequireShared();
	key_text = RateLimitArgs(fcinfo, &key, &keylen, &limit);
	RateLimitApply(key, keylen, &limit, &decision);
	PG_FREE_IF_COPY(key_text, 0);

	values[0] = BoolGetDatum(decision.allowed);
	values[1] = Int32GetDatum(decision.remaining);
	values[2] = Float8GetDatum(decision.retry_after < 0 ? get_float8_infinity() :
							   decision.retry_after / 1e9);
	values[3] = Float8GetDatum(decision.reset_after / 1e9);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/* geoshard.rate_limit_usage_state(): one row on the table's use, for operators */
PG_FUNCTION_INFO_V1(rate_limit_usage_state);
Datum
rate_limit_usage_state(PG_FUNCTION_ARGS)
{
	RateLimitUsage usage;
	TupleDesc	desc;
	Datum		values[7];
	bool		nulls[7] = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	RateLimitRequireShared();
	RateLimitUsageGet(&usage);

	values[0] = Int64GetDatum(usage.capacity);
	values[1] = Int64GetDatum(usage.entries);
	values[2] = Int64GetDatum(usage.active);
	values[3] = Int64GetDatum(usage.evictions);
	values[4] = Int64GetDatum(usage.recycled);
	values[5] = Int64GetDatum(usage.allowed);
	values[6] = Int64GetDatum(usage.denied);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
