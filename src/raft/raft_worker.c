/*
 * src/raft/raft_worker.c
 *	  The "geoshard raft" background worker: one libraft instance driven
 *	  through raft_step, with storage, transport and timing in our hands.
 *
 * libraft decides; this file only carries out its updates, in the order
 * Raft's safety needs (docs/raft.md, shared/toolchain.md):
 *
 *  1. term, vote and new entries are written to geoshard.raft_state and
 *     geoshard.raft_log in one transaction with synchronous_commit forced on;
 *  2. only then are the update's messages sent to the peers, and the
 *     entries reported back with RAFT_PERSISTED_ENTRIES; but a leader's
 *     AppendEntries for entries it appends (with no new term or vote in the
 *     update) leave before that transaction, so that the followers store
 *     them while the leader does: libraft counts the leader's own copy
 *     toward a majority only after RAFT_PERSISTED_ENTRIES;
 *  3. committed entries are applied in log order, after the messages that
 *     committed them are answered, each batch with its
 *     applied_index in the same transaction, so each applies exactly once;
 *     that transaction does not wait for its WAL flush: the entries are
 *     durable already, and an apply lost in a crash is redone at restart.
 *
 * The worker keeps the log in memory too (the send path reads it for
 * AppendEntries), from the entry after the last compaction.  Once the
 * applied log has grown geoshard.raft_snapshot_threshold entries beyond the
 * last snapshot, the worker writes a snapshot of the replicated tables
 * (raft_snapshot.c), truncates the stored and the cached log but for
 * geoshard.raft_snapshot_trailing entries, and tells libraft (RAFT_SNAPSHOT).
 * A leader whose log no longer reaches a follower sends it the snapshot, in
 * chunks (raft_transport.c); the follower joins them, steps the whole
 * InstallSnapshot, installs it (tables, snapshot, applied index and an empty
 * log in one transaction) and reports RAFT_PERSISTED_SNAPSHOT.  The applied
 * index is never behind the snapshot.  Its
 * loop waits on its latch (raft_exchange, raft_receive and proposing backends set it), the
 * peers' sockets and libraft's next timeout.  Never inside a transaction is
 * raft_step called: every unit of database work is opened and closed around
 * one update.
 */
#include "postgres.h"

#include <time.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include <raft.h>

#include "core/guc.h"
#include "core/worker.h"
#include "raft/raft_call.h"
#include "raft/raft_message.h"
#include "raft/raft_shmem.h"
#include "raft/raft_snapshot.h"
#include "raft/raft_storage.h"
#include "raft/raft_transport.h"
#include "raft/raft_worker.h"

/* how often a worker in no group looks for stored state without being woken */
#define RAFT_IDLE_RECHECK_MS 5000

static struct raft raft;
static bool started = false;
static RaftHardState hard_state;
static uint64 applied = 0;		/* index applied to the tables */
static TimestampTz last_contact = 0;
static bool not_member_logged = false;

/* the stored log, entry i at log_entries[i - log_first] */
static MemoryContext log_cxt = NULL;
static RaftLogEntry *log_entries = NULL;
static uint64 log_first = 1;
static uint64 log_n = 0;
static uint64 log_cap = 0;

/*
 * The last snapshot (index 0: none) and, once it had to be sent, its data;
 * and the chunks of a snapshot being received (inbound_from 0: none).
 */
static MemoryContext snap_cxt = NULL;
static RaftSnapshotMeta snap;
static char *snap_data = NULL;
static uint64 snap_len = 0;
static uint64 inbound_from = 0;
static RaftSnapshotChunk inbound_head;
static StringInfoData inbound;

static void handle_update(struct raft_update *update);

/* Milliseconds on a clock that never goes backwards, as libraft needs. */
static uint64
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64) ts.tv_sec * 1000 + (uint64) ts.tv_nsec / 1000000;
}

/* Route libraft's diagnostics to the server log. */
static void
trace_emit(struct raft_tracer *t, int type, const void *info)
{
	const struct raft_tracer_info *i = info;
	int			level;

	if (type != RAFT_TRACER_DIAGNOSTIC || i == NULL || i->version < 1)
		return;
	level = i->diagnostic.level <= 2 ? LOG : DEBUG2;
	if (!message_level_is_interesting(level))
		return;
	ereport(level, (errmsg_internal("geoshard raft: %s", i->diagnostic.message)));
}

static struct raft_tracer tracer = {NULL, 2, trace_emit};

/* Open and close a unit of work, coming back to the context we were in. */
static void
begin_work(const char *what)
{
	if (!GeoshardWorkerBeginWork(what))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension geoshard disappeared under the raft worker")));
}

static void
end_work(MemoryContext back)
{
	GeoshardWorkerEndWork();
	MemoryContextSwitchTo(back);
}

static uint64
log_last(void)
{
	return log_first + log_n - 1;
}

/* The cached entry at index, NULL when it is not (or no longer) stored. */
static RaftLogEntry *
log_at(uint64 index)
{
	if (index < log_first || index > log_last())
		return NULL;
	return &log_entries[index - log_first];
}

/* The term of the entry at index, 0 when neither log nor snapshot knows it. */
static uint64
term_at(uint64 index)
{
	RaftLogEntry *le = log_at(index);

	if (le)
		return le->term;
	return index == snap.index ? snap.term : 0;
}

/* Entries for outgoing AppendEntries, from the cached log. */
static bool
lookup_entry(raft_index index, struct raft_entry *e)
{
	RaftLogEntry *le = log_at(index);

	if (le == NULL)
		return false;
	e->term = le->term;
	e->type = le->type;
	e->buf.base = le->data;
	e->buf.len = le->len;
	e->batch = NULL;
	return true;
}

/* Mirror what RaftStorageAppend stored. */
static void
cache_store(uint64 index, const struct raft_entry *entries, unsigned n)
{
	if (index < log_first || index > log_last() + 1)
		elog(ERROR, "raft stored entries from %llu, outside the cached log %llu..%llu",
			 (unsigned long long) index, (unsigned long long) log_first,
			 (unsigned long long) log_last());
	for (uint64 i = index; i <= log_last(); i++)
		pfree(log_at(i)->data);
	log_n = index - log_first;
	if (log_n + n > log_cap)
	{
		uint64		cap = Max(log_cap * 2, log_n + n + 64);

		log_entries = repalloc_huge(log_entries, sizeof(RaftLogEntry) * cap);
		log_cap = cap;
	}
	for (unsigned k = 0; k < n; k++)
	{
		RaftLogEntry *le = &log_entries[log_n++];

		le->term = entries[k].term;
		le->type = entries[k].type;
		le->len = (uint32) entries[k].buf.len;
		le->data = MemoryContextAlloc(log_cxt, Max(le->len, 1));
		memcpy(le->data, entries[k].buf.base, le->len);
	}
}

/* Step libraft with one event and carry out its update. */
static int
step(struct raft_event *event)
{
	struct raft_update update;
	int			rv;

	event->time = now_ms();
	event->capacity = 0;
	rv = raft_step(&raft, event, &update);
	if (rv != 0)
		return rv;
	handle_update(&update);
	return 0;
}

