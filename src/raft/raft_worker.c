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
 *  2. only then are the update's messages queued for the peers (they leave
 *     in RaftTransportPump, after the whole update is handled), and the
 *     entries reported back with RAFT_PERSISTED_ENTRIES;
 *  3. committed entries are applied in log order, each batch with its
 *     applied_index in the same transaction, so each applies exactly once.
 *
 * The worker keeps the whole log in memory too (the send path reads it for
 * AppendEntries); snapshots and log truncation come in a later step.  Its
 * loop waits on its latch (raft_receive and proposing backends set it), the
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

/* the stored log, entry i at log_entries[i - 1] */
static MemoryContext log_cxt = NULL;
static RaftLogEntry *log_entries = NULL;
static uint64 log_n = 0;
static uint64 log_cap = 0;

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

/* Entries for outgoing AppendEntries, from the cached log. */
static bool
lookup_entry(raft_index index, struct raft_entry *e)
{
	RaftLogEntry *le;

	if (index < 1 || index > log_n)
		return false;
	le = &log_entries[index - 1];
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
	for (uint64 i = index; i <= log_n; i++)
		pfree(log_entries[i - 1].data);
	log_n = index - 1;
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
				p->state = RAFT_SLOT_FREE;
			else if (p->latch)
				SetLatch(p->latch);
			continue;
		}
		if (p->state != RAFT_SLOT_SUBMITTED || p->index == 0 || applied < p->index)
			continue;
		if (p->index <= log_n && log_entries[p->index - 1].term == p->term)
			p->state = RAFT_SLOT_DONE;
		else
		{
			p->state = RAFT_SLOT_FAILED;
			snprintf(p->error, RAFT_ERROR_BYTES,
					 "leadership changed before the entry at index %llu committed",
					 (unsigned long long) p->index);
		}
		if (p->abandoned)
			p->state = RAFT_SLOT_FREE;
		else if (p->latch)
			SetLatch(p->latch);
	}
	LWLockRelease(raft_shared->lock);
}

