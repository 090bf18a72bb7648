/*
 * src/observe/metrics_cdc.c
 *	  The cdc area's metric families per sink: events published and
 *	  skipped, failed passes, how long the sink has been behind, and the last round trip
 *	  to its Redis.
 *
 * The snapshot copies the cdc worker's published figures (cdc_status.c,
 * CdcStatusCopy) under the cdc lock, in a backend, and turns behind_since
 * into seconds there; emitting reads only the copy (metrics.h).  The
 * shared figures hold no WAL byte lag or retained WAL, so there are no
 * families for them.
 */
#include "postgres.h"

#include <math.h>

#include "observe/metrics.h"

Size
CdcMetricsSnapshotSize(void)
{
	return sizeof(CdcSnapshot);
}

void
CdcMetricsSnapshot(void *snapshot)
{
	CdcSnapshot *snap = snapshot;
	CdcSinkStatus *sinks = palloc(sizeof(CdcSinkStatus) * CDC_MAX_SINKS);
	TimestampTz now = GetCurrentTimestamp();

	snap->nsinks = CdcStatusCopy(sinks);
	for (int i = 0; i < snap->nsinks; i++)
	{
		CdcSnapshotSink *s = &snap->sinks[i];

		strlcpy(s->sink, sinks[i].sink, NAMEDATALEN);
		s->lag_s = sinks[i].behind_since == 0 || now <= sinks[i].behind_since ? 0.0 :
			(double) (now - sinks[i].behind_since) / USECS_PER_SEC;
		s->rtt_s = sinks[i].rtt_ms / 1000.0;
		s->published = sinks[i].published;
		s->skipped = sinks[i].skipped;
		s->errors = sinks[i].errors;
	}
	pfree(sinks);
}

void
CdcMetricsEmit(MetricsSink *sink, const void *snapshot)
{
	const CdcSnapshot *snap = snapshot;
	MetricLabel label = {"sink", NULL};

	sink->family(sink, "geoshard_cdc_events_published_total", METRIC_COUNTER,
				 "Events the cdc worker added to the sink's Redis streams since it started.");
	for (int i = 0; i < snap->nsinks; i++)
	{
		label.value = snap->sinks[i].sink;
		sink->sample(sink, "", &label, 1, (double) snap->sinks[i].published);
	}

	sink->family(sink, "geoshard_cdc_events_skipped_total", METRIC_COUNTER,
				 "Events the cdc worker did not add because the sink's Redis already held them, since it started.");
	for (int i = 0; i < snap->nsinks; i++)
	{
		label.value = snap->sinks[i].sink;
		sink->sample(sink, "", &label, 1, (double) snap->sinks[i].skipped);
	}

	sink->family(sink, "geoshard_cdc_errors_total", METRIC_COUNTER,
				 "Passes of the sink that failed (each one ends in a retry after a backoff), since the worker started.");
	for (int i = 0; i < snap->nsinks; i++)
	{
		label.value = snap->sinks[i].sink;
		sink->sample(sink, "", &label, 1, (double) snap->sinks[i].errors);
	}

	sink->family(sink, "geoshard_cdc_lag_seconds", METRIC_GAUGE,
				 "Seconds since the sink has had WAL left to publish, 0 when it is caught up.");
	for (int i = 0; i < snap->nsinks; i++)
	{
		label.value = snap->sinks[i].sink;
		sink->sample(sink, "", &label, 1, snap->sinks[i].lag_s);
	}

	sink->family(sink, "geoshard_cdc_redis_rtt_seconds", METRIC_GAUGE,
				 "The last round trip to the sink's Redis, in seconds; no sample before the first.");
	for (int i = 0; i < snap->nsinks; i++)
	{
		if (isnan(snap->sinks[i].rtt_s))
			continue;
		label.value = snap->sinks[i].sink;
		sink->sample(sink, "", &label, 1, snap->sinks[i].rtt_s);
	}
}
