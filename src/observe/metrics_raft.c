/*
 * src/observe/metrics_raft.c
 *	  The raft area's metric families: this node's term, commit and applied
 *	  index, the leader it knows, whether it leads, how often the leader
 *	  changed, and its link to each peer (also for the status page's
 *	  members).
 *
 * The snapshot copies what the raft worker publishes (raft_shmem.h) under
 * the raft lock, in a backend; emitting reads only the copy (metrics.h).
 * A node in no raft group has no samples.
 */
#include "postgres.h"

#include <stdio.h>

#include <raft.h>

#include "observe/metrics.h"
#include "raft/raft_shmem.h"

Size
RaftMetricsSnapshotSize(void)
{
	StaticAssertStmt(RAFT_SNAPSHOT_PEERS == RAFT_MAX_PEERS, "the snapshot holds every raft peer");
	return sizeof(RaftSnapshot);
}

void
RaftMetricsSnapshot(void *snapshot)
{
	RaftSnapshot *snap = snapshot;

	memset(snap, 0, sizeof(RaftSnapshot));
	if (raft_shared == NULL)
		return;
	LWLockAcquire(raft_shared->lock, LW_SHARED);
	snap->in_group = raft_shared->in_group;
	snap->is_leader = raft_shared->state == RAFT_LEADER;
	snap->state = raft_shared->state;
	snap->term = raft_shared->term;
	snap->commit_index = raft_shared->commit_index;
	snap->applied_index = raft_shared->applied_index;
	snap->leader = raft_shared->leader;
	snap->leader_changes = raft_shared->leader_changes;
	snap->node_id = raft_shared->node_id;
	snap->npeers = Min(raft_shared->npeers, RAFT_SNAPSHOT_PEERS);
	for (int i = 0; i < snap->npeers; i++)
	{
		snap->peers[i].id = raft_shared->peers[i].id;
		snap->peers[i].connected = raft_shared->peers[i].connected;
		snap->peers[i].last_rtt_s = Max(raft_shared->peers[i].last_rtt_ms, 0.0) / 1000.0;
	}
	LWLockRelease(raft_shared->lock);
}

/* one family with one unlabelled sample, when the node is in a group */
static void
RaftEmitOne(MetricsSink *sink, const RaftSnapshot *snap, const char *name,
			MetricType type, const char *help, double value)
{
	sink->family(sink, name, type, help);
	if (snap->in_group)
		sink->sample(sink, "", NULL, 0, value);
}

void
RaftMetricsEmit(MetricsSink *sink, const void *snapshot)
{
	const RaftSnapshot *snap = snapshot;

	RaftEmitOne(sink, snap, "geoshard_raft_term", METRIC_GAUGE,
				"The Raft term this node is in.", (double) snap->term);
	RaftEmitOne(sink, snap, "geoshard_raft_commit_index", METRIC_GAUGE,
				"The index of the last Raft log entry this node knows committed.",
				(double) snap->commit_index);
	RaftEmitOne(sink, snap, "geoshard_raft_applied_index", METRIC_GAUGE,
				"The index of the last Raft log entry this node applied.",
				(double) snap->applied_index);
	RaftEmitOne(sink, snap, "geoshard_raft_leader", METRIC_GAUGE,
				"The node id of the Raft leader this node knows, 0 when it knows none.",
				(double) snap->leader);
	RaftEmitOne(sink, snap, "geoshard_raft_is_leader", METRIC_GAUGE,
				"1 while this node is the Raft leader, else 0.", snap->is_leader ? 1.0 : 0.0);
	RaftEmitOne(sink, snap, "geoshard_raft_leader_changes_total", METRIC_COUNTER,
				"Times this node learnt of a leader other than the last one it knew, the first one included.",
				(double) snap->leader_changes);

	sink->family(sink, "geoshard_raft_peer_connected", METRIC_GAUGE,
				 "1 while this node has a connection to the Raft peer, else 0.");
	for (int i = 0; snap->in_group && i < snap->npeers; i++)
	{
		char		id[32];
		MetricLabel label = {"peer", id};

		snprintf(id, sizeof(id), UINT64_FORMAT, snap->peers[i].id);
		sink->sample(sink, "", &label, 1, snap->peers[i].connected ? 1.0 : 0.0);
	}

	sink->family(sink, "geoshard_raft_peer_rtt_seconds", METRIC_GAUGE,
				 "The last round trip of a Raft message to the peer, in seconds; no sample before the first.");
	for (int i = 0; snap->in_group && i < snap->npeers; i++)
	{
		char		id[32];
		MetricLabel label = {"peer", id};

		if (snap->peers[i].last_rtt_s <= 0)
			continue;
		snprintf(id, sizeof(id), UINT64_FORMAT, snap->peers[i].id);
		sink->sample(sink, "", &label, 1, snap->peers[i].last_rtt_s);
	}
}