/* Tell proposing backends about entries applied or lost. */
static void
notify_proposals(void)
{
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RAFT_PROPOSAL_SLOTS; i++)
	{
		RaftProposal *p = &raft_shared->proposals[i];

		if (p->state == RAFT_SLOT_SUBMITTED && p->kind == RAFT_PROPOSE_TRANSFER)
		{
			raft_id		leader;
			const char *leader_address;

			raft_leader(&raft, &leader, &leader_address);
			if (leader == p->node_id)
				p->state = RAFT_SLOT_DONE;
			else if (raft_state(&raft) == RAFT_LEADER && raft_transferee(&raft) == 0)
			{
				p->state = RAFT_SLOT_FAILED;
				snprintf(p->error, RAFT_ERROR_BYTES,
						 "node %llu did not take over within the election timeout",
						 (unsigned long long) p->node_id);
			}
			else
				continue;
			if (p->abandoned)
			{
				p->state = RAFT_SLOT_FREE;
				RaftSlotFreed();
			}
			else if (p->latch)
				SetLatch(p->latch);
			continue;
		}
		if (p->state != RAFT_SLOT_SUBMITTED || p->index == 0 || applied < p->index)
			continue;
		if (term_at(p->index) == p->term)
			p->state = RAFT_SLOT_DONE;
		else
		{
			p->state = RAFT_SLOT_FAILED;
			snprintf(p->error, RAFT_ERROR_BYTES,
					 "leadership changed before the entry at index %llu committed",
					 (unsigned long long) p->index);
		}
		if (p->abandoned)
		{
			p->state = RAFT_SLOT_FREE;
			RaftSlotFreed();
		}
		else if (p->latch)
			SetLatch(p->latch);
	}
	LWLockRelease(raft_shared->lock);
}

/* Apply the committed entries we have not applied yet, in log order. */
static void
apply_committed(void)
{
	uint64		target = Min(raft_commit_index(&raft), log_last());
	uint64		from = applied + 1;
	MemoryContext cxt = CurrentMemoryContext;

	if (target <= applied)
		return;
	if (from < log_first)
		elog(ERROR, "raft entries from %llu are to be applied but the log starts at %llu",
			 (unsigned long long) from, (unsigned long long) log_first);

	begin_work("applying raft entries");
	RaftStorageNoSync();
	/* the guard triggers on the replicated tables let this process through */
	RaftStorageApplying = true;
	for (uint64 i = from; i <= target; i++)
	{
		RaftLogEntry *le = log_at(i);

		if (le->type == RAFT_COMMAND)
			RaftStorageApplyCommand(i, le->data, le->len);
		else if (le->type == RAFT_CHANGE)
		{
			struct raft_buffer buf = {le->data, le->len};
			struct raft_configuration conf;

			raft_configuration_init(&conf);
			if (raft_configuration_decode(&buf, &conf) != 0)
				elog(ERROR, "raft entry %llu holds an undecodable configuration",
					 (unsigned long long) i);
			RaftStorageApplyConfiguration(&conf);
			raft_configuration_close(&conf);
		}
	}
	RaftStorageSetApplied(target);
	RaftStorageApplying = false;
	end_work(cxt);
	applied = target;
	RaftCallApplied(applied);	/* wakes backends waiting to read their writes */

	/* libraft learns of committed configurations from us (it owns conf) */
	for (uint64 i = from; i <= target; i++)
	{
		RaftLogEntry *le = log_at(i);
		struct raft_event ev;
		struct raft_buffer buf = {le->data, le->len};
		int			rv;

		if (le->type != RAFT_CHANGE)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.type = RAFT_CONFIGURATION;
		ev.configuration.index = i;
		raft_configuration_init(&ev.configuration.conf);
		if (raft_configuration_decode(&buf, &ev.configuration.conf) != 0)
			elog(ERROR, "raft entry %llu holds an undecodable configuration", (unsigned long long) i);
		rv = step(&ev);
		if (rv != 0)
			elog(ERROR, "raft rejected the committed configuration at index %llu: %s",
				 (unsigned long long) i, raft_errmsg(&raft));
	}
	RaftTransportSync(&raft.configuration);
	notify_proposals();
}

/*
 * Make meta the last snapshot (its conf copied).  Its data stays in the
 * table until a follower needs it (send_snapshot): most nodes never send.
 */
static void
remember_snapshot(const RaftSnapshotMeta *meta)
{
	char	   *conf = MemoryContextAlloc(snap_cxt, Max(meta->conf_len, 1));

	memcpy(conf, meta->conf, meta->conf_len);
	if (snap.conf)
		pfree(snap.conf);
	if (snap_data)
		pfree(snap_data);
	snap = *meta;
	snap.conf = conf;
	snap_data = NULL;
	snap_len = 0;
}

/* Forget the cached entries before keep_from. */
static void
compact_log(uint64 keep_from)
{
	uint64		drop;

	if (keep_from <= log_first)
		return;
	drop = Min(keep_from - log_first, log_n);
	for (uint64 i = 0; i < drop; i++)
		pfree(log_entries[i].data);
	memmove(log_entries, log_entries + drop, sizeof(RaftLogEntry) * (log_n - drop));
	log_n -= drop;
	log_first += drop;
}

/*
 * Take a snapshot once the applied log has grown past the threshold: store
 * it and truncate the stored log in one transaction, then tell libraft and
 * truncate the cached log alike (libraft keeps the same trailing entries).
 */
static void
maybe_take_snapshot(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	uint64		trailing = (uint64) geoshard_raft_snapshot_trailing;
	uint64		keep_from = applied > trailing ? applied - trailing + 1 : 1;
	RaftSnapshotMeta meta;
	struct raft_buffer buf;
	struct raft_event ev;
	char	   *data;
	uint64		len;
	int			rv;

	if (applied < snap.index + (uint64) geoshard_raft_snapshot_threshold)
		return;

	/* the configuration as of the applied index: the last one up to it */
	memset(&meta, 0, sizeof(meta));
	for (uint64 i = applied; i >= log_first && i > snap.index; i--)
	{
		RaftLogEntry *le = log_at(i);

		if (le->type == RAFT_CHANGE)
		{
			meta.conf_index = i;
			meta.conf = le->data;
			meta.conf_len = le->len;
			break;
		}
	}
	if (meta.conf_index == 0)
	{
		if (snap.index == 0)
			elog(ERROR, "raft log up to %llu holds no configuration", (unsigned long long) applied);
		meta.conf_index = snap.conf_index;
		meta.conf = snap.conf;
		meta.conf_len = snap.conf_len;
	}
	meta.index = applied;
	meta.term = term_at(applied);

	begin_work("taking a raft snapshot");
	RaftStorageForceSync();
	data = RaftSnapshotBuild(&len, cxt);
	RaftSnapshotStore(&meta, data, len, keep_from);
	end_work(cxt);

	memset(&ev, 0, sizeof(ev));
	ev.type = RAFT_SNAPSHOT;
	ev.snapshot.metadata.index = meta.index;
	ev.snapshot.metadata.term = meta.term;
	ev.snapshot.metadata.configuration_index = meta.conf_index;
	ev.snapshot.trailing = (unsigned) trailing;
	buf.base = meta.conf;
	buf.len = meta.conf_len;
	raft_configuration_init(&ev.snapshot.metadata.configuration);
	if (raft_configuration_decode(&buf, &ev.snapshot.metadata.configuration) != 0)
		elog(ERROR, "raft configuration at index %llu does not decode", (unsigned long long) meta.conf_index);
	remember_snapshot(&meta);
	pfree(data);
	rv = step(&ev);
	if (rv != 0)
		elog(ERROR, "raft refused the snapshot at index %llu: %s",
			 (unsigned long long) meta.index, raft_errmsg(&raft));
	compact_log(keep_from);
	ereport(LOG,
			(errmsg("geoshard raft took a snapshot at index %llu (term %llu, %llu bytes); the log now holds entries %llu to %llu (%llu in memory)",
					(unsigned long long) snap.index, (unsigned long long) snap.term,
					(unsigned long long) len, (unsigned long long) log_first,
					(unsigned long long) log_last(), (unsigned long long) log_n)));
}

