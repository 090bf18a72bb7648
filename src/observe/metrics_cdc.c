/*
 * src/observe/metrics_cdc.c
 *	  The cdc area's metric families per sink: events published and
 *	  skipped, failed passes, how long and how many WAL bytes the sink is
 *	  behind, the WAL its slot retains, and the last round trip to its Redis.
 *
 * The snapshot copies the cdc worker's published figures (cdc_status.c,
 * CdcStatusCopy) under the cdc lock, in a backend, and turns behind_since
 * into seconds there; emitting reads only the copy (metrics.h).  The WAL
 * figures come from the sink's replication slot in shared memory, read as
 * pg_replication_slots reads it (ReplicationSlotControlLock shared, then
 * the slot's spinlock): no SQL, and the slot is always as fresh as the
 * snapshot, whatever the cdc worker is doing.
 */
#include "postgres.h"

#include <math.h>

#include "access/xlog.h"
#include "replication/slot.h"
#include "storage/spin.h"

#include "observe/metrics.h"

/*
 * The restart and confirmed positions of the replication slot named name;
 * false when there is no such slot.
 */
static bool
CdcSlotPositions(const char *name, XLogRecPtr *restart, XLogRecPtr *confirmed)
{
	bool		found = false;

	if (ReplicationSlotCtl == NULL || name[0] == '\0')
		return false;
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots && !found; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];

		if (!slot->in_use)
			continue;
		SpinLockAcquire(&slot->mutex);
		if (strcmp(NameStr(slot->data.name), name) == 0)
		{
			*restart = slot->data.restart_lsn;
			*confirmed = slot->data.confirmed_flush;
			found = true;
		}
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);
	return found;
}

/* a - b in bytes, 0 when b is unknown or ahead */
static uint64
CdcWalDistance(XLogRecPtr a, XLogRecPtr b)
{
	return XLogRecPtrIsInvalid(b) || b >= a ? 0 : a - b;
}

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
		s->state = (int) sinks[i].state;
		s->lag_s = sinks[i].behind_since == 0 || now <= sinks[i].behind_since ? 0.0 :
			(double) (now - sinks[i].behind_since) / USECS_PER_SEC;
		s->rtt_s = sinks[i].rtt_ms / 1000.0;
		s->published = sinks[i].published;
		s->skipped = sinks[i].skipped;
		s->errors = sinks[i].errors;
		s->has_slot = false;
		if (!RecoveryInProgress())
		{
			XLogRecPtr	restart;
			XLogRecPtr	confirmed;

			s->has_slot = CdcSlotPositions(sinks[i].slot, &restart, &confirmed);
			if (s->has_slot)
			{
				s->lag_bytes = CdcWalDistance(GetFlushRecPtr(NULL), confirmed);
				s->retained_bytes = CdcWalDistance(GetXLogWriteRecPtr(), restart);
			}
		}
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

	sink->family(sink, "geoshard_cdc_lag_bytes", METRIC_GAUGE,
				 "WAL bytes between the sink's slot and the flush position (0 when caught up); no sample without a slot.");
	for (int i = 0; i < snap->nsinks; i++)
	{
		if (!snap->sinks[i].has_slot)
			continue;
		label.value = snap->sinks[i].sink;
		sink->sample(sink, "", &label, 1, (double) snap->sinks[i].lag_bytes);
	}

	sink->family(sink, "geoshard_cdc_retained_wal_bytes", METRIC_GAUGE,
				 "WAL bytes the sink's slot keeps on disk (from its restart point to the write position); no sample without a slot.");
	for (int i = 0; i < snap->nsinks; i++)
	{
		if (!snap->sinks[i].has_slot)
			continue;
		label.value = snap->sinks[i].sink;
		sink->sample(sink, "", &label, 1, (double) snap->sinks[i].retained_bytes);
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
