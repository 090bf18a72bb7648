/*
 * src/observe/metrics.c
 *	  The table of every area's metric families, and the geoshard.metrics
 *	  view that shows them in SQL.
 *
 * A metrics reader (a backend running the view, the metrics worker) first
 * takes a snapshot, in a backend, of every area that has one: each area's
 * snapshot function copies, under the area's own LWLock, what its families
 * need.  The emit functions then turn the snapshot and the lock-free shared
 * counters into families and samples for a sink: a tuplestore here, the
 * Prometheus text format in exposition.c.  Emit functions run in the
 * metrics worker's HTTP thread too, so they take no LWLock, allocate
 * nothing with palloc and never raise an error.
 *
 * Each area has one row here and its families documented in
 * docs/observe.md.  An area whose figures sit behind an LWLock copies them
 * in its snapshot function (metrics_<area>.c); an area that counts on a
 * hot path adds counters to counters.h's ObserveCounter and reads them with
 * ObserveSum().
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "observe/metrics.h"

static const MetricsArea areas[] = {
	{"routing", RoutingMetricsSnapshotSize, RoutingMetricsSnapshot, RoutingMetricsEmit},
	{"health", HealthMetricsSnapshotSize, HealthMetricsSnapshot, HealthMetricsEmit},
	{"raft", RaftMetricsSnapshotSize, RaftMetricsSnapshot, RaftMetricsEmit},
	{"cdc", CdcMetricsSnapshotSize, CdcMetricsSnapshot, CdcMetricsEmit},
	{"redisview", RedisViewMetricsSnapshotSize, RedisViewMetricsSnapshot, RedisViewMetricsEmit},
	{"ratelimit", RateLimitMetricsSnapshotSize, RateLimitMetricsSnapshot, RateLimitMetricsEmit},
};

/* Bytes of a snapshot of every area. */
Size
MetricsSnapshotSize(void)
{
	Size		size = 0;

	for (int i = 0; i < (int) lengthof(areas); i++)
		if (areas[i].snapshot_size != NULL)
			size = add_size(size, MAXALIGN(areas[i].snapshot_size()));
	return Max(size, 1);
}

/* In a backend: every area's snapshot, one after the other. */
void
MetricsTakeSnapshot(void *snapshot)
{
	char	   *p = snapshot;

	for (int i = 0; i < (int) lengthof(areas); i++)
		if (areas[i].snapshot_size != NULL)
		{
			areas[i].snapshot(p);
			p += MAXALIGN(areas[i].snapshot_size());
		}
}

/* In any thread: the part of a snapshot that belongs to an area, or NULL. */
const void *
MetricsAreaSnapshot(const void *snapshot, const char *area)
{
	const char *p = snapshot;

	for (int i = 0; i < (int) lengthof(areas); i++)
	{
		if (areas[i].snapshot_size == NULL)
			continue;
		if (strcmp(areas[i].name, area) == 0)
			return p;
		p += MAXALIGN(areas[i].snapshot_size());
	}
	return NULL;
}

/* In any thread: every area's families, from a snapshot. */
void
MetricsEmit(MetricsSink *sink, const void *snapshot)
{
	const char *p = snapshot;

	for (int i = 0; i < (int) lengthof(areas); i++)
	{
		areas[i].emit(sink, areas[i].snapshot_size != NULL ? p : NULL);
		if (areas[i].snapshot_size != NULL)
			p += MAXALIGN(areas[i].snapshot_size());
	}
}

const char *
MetricTypeName(MetricType type)
{
	switch (type)
	{
		case METRIC_COUNTER:
			return "counter";
		case METRIC_GAUGE:
			return "gauge";
		case METRIC_HISTOGRAM:
			return "histogram";
	}
	return "untyped";
}

/* a sink that appends rows to the view's tuplestore */
typedef struct SqlSink
{
	MetricsSink sink;
	ReturnSetInfo *rsinfo;
	const char *name;			/* the current family */
	MetricType	type;
	const char *help;
} SqlSink;

static void
SqlSinkFamily(MetricsSink *sink, const char *name, MetricType type, const char *help)
{
	SqlSink    *s = (SqlSink *) sink;

	s->name = name;
	s->type = type;
	s->help = help;
}

static void
SqlSinkSample(MetricsSink *sink, const char *suffix, const MetricLabel *labels, int nlabels,
			  double value)
{
	SqlSink    *s = (SqlSink *) sink;
	StringInfoData buf;
	Datum		values[5];
	bool		nulls[5] = {0};

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < nlabels; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, labels[i].name);
		appendStringInfoChar(&buf, ':');
		escape_json(&buf, labels[i].value);
	}
	appendStringInfoChar(&buf, '}');

	values[0] = CStringGetTextDatum(psprintf("%s%s", s->name, suffix));
	values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
	values[2] = CStringGetTextDatum(MetricTypeName(s->type));
	values[3] = Float8GetDatum(value);
	values[4] = CStringGetTextDatum(s->help);
	tuplestore_putvalues(s->rsinfo->setResult, s->rsinfo->setDesc, values, nulls);
}

/* geoshard.metrics_values(): every sample of every area, for the view geoshard.metrics */
PG_FUNCTION_INFO_V1(metrics_values);
Datum
metrics_values(PG_FUNCTION_ARGS)
{
	SqlSink		sink;
	void	   *snapshot = palloc0(MetricsSnapshotSize());

	InitMaterializedSRF(fcinfo, 0);
	MetricsTakeSnapshot(snapshot);

	memset(&sink, 0, sizeof(sink));
	sink.sink.family = SqlSinkFamily;
	sink.sink.sample = SqlSinkSample;
	sink.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MetricsEmit(&sink.sink, snapshot);
	return (Datum) 0;
}