/*
 * Install the snapshot libraft received (RAFT_UPDATE_SNAPSHOT): tables,
 * snapshot, applied index and an emptied log in one transaction; the caller
 * then reports RAFT_PERSISTED_SNAPSHOT.
 */
static void
install_snapshot(struct raft_update *update)
{
	MemoryContext cxt = CurrentMemoryContext;
	struct raft_snapshot_metadata *m = &update->snapshot.metadata;
	RaftSnapshotMeta meta;
	struct raft_buffer conf;
	uint64		len = update->snapshot.chunk.len;
	const char *data;

	if (raft_configuration_encode(&m->configuration, &conf) != 0)
		elog(ERROR, "could not encode the configuration of a received raft snapshot");
	meta.index = m->index;
	meta.term = m->term;
	meta.conf_index = m->configuration_index;
	meta.conf = conf.base;
	meta.conf_len = (uint32) conf.len;
	data = update->snapshot.chunk.base;

	begin_work("installing a raft snapshot");
	RaftStorageForceSync();
	RaftSnapshotInstall(&meta, data, len);
	end_work(cxt);

	remember_snapshot(&meta);
	raft_free(update->snapshot.chunk.base);
	raft_free(conf.base);
	compact_log(log_last() + 1);
	log_first = meta.index + 1;
	applied = meta.index;
	RaftCallApplied(applied);	/* entries it covers count as applied here */
	ereport(LOG,
			(errmsg("geoshard raft installed a snapshot at index %llu (term %llu, %llu bytes)",
					(unsigned long long) meta.index, (unsigned long long) meta.term,
					(unsigned long long) len)));
}

/* Send our snapshot for libraft's InstallSnapshot (it carries no data). */
static void
send_snapshot(const struct raft_message *msg)
{
	const struct raft_install_snapshot *a = &msg->install_snapshot;
	RaftSnapshotChunk head;

	if (a->last_index != snap.index || snap.index == 0)
	{
		ereport(LOG,
				(errmsg("geoshard raft has no snapshot at index %llu to send to node %llu",
						(unsigned long long) a->last_index, (unsigned long long) msg->server_id)));
		return;
	}
	if (snap_data == NULL)
	{
		MemoryContext cxt = CurrentMemoryContext;

		begin_work("loading the raft snapshot");
		snap_data = RaftSnapshotLoadData(snap.index, &snap_len, snap_cxt);
		end_work(cxt);
	}
	memset(&head, 0, sizeof(head));
	head.term = a->term;
	head.last_index = snap.index;
	head.last_term = snap.term;
	head.conf_index = snap.conf_index;
	head.conf = snap.conf;
	head.conf_len = snap.conf_len;
	head.total = snap_len;
	if (RaftTransportQueueSnapshot(msg->server_id, msg->server_address, &head, snap_data))
		ereport(LOG,
				(errmsg("geoshard raft sends its snapshot at index %llu (%llu bytes) to node %llu",
						(unsigned long long) snap.index, (unsigned long long) snap_len,
						(unsigned long long) msg->server_id)));
}

/*
 * Queue the update's messages (serialized now: libraft reuses the array at
 * its next step) and start sending them at once, without waiting for the end
 * of the loop: a leader's AppendEntries then travel while it persists the
 * entries, and a follower's acknowledgement leaves before it applies.
 */
static void
queue_messages(struct raft_update *update)
{
	for (unsigned i = 0; i < update->messages.n; i++)
	{
		if (update->messages.batch[i].type == RAFT_INSTALL_SNAPSHOT)
			send_snapshot(&update->messages.batch[i]);
		else
			RaftTransportQueue(&update->messages.batch[i]);
	}
	if (update->messages.n > 0)
		RaftTransportPump(now_ms(), false);
}

/*
 * A follower applies committed entries (and answers a proposal made there)
 * only once it knows the commit index, which libraft sends with the next
 * AppendEntries: with the next entries, or up to a heartbeat interval later.
 * So once the commit index has stayed put for RAFT_ANNOUNCE_DELAY_MS, the
 * leader tells each follower that holds every committed entry but was not
 * sent that commit index yet, in a heartbeat of its own making (valid Raft:
 * this term, an entry the follower has, at its match index with our term
 * for it, and our commit index).  The delay leaves the announcing to the
 * next proposal's AppendEntries while proposals keep coming.  But a
 * follower that forwarded a committed entry is told at once, and alone:
 * its caller waits until that follower applied it.
 */
#define RAFT_ANNOUNCE_DELAY_MS 2

static uint64 announce_at = 0;	/* ms; 0: nothing to announce */
static bool announce_to_forwarders = false;

/*
 * Entries followers forwarded (a proposal slot's origin), while a leader,
 * until the follower was sent a commit index that covers the entry; when all
 * are taken, the lowest entry makes room.
 */
typedef struct ForwardedEntry
{
	uint64		node;			/* 0: unused */
	uint64		index;
} ForwardedEntry;

static ForwardedEntry forwarded[RAFT_PROPOSAL_SLOTS];

static bool
in_configuration(uint64 node)
{
	for (unsigned i = 0; i < raft.configuration.n; i++)
		if (raft.configuration.servers[i].id == node)
			return true;
	return false;
}

/*
 * Forget entries the follower was sent a commit index for, and those of a
 * node not in the group: once forgotten, a reconnection (which sends the
 * commit index again) cannot bring them back.
 */
static void
sweep_forwarded(void)
{
	for (int i = 0; i < RAFT_PROPOSAL_SLOTS; i++)
	{
		ForwardedEntry *f = &forwarded[i];

		if (f->node != 0 &&
			(RaftTransportCommitSent(f->node) >= f->index || !in_configuration(f->node)))
			f->node = 0;
	}
}

static void
remember_forwarded(uint64 node, uint64 index)
{
	int			room = 0;

	sweep_forwarded();
	for (int i = 0; i < RAFT_PROPOSAL_SLOTS; i++)
	{
		if (forwarded[i].node == 0)
		{
			room = i;
			break;
		}
		if (forwarded[i].index < forwarded[room].index)
			room = i;
	}
	forwarded[room].node = node;
	forwarded[room].index = index;
}

/* Does node wait for the commit index of an entry it forwarded? */
static bool
forwarder_waits(uint64 node)
{
	uint64		commit = raft_commit_index(&raft);

	for (int i = 0; i < RAFT_PROPOSAL_SLOTS; i++)
		if (forwarded[i].node == node && forwarded[i].index <= commit &&
			RaftTransportCommitSent(node) < forwarded[i].index)
			return true;
	return false;
}

static bool
needs_commit(const struct raft_server *s, raft_index *match)
{
	uint64		commit = raft_commit_index(&raft);

	return s->id != raft.id && s->role != RAFT_SPARE &&
		raft_match_index(&raft, s->id, match) == 0 && *match >= commit &&
		term_at(*match) != 0 && RaftTransportCommitSent(s->id) < commit;
}

/*
 * After each update of a leader: (re)arm the announcements when needed; a
 * moved commit index restarts the delay.
 */
static void
arm_announce(bool commit_moved)
{
	bool		needed = false;

	sweep_forwarded();
	for (unsigned i = 0; i < raft.configuration.n; i++)
	{
		const struct raft_server *s = &raft.configuration.servers[i];
		raft_index	match;

		if (!needs_commit(s, &match))
			continue;
		needed = true;
		if (forwarder_waits(s->id))
			announce_to_forwarders = true;
	}
	if (commit_moved || (announce_at == 0 && needed))
		announce_at = now_ms() + RAFT_ANNOUNCE_DELAY_MS;
}