/* Apply the committed entries we have not applied yet, in log order. */
static void
apply_committed(void)
{
	uint64		target = Min(raft_commit_index(&raft), log_n);
	uint64		from = applied + 1;
	MemoryContext cxt = CurrentMemoryContext;

	if (target <= applied)
		return;

	begin_work("applying raft entries");
	/* the guard triggers on the replicated tables let this process through */
	RaftStorageApplying = true;
	for (uint64 i = from; i <= target; i++)
	{
		RaftLogEntry *le = &log_entries[i - 1];

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
		RaftLogEntry *le = &log_entries[i - 1];
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

/* Carry out one update of raft_step, in the order Raft's safety needs. */
static void
handle_update(struct raft_update *update)
{
	unsigned	flags = update->flags;
	bool		hard = (flags & (RAFT_UPDATE_CURRENT_TERM | RAFT_UPDATE_VOTED_FOR)) != 0;
	bool		entries = (flags & RAFT_UPDATE_ENTRIES) != 0 && update->entries.n > 0;
	uint64		persisted = 0;

	if (hard || entries)
	{
		MemoryContext cxt = CurrentMemoryContext;

		begin_work("persisting raft state");
		RaftStorageForceSync();
		if (hard)
			RaftStorageSaveHardState(raft_current_term(&raft), raft_voted_for(&raft));
		if (entries)
			RaftStorageAppend(update->entries.index, update->entries.batch, update->entries.n);
		end_work(cxt);
		if (entries)
		{
			cache_store(update->entries.index, update->entries.batch, update->entries.n);
			persisted = update->entries.index + update->entries.n - 1;
			raft_free(update->entries.batch[0].batch);
		}
	}

	/* serialize now: the array is reused by the next step */
	if (flags & RAFT_UPDATE_MESSAGES)
		for (unsigned i = 0; i < update->messages.n; i++)
			RaftTransportQueue(&update->messages.batch[i]);

	if (flags & RAFT_UPDATE_STATE)
	{
		ereport(LOG,
				(errmsg("geoshard raft node %llu is now %s in term %llu",
						(unsigned long long) raft.id, raft_state_name(raft_state(&raft)),
						(unsigned long long) raft_current_term(&raft))));
		RaftTransportSync(&raft.configuration);
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

	apply_committed();
}

/* Load the stored state and start libraft; false when in no group. */
static bool
try_start(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		found = false;
	struct raft_event ev;
	struct raft_entry *entries = NULL;
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
			log_entries = RaftStorageLoadLog(&log_n, log_cxt);
			log_cap = Max(log_n, 1);
		}
	}
	end_work(cxt);
	if (!found)
		return false;
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

	applied = hard_state.applied_index;
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
	ev.start.metadata = NULL;
	ev.start.start_index = 1;
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
		RaftLogEntry *le = &log_entries[raft.configuration_uncommitted_index - 1];
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
			(errmsg("geoshard raft node %llu started: term %llu, %llu entries, %llu applied",
					(unsigned long long) hard_state.node_id, (unsigned long long) hard_state.term,
					(unsigned long long) log_n, (unsigned long long) applied)));
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

/* Step every batch raft_receive queued since the last pass. */
static void
drain_inbox(void)
{
	char	   *copy = NULL;
	Size		used;
	Size		off = 0;

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	used = raft_shared->inbox_used;
	if (used > 0)
	{
		copy = palloc(used);
		memcpy(copy, raft_shared->inbox, used);
		raft_shared->inbox_used = 0;
	}
	LWLockRelease(raft_shared->lock);

	while (off + sizeof(uint32) <= used)
	{
		uint32		len;
		RaftEnvelope env;
		struct raft_message *msgs;
		char		error[128];

		memcpy(&len, copy + off, sizeof(uint32));
		off += sizeof(uint32);
		if (len > used - off)
			break;
		if (!RaftBatchDecode(copy + off, len, &env, &msgs, error, sizeof(error)) ||
			memcmp(env.cluster_id.data, hard_state.cluster_id.data, UUID_LEN) != 0)
		{
			off += len;
			continue;
		}
		off += len;
		for (uint32 i = 0; i < env.count; i++)
		{
			struct raft_message *m = &msgs[i];
			struct raft_event ev;
			raft_id		leader;
			const char *leader_address;
			int			rv;

			m->server_address = env.from_address[0] != '\0' ? env.from_address : address_of(m->server_id);
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
			raft_leader(&raft, &leader, &leader_address);
			if (env.from == leader || raft_state(&raft) == RAFT_LEADER)
				last_contact = GetCurrentTimestamp();
			RaftTransportHeard(env.from);
		}
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
		p->state = RAFT_SLOT_FREE;
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

/* Submit what backends proposed; only a leader can. */
static void
take_proposals(void)
{
	for (int i = 0; i < RAFT_PROPOSAL_SLOTS; i++)
	{
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
			if (rv != 0)
			{
				raft_free(entry.buf.base);
				fail_proposal(p, rv == RAFT_NOTLEADER, 0, raft_errmsg(&raft));
			}
			else
			{
				p->index = index;
				p->term = term;
			}
			LWLockRelease(raft_shared->lock);
		}
	}
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
	if (leader != 0 && leader != raft_shared->leader_last_known)
	{
		raft_shared->leader_last_known = leader;
		raft_shared->leader_changes++;
	}
	raft_shared->commit_index = raft_commit_index(&raft);
	raft_shared->applied_index = applied;
	raft_shared->last_index = raft_last_index(&raft);
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

/* Wait for the latch, a peer's socket or timeout_ms. */
static bool
wait_events(long timeout_ms)
{
	WaitEventSet *set = CreateWaitEventSet(CurrentMemoryContext, 2 + RAFT_MAX_PEERS);
	WaitEvent	events[2 + RAFT_MAX_PEERS];

	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	if (started)
		RaftTransportAddEvents(set);
	(void) WaitEventSetWait(set, Max(timeout_ms, 0), events, lengthof(events), PG_WAIT_EXTENSION);
	FreeWaitEventSet(set);
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
		}
		if (wait_events(timeout) && started)
		{
			raft_set_election_timeout(&raft, geoshard_raft_election_timeout_ms);
			raft_set_heartbeat_timeout(&raft, Min(geoshard_raft_heartbeat_ms,
												  geoshard_raft_election_timeout_ms / 2));
		}

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
		take_proposals();
		if (now_ms() >= raft_timeout(&raft))
		{
			struct raft_event ev;

			memset(&ev, 0, sizeof(ev));
			ev.type = RAFT_TIMEOUT;
			if (step(&ev) != 0)
				elog(ERROR, "raft timeout failed: %s", raft_errmsg(&raft));
		}
		notify_proposals();
		RaftTransportPump(now_ms());
		publish_status();
		MemoryContextReset(loop_cxt);
	}
}