/*
 * Send the commit index to the followers that need it; forwarders_only: to
 * those of them that wait for an entry they forwarded.
 */
static void
announce_commit(bool forwarders_only)
{
	bool		queued = false;

	if (raft_state(&raft) != RAFT_LEADER)
		return;
	for (unsigned i = 0; i < raft.configuration.n; i++)
	{
		const struct raft_server *s = &raft.configuration.servers[i];
		struct raft_message m;
		raft_index	match;

		if (!needs_commit(s, &match) || (forwarders_only && !forwarder_waits(s->id)))
			continue;
		memset(&m, 0, sizeof(m));
		m.type = RAFT_APPEND_ENTRIES;
		m.server_id = s->id;
		m.server_address = s->address;
		m.append_entries.term = raft_current_term(&raft);
		m.append_entries.prev_log_index = match;
		m.append_entries.prev_log_term = term_at(match);
		m.append_entries.leader_commit = raft_commit_index(&raft);
		RaftTransportQueue(&m);
		queued = true;
	}
	if (queued)
		RaftTransportPump(now_ms(), false);
}

/* Make the announcements that are due. */
static void
announce_due(void)
{
	if (announce_to_forwarders)
	{
		announce_to_forwarders = false;
		announce_commit(true);
	}
	if (announce_at != 0 && now_ms() >= announce_at)
	{
		announce_at = 0;
		announce_commit(false);
	}
}

/* Carry out one update of raft_step, in the order Raft's safety needs. */
static void
handle_update(struct raft_update *update)
{
	unsigned	flags = update->flags;
	bool		hard = (flags & (RAFT_UPDATE_CURRENT_TERM | RAFT_UPDATE_VOTED_FOR)) != 0;
	bool		entries = (flags & RAFT_UPDATE_ENTRIES) != 0 && update->entries.n > 0;
	bool		snapshot = (flags & RAFT_UPDATE_SNAPSHOT) != 0;
	bool		entries_cached = false;	/* sent before they were stored */
	/* the stored log holds entries from there on: a conflicting suffix */
	bool		overwrite = entries && update->entries.index <= log_last();
	struct raft_snapshot_metadata snapshot_meta;
	uint64		persisted = 0;

	/*
	 * A leader sends its new entries while it persists them (Raft allows it:
	 * libraft counts the leader's own copy toward a majority only once
	 * RAFT_PERSISTED_ENTRIES reports it durable, below).  The send path reads
	 * the cached log, so the entries go there first.  Not with a new term or
	 * vote, which must be durable before any message of its update leaves;
	 * and never on a follower, whose acknowledgement libraft only emits after
	 * RAFT_PERSISTED_ENTRIES.
	 */
	if (entries && !hard && raft_state(&raft) == RAFT_LEADER)
	{
		cache_store(update->entries.index, update->entries.batch, update->entries.n);
		if (flags & RAFT_UPDATE_MESSAGES)
			queue_messages(update);
		flags &= ~RAFT_UPDATE_MESSAGES;
		entries_cached = true;
	}

	if (hard || entries)
	{
		MemoryContext cxt = CurrentMemoryContext;

		begin_work("persisting raft state");
		RaftStorageForceSync();
		if (hard)
			RaftStorageSaveHardState(raft_current_term(&raft), raft_voted_for(&raft));
		if (entries)
			RaftStorageAppend(update->entries.index, update->entries.batch, update->entries.n,
							  overwrite);
		end_work(cxt);
		if (entries)
		{
			if (!entries_cached)
				cache_store(update->entries.index, update->entries.batch, update->entries.n);
			persisted = update->entries.index + update->entries.n - 1;
			raft_free(update->entries.batch[0].batch);
		}
	}

	if (snapshot)
	{
		snapshot_meta = update->snapshot.metadata;
		install_snapshot(update);
	}

	if (flags & RAFT_UPDATE_MESSAGES)
		queue_messages(update);

	if (flags & RAFT_UPDATE_STATE)
	{
		ereport(LOG,
				(errmsg("geoshard raft node %llu is now %s in term %llu",
						(unsigned long long) raft.id, raft_state_name(raft_state(&raft)),
						(unsigned long long) raft_current_term(&raft))));
		RaftTransportSync(&raft.configuration);
		if (raft_state(&raft) != RAFT_LEADER)
		{
			/* the forwarders learn the commit index from the next leader */
			memset(forwarded, 0, sizeof(forwarded));
			announce_to_forwarders = false;
		}
	}

	if (persisted > 0)
	{
		struct raft_event ev;
		int			rv;

		memset(&ev, 0, sizeof(ev));
		ev.type = RAFT_PERSISTED_ENTRIES;
		ev.persisted_entries.index = persisted;
		rv = step(&ev);
		if (rv != 0)
			elog(ERROR, "raft refused persisted entries up to %llu: %s",
				 (unsigned long long) persisted, raft_errmsg(&raft));
	}

	if (snapshot)
	{
		struct raft_event ev;

		/* libraft takes the configuration back */
		memset(&ev, 0, sizeof(ev));
		ev.type = RAFT_PERSISTED_SNAPSHOT;
		ev.persisted_snapshot.metadata = snapshot_meta;
		ev.persisted_snapshot.offset = 0;
		ev.persisted_snapshot.last = true;
		if (step(&ev) != 0)
			elog(ERROR, "raft refused the installed snapshot at index %llu: %s",
				 (unsigned long long) snapshot_meta.index, raft_errmsg(&raft));
		RaftTransportSync(&raft.configuration);
		notify_proposals();
	}

	if (raft_state(&raft) == RAFT_LEADER)
		arm_announce((update->flags & RAFT_UPDATE_COMMIT_INDEX) != 0);
}

/* Load the stored state and start libraft; false when in no group. */
static bool
try_start(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		found = false;
	struct raft_event ev;
	struct raft_entry *entries = NULL;
	struct raft_snapshot_metadata start_meta;
	char	   *batch = NULL;
	int			rv;

	if (GeoshardWorkerBeginWork("loading raft state") && RaftStorageExists())
	{
		found = RaftStorageLoadState(&hard_state);
		if (found)
		{
			if (log_cxt == NULL)
				log_cxt = AllocSetContextCreate(TopMemoryContext, "geoshard raft log",
												ALLOCSET_DEFAULT_SIZES);
			if (snap_cxt == NULL)
				snap_cxt = AllocSetContextCreate(TopMemoryContext, "geoshard raft snapshot",
												 ALLOCSET_DEFAULT_SIZES);
			log_entries = RaftStorageLoadLog(&log_first, &log_n, log_cxt);
			log_cap = Max(log_n, 1);
			memset(&snap, 0, sizeof(snap));
			if (RaftSnapshotLoadMeta(&snap, snap_cxt) && log_n == 0)
				log_first = snap.index + 1;
		}
	}
	end_work(cxt);
	if (!found)
		return false;
	/* the log continues the snapshot, and nothing before it is unapplied */
	if (log_first > snap.index + 1 || hard_state.applied_index < snap.index)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("geoshard.raft_log starts at index %llu and %llu entries are applied, but the last snapshot is at index %llu",
						(unsigned long long) log_first, (unsigned long long) hard_state.applied_index,
						(unsigned long long) snap.index)));
	if (hard_state.node_id != (uint64) geoshard_node_id)
	{
		if (!not_member_logged)
			ereport(LOG,
					(errmsg("geoshard raft state belongs to node %llu, but geoshard.node_id is %d",
							(unsigned long long) hard_state.node_id, geoshard_node_id),
					 errhint("Set geoshard.node_id back to %llu.", (unsigned long long) hard_state.node_id)));
		not_member_logged = true;
		return false;
	}

	if (raft_init(&raft, NULL, NULL, hard_state.node_id, "") != 0)
		elog(ERROR, "raft_init failed: %s", raft_errmsg(&raft));
	raft_seed(&raft, (unsigned) (GetCurrentTimestamp() ^ (MyProcPid << 16)));
	raft.tracer = &tracer;
	raft_set_election_timeout(&raft, geoshard_raft_election_timeout_ms);
	raft_set_heartbeat_timeout(&raft, Min(geoshard_raft_heartbeat_ms,
										  geoshard_raft_election_timeout_ms / 2));
	raft_set_pre_vote(&raft, true);
	/* one pass submits up to every slot: let one AppendEntries carry them */
	raft_set_max_inflight_entries(&raft, Max(RAFT_PROPOSAL_SLOTS, 32));

	applied = hard_state.applied_index;
	RaftCallApplied(applied);	/* after a restart, what the tables hold is applied */
	if (snap.index > 0)
	{
		struct raft_buffer conf = {snap.conf, snap.conf_len};

		memset(&start_meta, 0, sizeof(start_meta));
		start_meta.index = snap.index;
		start_meta.term = snap.term;
		start_meta.configuration_index = snap.conf_index;
		raft_configuration_init(&start_meta.configuration);
		if (raft_configuration_decode(&conf, &start_meta.configuration) != 0)
			elog(ERROR, "raft snapshot at index %llu holds an undecodable configuration",
				 (unsigned long long) snap.index);
	}
	if (log_n > 0)
	{
		size_t		total = 0;
		size_t		off = 0;

		for (uint64 i = 0; i < log_n; i++)
			total += log_entries[i].len;
		entries = raft_calloc(log_n, sizeof(struct raft_entry));
		batch = raft_malloc(Max(total, 1));
		if (entries == NULL || batch == NULL)
			elog(ERROR, "out of memory for %llu raft entries", (unsigned long long) log_n);
		for (uint64 i = 0; i < log_n; i++)
		{
			memcpy(batch + off, log_entries[i].data, log_entries[i].len);
			entries[i].term = log_entries[i].term;
			entries[i].type = log_entries[i].type;
			entries[i].buf.base = batch + off;
			entries[i].buf.len = log_entries[i].len;
			entries[i].batch = batch;
			off += log_entries[i].len;
		}
	}

	/* the group is ours from now on: raft_receive accepts its messages */
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	raft_shared->cluster_id = hard_state.cluster_id;
	raft_shared->node_id = hard_state.node_id;
	raft_shared->in_group = true;
	LWLockRelease(raft_shared->lock);
	RaftTransportInit(&hard_state.cluster_id, hard_state.node_id, lookup_entry);
	started = true;

	memset(&ev, 0, sizeof(ev));
	ev.type = RAFT_START;
	ev.start.term = hard_state.term;
	ev.start.voted_for = hard_state.voted_for;
	/* libraft takes the snapshot's configuration */
	ev.start.metadata = snap.index > 0 ? &start_meta : NULL;
	ev.start.start_index = log_first;
	ev.start.entries = entries;
	ev.start.n_entries = (unsigned) log_n;
	rv = step(&ev);
	if (rv != 0)
		elog(ERROR, "raft could not start from the stored state: %s", raft_errmsg(&raft));
	if (entries)
	{
		raft_free(batch);
		raft_free(entries);
	}

	/*
	 * libraft treats the last configuration entry as uncommitted after a
	 * restart; when we applied it before, it is committed.
	 */
	if (raft.configuration_uncommitted_index != 0 &&
		raft.configuration_uncommitted_index <= applied)
	{
		RaftLogEntry *le = log_at(raft.configuration_uncommitted_index);
		struct raft_buffer buf = {le->data, le->len};

		memset(&ev, 0, sizeof(ev));
		ev.type = RAFT_CONFIGURATION;
		ev.configuration.index = raft.configuration_uncommitted_index;
		raft_configuration_init(&ev.configuration.conf);
		if (raft_configuration_decode(&buf, &ev.configuration.conf) != 0 || step(&ev) != 0)
			elog(ERROR, "could not restore the committed raft configuration: %s", raft_errmsg(&raft));
	}
	RaftTransportSync(&raft.configuration);
	ereport(LOG,
			(errmsg("geoshard raft node %llu started: term %llu, snapshot at index %llu, entries %llu to %llu, %llu applied",
					(unsigned long long) hard_state.node_id, (unsigned long long) hard_state.term,
					(unsigned long long) snap.index, (unsigned long long) log_first,
					(unsigned long long) log_last(), (unsigned long long) applied)));
	return true;
}

static const char *
address_of(uint64 id)
{
	for (unsigned i = 0; i < raft.configuration.n; i++)
		if (raft.configuration.servers[i].id == id)
			return raft.configuration.servers[i].address;
	return "";
}

/*
 * Take one chunk of a snapshot a leader sends.  Chunks come in order over
 * one connection; a chunk at offset 0 starts a snapshot over, and one that
 * does not continue the snapshot being received drops it (the leader sends
 * it again).  The last chunk completes the InstallSnapshot that libraft
 * gets, its data and configuration in libraft's allocations.
 */
static void
receive_chunk(uint64 from, const char *address, const RaftSnapshotChunk *c)
{
	struct raft_message m;
	struct raft_event ev;
	struct raft_buffer conf;
	int			rv;

	if (c->offset == 0)
	{
		if (inbound.data == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(snap_cxt);

			initStringInfo(&inbound);
			MemoryContextSwitchTo(old);
		}
		resetStringInfo(&inbound);
		if (inbound_from != 0 && inbound_head.conf)
			pfree((char *) inbound_head.conf);
		inbound_head = *c;
		inbound_head.conf = MemoryContextAlloc(snap_cxt, c->conf_len);
		memcpy((char *) inbound_head.conf, c->conf, c->conf_len);
		inbound_from = from;
	}
	else if (inbound_from != from || c->term != inbound_head.term ||
			 c->last_index != inbound_head.last_index || c->last_term != inbound_head.last_term ||
			 c->total != inbound_head.total || c->offset != (uint64) inbound.len)
	{
		if (inbound_from != 0)
			ereport(LOG,
					(errmsg("geoshard raft dropped a partly received snapshot from node %llu",
							(unsigned long long) inbound_from)));
		if (inbound_from != 0)
			pfree((char *) inbound_head.conf);
		inbound_from = 0;
		return;
	}
	appendBinaryStringInfo(&inbound, c->data, (int) c->len);
	if ((uint64) inbound.len < inbound_head.total)
		return;

	inbound_from = 0;

	/*
	 * Only a leader of a later term can send this one a snapshot; libraft,
	 * built without asserts, would not notice another leader of its own term.
	 */
	if (raft_state(&raft) == RAFT_LEADER && inbound_head.term <= raft_current_term(&raft))
	{
		ereport(LOG,
				(errmsg("geoshard raft refused a snapshot from node %llu: this node leads term %llu",
						(unsigned long long) from, (unsigned long long) raft_current_term(&raft))));
		pfree((char *) inbound_head.conf);
		return;
	}
	if (!RaftSnapshotCheck(inbound.data, inbound.len))
	{
		ereport(LOG,
				(errmsg("geoshard raft refused a malformed snapshot at index %llu from node %llu",
						(unsigned long long) inbound_head.last_index, (unsigned long long) from)));
		pfree((char *) inbound_head.conf);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = RAFT_INSTALL_SNAPSHOT;
	m.server_id = from;
	m.server_address = address;
	m.install_snapshot.version = 0;
	m.install_snapshot.term = inbound_head.term;
	m.install_snapshot.last_index = inbound_head.last_index;
	m.install_snapshot.last_term = inbound_head.last_term;
	m.install_snapshot.conf_index = inbound_head.conf_index;
	conf.base = (void *) inbound_head.conf;
	conf.len = inbound_head.conf_len;
	raft_configuration_init(&m.install_snapshot.conf);
	if (raft_configuration_decode(&conf, &m.install_snapshot.conf) != 0)
	{
		ereport(LOG,
				(errmsg("geoshard raft refused a snapshot at index %llu from node %llu: its configuration does not decode",
						(unsigned long long) inbound_head.last_index, (unsigned long long) from)));
		pfree((char *) inbound_head.conf);
		return;
	}
	pfree((char *) inbound_head.conf);
	m.install_snapshot.data.base = raft_malloc(Max(inbound.len, 1));
	if (m.install_snapshot.data.base == NULL)
		elog(ERROR, "out of memory for a raft snapshot of %d bytes", inbound.len);
	memcpy(m.install_snapshot.data.base, inbound.data, inbound.len);
	m.install_snapshot.data.len = inbound.len;
	resetStringInfo(&inbound);
	ereport(LOG,
			(errmsg("geoshard raft received a snapshot at index %llu (%zu bytes) from node %llu",
					(unsigned long long) m.install_snapshot.last_index,
					m.install_snapshot.data.len, (unsigned long long) from)));

	/* libraft frees data and configuration, or hands them to the update */
	memset(&ev, 0, sizeof(ev));
	ev.type = RAFT_RECEIVE;
	ev.receive.message = &m;
	rv = step(&ev);
	if (rv != 0)
		ereport(LOG,
				(errmsg("geoshard raft could not take a snapshot from node %llu: %s",
						(unsigned long long) from, raft_errmsg(&raft))));
}

/*
 * Answer a raft_exchange caller: the messages handling its batch queued for
 * it go as its call's result, when it still waits for this claim of its
 * slot; otherwise they stay queued and go over our own connection.
 */
static void
answer_exchange(const RaftInboxRecord *rec, uint64 from)
{
	RaftReplySlot *s = &raft_shared->replies[rec->slot];
	Latch	   *latch = NULL;

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	if (s->state == RAFT_REPLY_WAITING && s->gen == rec->gen)
	{
		s->len = RaftTransportTakeOutbox(from, s->data, RAFT_REPLY_BYTES);	/* 0: none */
		s->state = RAFT_REPLY_READY;
		latch = s->latch;
	}
	LWLockRelease(raft_shared->lock);
	if (latch)
		SetLatch(latch);
}

static bool
carries_change(const struct raft_message *m)
{
	if (m->type != RAFT_APPEND_ENTRIES)
		return false;
	for (unsigned k = 0; k < m->append_entries.n_entries; k++)
		if (m->append_entries.entries[k].type == RAFT_CHANGE)
			return true;
	return false;
}

/*
 * Step one batch from a peer; returns the sender, 0 for a batch dropped.
 * With hold, the messages for the sender stay queued (RaftTransportHold).
 */
static uint64
step_batch(const char *data, uint32 len, bool hold)
{
	RaftEnvelope env;
	struct raft_message *msgs;
	RaftSnapshotChunk *chunks;
	char		error[128];

	if (!RaftBatchDecode(data, len, &env, &msgs, &chunks, error, sizeof(error)) ||
		memcmp(env.cluster_id.data, hard_state.cluster_id.data, UUID_LEN) != 0)
		return 0;
	if (hold)
		RaftTransportHold(env.from);
	for (uint32 i = 0; i < env.count; i++)
	{
		struct raft_message *m = &msgs[i];
		struct raft_event ev;
		raft_id		leader;
		const char *leader_address;
		int			rv;

		m->server_address = env.from_address[0] != '\0' ? env.from_address : address_of(m->server_id);
		if (m->type == RAFT_INSTALL_SNAPSHOT)
			receive_chunk(env.from, m->server_address, &chunks[i]);
		else
		{
			/*
			 * libraft takes a committed configuration (apply_committed's
			 * RAFT_CONFIGURATION) only while no later change is in its log:
			 * before a batch's next change, apply what is committed.
			 */
			if (carries_change(m) && raft_commit_index(&raft) > applied)
				apply_committed();
			memset(&ev, 0, sizeof(ev));
			ev.type = RAFT_RECEIVE;
			ev.receive.message = m;
			rv = step(&ev);
			if (m->type == RAFT_APPEND_ENTRIES && m->append_entries.n_entries > 0)
			{
				if (rv != 0)
					raft_free(m->append_entries.entries[0].batch);
				raft_free(m->append_entries.entries);
			}
			if (rv != 0)
				ereport(LOG,
						(errmsg("geoshard raft could not handle a message from node %llu: %s",
								(unsigned long long) env.from, raft_errmsg(&raft))));
		}
		raft_leader(&raft, &leader, &leader_address);
		if (env.from == leader || raft_state(&raft) == RAFT_LEADER)
			last_contact = GetCurrentTimestamp();
		RaftTransportHeard(env.from);
	}
	return env.from;
}

/*
 * Step a run of inbox records (RaftInboxRecords, each followed by its
 * batch).  A record whose caller waits for an answer holds back the
 * messages for that peer while its batch is handled, and hands them over.
 */
static void
step_records(const char *buf, Size used)
{
	Size		off = 0;

	while (off + sizeof(RaftInboxRecord) <= used)
	{
		RaftInboxRecord rec;

		memcpy(&rec, buf + off, sizeof(rec));
		off += sizeof(rec);
		if (rec.len > used - off)
			break;
		if (rec.slot >= 0 && rec.slot < RAFT_REPLY_SLOTS)
		{
			answer_exchange(&rec, step_batch(buf + off, rec.len, true));
			RaftTransportRelease(now_ms());
		}
		else
			(void) step_batch(buf + off, rec.len, false);
		off += rec.len;
	}
}

/* Step every batch queued since the last pass, and every answer to our calls. */
static void
drain_inbox(void)
{
	char	   *copy = NULL;
	Size		used;

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	used = raft_shared->inbox_used;
	if (used > 0)
	{
		copy = palloc(used);
		memcpy(copy, raft_shared->inbox, used);
		raft_shared->inbox_used = 0;
	}
	LWLockRelease(raft_shared->lock);
	if (copy)
		step_records(copy, used);

	while (RaftTransportHasAnswers())
	{
		copy = RaftTransportTakeAnswers(&used);
		step_records(copy, used);
	}
}

static void
fail_proposal(RaftProposal *p, bool not_leader, uint64 leader, const char *error)
{
	p->state = RAFT_SLOT_FAILED;
	p->not_leader = not_leader;
	p->leader = leader;
	strlcpy(p->error, error, RAFT_ERROR_BYTES);
	if (p->abandoned)
	{
		p->state = RAFT_SLOT_FREE;
		RaftSlotFreed();
	}
	else if (p->latch)
		SetLatch(p->latch);
}

/* Build the entry of one proposal; false with error set when it cannot be. */
static bool
build_entry(RaftProposalKind kind, uint64 node_id, const char *data, uint32 len,
			struct raft_entry *entry, char *error)
{
	struct raft_configuration conf;
	struct raft_buffer buf;
	bool		found = false;
	int			rv = 0;

	entry->term = raft_current_term(&raft);
	if (kind == RAFT_PROPOSE_COMMAND)
	{
		entry->type = RAFT_COMMAND;
		entry->buf.base = raft_malloc(Max(len, 1));
		if (entry->buf.base == NULL)
			elog(ERROR, "out of memory for a raft entry");
		memcpy(entry->buf.base, data, len);
		entry->buf.len = len;
		entry->batch = entry->buf.base;
		return true;
	}

	raft_configuration_init(&conf);
	for (unsigned i = 0; i < raft.configuration.n && rv == 0; i++)
	{
		const struct raft_server *s = &raft.configuration.servers[i];

		int			role = s->role;

		if (s->id == node_id)
		{
			found = true;
			if (kind == RAFT_PROPOSE_REMOVE)
				continue;
			if (kind == RAFT_PROPOSE_PROMOTE)
			{
				if (role == RAFT_VOTER)
				{
					snprintf(error, RAFT_ERROR_BYTES, "node %llu is already a voter",
							 (unsigned long long) node_id);
					raft_configuration_close(&conf);
					return false;
				}
				role = RAFT_VOTER;
			}
		}
		rv = raft_configuration_add(&conf, s->id, s->address, role);
	}
	if (rv == 0 && kind == RAFT_PROPOSE_ADD)
	{
		if (found)
		{
			snprintf(error, RAFT_ERROR_BYTES, "node %llu is already a member", (unsigned long long) node_id);
			raft_configuration_close(&conf);
			return false;
		}
		/* a standby first: it catches up before it counts in any majority */
		rv = raft_configuration_add(&conf, node_id, data, RAFT_STANDBY);
	}
	if (rv == 0 && kind != RAFT_PROPOSE_ADD && !found)
	{
		snprintf(error, RAFT_ERROR_BYTES, "node %llu is not a member", (unsigned long long) node_id);
		raft_configuration_close(&conf);
		return false;
	}
	if (rv == 0)
		rv = raft_configuration_encode(&conf, &buf);
	raft_configuration_close(&conf);
	if (rv != 0)
	{
		snprintf(error, RAFT_ERROR_BYTES, "%s", raft_strerror(rv));
		return false;
	}
	entry->type = RAFT_CHANGE;
	entry->buf = buf;
	entry->batch = buf.base;
	return true;
}

/*
 * Submit the commands of a pass together: one RAFT_SUBMIT of n entries
 * sharing one payload buffer (handle_update frees batch[0].batch), so that
 * they are stored in one transaction and travel in one AppendEntries.
 */
static void
submit_commands(int *slots, char **datas, uint32 *lens, int n)
{
	struct raft_entry *entries = palloc(sizeof(struct raft_entry) * n);
	uint64		index = raft_last_index(&raft) + 1;
	uint64		term = raft_current_term(&raft);
	Size		total = 0;
	char	   *buf;
	struct raft_event ev;
	int			rv;

	for (int k = 0; k < n; k++)
		total += lens[k];
	buf = raft_malloc(Max(total, 1));
	if (buf == NULL)
		elog(ERROR, "out of memory for %d raft entries", n);
	total = 0;
	for (int k = 0; k < n; k++)
	{
		entries[k].term = term;
		entries[k].type = RAFT_COMMAND;
		entries[k].buf.base = buf + total;
		entries[k].buf.len = lens[k];
		entries[k].batch = buf;
		memcpy(buf + total, datas[k], lens[k]);
		total += lens[k];
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = RAFT_SUBMIT;
	ev.submit.entries = entries;
	ev.submit.n = (unsigned) n;
	rv = step(&ev);
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	for (int k = 0; k < n; k++)
	{
		RaftProposal *p = &raft_shared->proposals[slots[k]];

		if (rv != 0)
			fail_proposal(p, rv == RAFT_NOTLEADER, 0, raft_errmsg(&raft));
		else
		{
			p->index = index + k;
			p->term = term;
			if (p->origin != 0)
				remember_forwarded(p->origin, p->index);
		}
	}
	LWLockRelease(raft_shared->lock);
	if (rv != 0)
		raft_free(buf);
	pfree(entries);
}

/*
 * Submit what backends proposed; only a leader can.  Commands go together
 * (submit_commands); configuration changes and transfers one at a time.
 */
static void
take_proposals(void)
{
	int			cmd_slots[RAFT_PROPOSAL_SLOTS];
	char	   *cmd_data[RAFT_PROPOSAL_SLOTS];
	uint32		cmd_len[RAFT_PROPOSAL_SLOTS];
	int			ncmd = 0;
	int			pending[RAFT_PROPOSAL_SLOTS];
	int			npending = 0;

	/* one look under the lock, not one per slot: most passes find none */
	LWLockAcquire(raft_shared->lock, LW_SHARED);
	for (int i = 0; i < RAFT_PROPOSAL_SLOTS; i++)
		if (raft_shared->proposals[i].state == RAFT_SLOT_PENDING)
			pending[npending++] = i;
	LWLockRelease(raft_shared->lock);

	for (int j = 0; j < npending; j++)
	{
		int			i = pending[j];
		RaftProposal *p = &raft_shared->proposals[i];
		RaftProposalKind kind;
		uint64		node_id;
		uint32		len;
		char	   *data;
		struct raft_entry entry;
		struct raft_event ev;
		raft_id		leader;
		const char *leader_address;
		char		error[RAFT_ERROR_BYTES];
		int			rv;

		LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
		if (p->state != RAFT_SLOT_PENDING)
		{
			LWLockRelease(raft_shared->lock);
			continue;
		}
		raft_leader(&raft, &leader, &leader_address);
		if (raft_state(&raft) != RAFT_LEADER)
		{
			fail_proposal(p, true, leader, "not the leader");
			LWLockRelease(raft_shared->lock);
			continue;
		}
		kind = p->kind;
		node_id = p->node_id;
		len = Min(p->len, RAFT_PROPOSAL_BYTES);
		data = palloc(len + 1);
		memcpy(data, p->data, len);
		data[len] = '\0';
		p->state = RAFT_SLOT_SUBMITTED;
		p->index = 0;
		LWLockRelease(raft_shared->lock);

		if (kind == RAFT_PROPOSE_COMMAND)
		{
			cmd_slots[ncmd] = i;
			cmd_data[ncmd] = data;
			cmd_len[ncmd] = len;
			ncmd++;
			continue;
		}
		if (kind == RAFT_PROPOSE_TRANSFER)
		{
			memset(&ev, 0, sizeof(ev));
			ev.type = RAFT_TRANSFER;
			ev.transfer.server_id = node_id;
			rv = step(&ev);
			if (rv == RAFT_BADID)
				snprintf(error, RAFT_ERROR_BYTES, "node %llu is not another voter of the group",
						 (unsigned long long) node_id);
			else
				strlcpy(error, raft_errmsg(&raft), RAFT_ERROR_BYTES);
			LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
			if (rv != 0)
				fail_proposal(p, rv == RAFT_NOTLEADER, 0, error);
			LWLockRelease(raft_shared->lock);
			continue;
		}
		if (!build_entry(kind, node_id, data, len, &entry, error))
		{
			LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
			fail_proposal(p, false, 0, error);
			LWLockRelease(raft_shared->lock);
			continue;
		}
		{
			uint64		index = raft_last_index(&raft) + 1;
			uint64		term = entry.term;

			memset(&ev, 0, sizeof(ev));
			ev.type = RAFT_SUBMIT;
			ev.submit.entries = &entry;
			ev.submit.n = 1;
			rv = step(&ev);
			LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
			if (rv == RAFT_CANTCHANGE)
			{
				/* another change is on its way: again once it committed, within the proposer's wait */
				raft_free(entry.buf.base);
				p->state = RAFT_SLOT_PENDING;
			}
			else if (rv != 0)
			{
				raft_free(entry.buf.base);
				fail_proposal(p, rv == RAFT_NOTLEADER, 0, raft_errmsg(&raft));
			}
			else
			{
				p->index = index;
				p->term = term;
				if (p->origin != 0)
					remember_forwarded(p->origin, index);
			}
			LWLockRelease(raft_shared->lock);
		}
	}
	if (ncmd > 0)
		submit_commands(cmd_slots, cmd_data, cmd_len, ncmd);
	notify_proposals();
}

/* Fail what no running group can take. */
static void
refuse_proposals(const char *why)
{
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RAFT_PROPOSAL_SLOTS; i++)
		if (raft_shared->proposals[i].state == RAFT_SLOT_PENDING)
			fail_proposal(&raft_shared->proposals[i], false, 0, why);
	LWLockRelease(raft_shared->lock);
}

static void
publish_status(void)
{
	raft_id		leader;
	const char *leader_address;
	RaftPeerStatus peers[RAFT_MAX_PEERS];
	int			npeers = RaftTransportPublish(peers, RAFT_MAX_PEERS);
	bool		is_leader = raft_state(&raft) == RAFT_LEADER;

	raft_leader(&raft, &leader, &leader_address);
	for (int i = 0; i < npeers; i++)
	{
		raft_index match = 0;

		if (is_leader && raft_match_index(&raft, peers[i].id, &match) != 0)
			match = 0;
		peers[i].match_index = match;
	}
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	raft_shared->state = raft_state(&raft);
	raft_shared->term = raft_current_term(&raft);
	raft_shared->leader = leader;
	strlcpy(raft_shared->leader_address, leader != 0 && leader_address ? leader_address : "",
			sizeof(raft_shared->leader_address));
	if (leader != 0 && leader != raft_shared->leader_last_known)
	{
		raft_shared->leader_last_known = leader;
		raft_shared->leader_changes++;
	}
	raft_shared->commit_index = raft_commit_index(&raft);
	raft_shared->applied_index = applied;
	raft_shared->last_index = raft_last_index(&raft);
	raft_shared->snapshot_index = snap.index;
	raft_shared->snapshot_term = snap.term;
	raft_shared->last_contact = is_leader ? GetCurrentTimestamp() : last_contact;
	raft_shared->npeers = npeers;
	memcpy(raft_shared->peers, peers, sizeof(RaftPeerStatus) * npeers);
	LWLockRelease(raft_shared->lock);
}

static void
worker_detach(int code, Datum arg)
{
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	raft_shared->worker_latch = NULL;
	raft_shared->in_group = false;
	LWLockRelease(raft_shared->lock);
	RaftTransportShutdown();
}

/*
 * Wait for the latch, a peer's socket or timeout_ms.  The wait set is kept
 * while the sockets and what they wait for stay the same: building one
 * takes a handful of system calls, and the loop waits a few times for every
 * proposal.
 */
static bool
wait_events(long timeout_ms)
{
	static WaitEventSet *set = NULL;
	static pgsocket set_socks[RAFT_MAX_PEERS];
	static uint32 set_events[RAFT_MAX_PEERS];
	static int	set_n = 0;
	static uint64 set_epoch = 0;
	pgsocket	socks[RAFT_MAX_PEERS];
	uint32		sock_events[RAFT_MAX_PEERS];
	uint64		epoch = 0;
	int			n = started ? RaftTransportWaitSockets(socks, sock_events, RAFT_MAX_PEERS, &epoch) : 0;
	WaitEvent	events[2 + RAFT_MAX_PEERS];

	if (set == NULL || n != set_n || epoch != set_epoch ||
		memcmp(socks, set_socks, n * sizeof(pgsocket)) != 0 ||
		memcmp(sock_events, set_events, n * sizeof(uint32)) != 0)
	{
		if (set)
			FreeWaitEventSet(set);
		set = CreateWaitEventSet(TopMemoryContext, 2 + RAFT_MAX_PEERS);
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		for (int i = 0; i < n; i++)
			AddWaitEventToSet(set, sock_events[i], socks[i], NULL, NULL);
		memcpy(set_socks, socks, n * sizeof(pgsocket));
		memcpy(set_events, sock_events, n * sizeof(uint32));
		set_n = n;
		set_epoch = epoch;
	}
	(void) WaitEventSetWait(set, Max(timeout_ms, 0), events, lengthof(events), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	return GeoshardWorkerHandleInterrupts();
}

void
GeoshardRaftMain(Datum main_arg)
{
	MemoryContext loop_cxt;

	GeoshardWorkerStart("geoshard raft");
	loop_cxt = AllocSetContextCreate(CurrentMemoryContext, "geoshard raft loop", ALLOCSET_DEFAULT_SIZES);

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	raft_shared->worker_latch = MyLatch;
	raft_shared->in_group = false;
	LWLockRelease(raft_shared->lock);
	before_shmem_exit(worker_detach, (Datum) 0);

	for (;;)
	{
		/* in no group yet: raft_bootstrap and raft_join wake us at commit */
		long		timeout = started ? 1000 : RAFT_IDLE_RECHECK_MS;
		uint64		now = now_ms();

		MemoryContextSwitchTo(loop_cxt);
		if (started)
		{
			raft_time	t = raft_timeout(&raft);

			timeout = t > now ? (long) Min(t - now, 1000) : 0;
			timeout = Min(timeout, RaftTransportNextWakeup(now));
			if (announce_at != 0)
				timeout = Min(timeout, announce_at > now ? (long) (announce_at - now) : 0);
			if (announce_to_forwarders)
				timeout = 0;
			if (RaftTransportHasAnswers())
				timeout = 0;
		}
		if (wait_events(timeout) && started)
		{
			raft_set_election_timeout(&raft, geoshard_raft_election_timeout_ms);
			raft_set_heartbeat_timeout(&raft, Min(geoshard_raft_heartbeat_ms,
												  geoshard_raft_election_timeout_ms / 2));
		}
		/* read our calls' answers first: a follower's acknowledgement may be one */
		if (started)
			RaftTransportPump(now_ms(), true);

		if (!geoshard_raft_enabled)
		{
			if (started)
			{
				ereport(LOG, (errmsg("geoshard raft stops: geoshard.raft_enabled is off")));
				proc_exit(1);
			}
			refuse_proposals("geoshard.raft_enabled is off");
			MemoryContextReset(loop_cxt);
			continue;
		}
		if (!started && !try_start())
		{
			refuse_proposals("this node is not in a raft group");
			MemoryContextReset(loop_cxt);
			continue;
		}

		drain_inbox();
		/* a follower's forwarded entry committed: it learns so before we apply */
		announce_due();
		/*
		 * Committed entries are applied here, not in handle_update: a
		 * follower learns the commit index with the next entries, and its
		 * acknowledgement of those then leaves (drain_inbox answers each
		 * raft_exchange) before it applies the previous ones.
		 */
		apply_committed();
		take_proposals();
		if (now_ms() >= raft_timeout(&raft))
		{
			struct raft_event ev;

			memset(&ev, 0, sizeof(ev));
			ev.type = RAFT_TIMEOUT;
			if (step(&ev) != 0)
				elog(ERROR, "raft timeout failed: %s", raft_errmsg(&raft));
		}
		apply_committed();	/* what proposals or the timeout committed */
		notify_proposals();
		maybe_take_snapshot();
		announce_due();
		RaftTransportPump(now_ms(), false);
		publish_status();
		MemoryContextReset(loop_cxt);
	}
}
