/*
 * src/raft/raft_message.c
 *	  geoshard's own encoding of libraft's messages (what raft_receive
 *	  carries between peers) and of the replicated commands in RAFT_COMMAND
 *	  entries.
 *
 * A batch is an envelope, then its messages, all integers big-endian:
 *
 *     "GSR" version(1)  cluster_id(16)  from(8)  to(8)
 *     from_address_length(2) from_address  count(4)
 *     count x { type(1) fields... }
 *
 * An AppendEntries carries its entries inline: term(8) type(1) length(4)
 * bytes.  An InstallSnapshot travels as chunks (RaftSnapshotChunk), one
 * message each:
 *
 *     term(8) last_index(8) last_term(8) conf_index(8)
 *     conf_length(4) conf  total(8) offset(8) length(4) data
 *
 * where conf is libraft's encoding of the snapshot's configuration (checked
 * here byte by byte: libraft's own decoder does not check bounds) and data
 * the bytes [offset, offset + length) of the snapshot.
 *
 * Decoders trust nothing: every read is bounds-checked, every count
 * and length is checked against the limits in raft_message.h and against
 * what is left before anything is allocated, values that libraft would
 * assert on (terms and ids of zero, unknown types, index overflow) are
 * refused, and trailing bytes are an error.  The backend (raft_receive)
 * only checks; the raft worker decodes into libraft's structs, with the
 * entries' payloads in one raft_malloc batch as libraft expects.
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "port/pg_bswap.h"

#include "raft/raft_message.h"

#define RAFT_WIRE_VERSION 1
#define RAFT_ENVELOPE_BYTES (4 + UUID_LEN + 8 + 8 + 2 + 4)

/* libraft's message struct versions (its private message.h) */
#define RAFT_REQUEST_VOTE_VERSION 2
#define RAFT_REQUEST_VOTE_RESULT_VERSION 2
#define RAFT_APPEND_ENTRIES_VERSION 0
#define RAFT_APPEND_ENTRIES_RESULT_VERSION 2
#define RAFT_TIMEOUT_NOW_VERSION 0

/* flags of RequestVote and its result */
#define RAFT_FLAG_DISRUPT_LEADER 0x01
#define RAFT_FLAG_PRE_VOTE 0x02
#define RAFT_FLAG_GRANTED 0x04

/* ---- writing ---- */

/* Start a batch; its count is patched by RaftEnvelopeSetCount. */
void
RaftEnvelopeBegin(StringInfo buf, const RaftEnvelope *env)
{
	appendBinaryStringInfo(buf, "GSR", 3);
	pq_sendbyte(buf, RAFT_WIRE_VERSION);
	appendBinaryStringInfo(buf, (const char *) env->cluster_id.data, UUID_LEN);
	pq_sendint64(buf, env->from);
	pq_sendint64(buf, env->to);
	pq_sendint16(buf, (uint16) strlen(env->from_address));
	appendBinaryStringInfo(buf, env->from_address, (int) strlen(env->from_address));
	pq_sendint32(buf, env->count);
}

void
RaftEnvelopeSetCount(StringInfo buf, uint32 count)
{
	uint32		n = pg_hton32(count);

	uint16		alen;

	Assert(buf->len >= RAFT_ENVELOPE_BYTES);
	alen = (uint16) (((uint8) buf->data[RAFT_ENVELOPE_BYTES - 6] << 8) | (uint8) buf->data[RAFT_ENVELOPE_BYTES - 5]);
	memcpy(buf->data + RAFT_ENVELOPE_BYTES - 4 + alen, &n, 4);
}

/*
 * Append one outgoing message.  libraft's AppendEntries carry indexes only:
 * the entries come from our log through lookup.  Returns false when the
 * message cannot be sent this way (an InstallSnapshot, which goes as chunks
 * through RaftSnapshotChunkEncode, or an entry no longer stored); the caller
 * drops it and libraft retries.
 */
bool
RaftMessageEncode(StringInfo buf, const struct raft_message *msg, RaftEntryLookup lookup)
{
	int			start = buf->len;

	pq_sendbyte(buf, (uint8) msg->type);
	switch (msg->type)
	{
		case RAFT_REQUEST_VOTE:
			{
				const struct raft_request_vote *m = &msg->request_vote;

				pq_sendint64(buf, m->term);
				pq_sendint64(buf, m->candidate_id);
				pq_sendint64(buf, m->last_log_index);
				pq_sendint64(buf, m->last_log_term);
				pq_sendbyte(buf, (m->disrupt_leader ? RAFT_FLAG_DISRUPT_LEADER : 0) |
					   (m->pre_vote ? RAFT_FLAG_PRE_VOTE : 0));
				break;
			}
		case RAFT_REQUEST_VOTE_RESULT:
			{
				const struct raft_request_vote_result *m = &msg->request_vote_result;

				pq_sendint64(buf, m->term);
				pq_sendbyte(buf, (m->vote_granted ? RAFT_FLAG_GRANTED : 0) |
					   (m->pre_vote ? RAFT_FLAG_PRE_VOTE : 0));
				pq_sendint16(buf, m->features);
				pq_sendint16(buf, m->capacity);
				break;
			}
		case RAFT_APPEND_ENTRIES:
			{
				const struct raft_append_entries *m = &msg->append_entries;
				unsigned	n = Min(m->n_entries, RAFT_ENTRIES_MAX);
				int			count_at;
				unsigned	sent = 0;

				pq_sendint64(buf, m->term);
				pq_sendint64(buf, m->prev_log_index);
				pq_sendint64(buf, m->prev_log_term);
				pq_sendint64(buf, m->leader_commit);
				count_at = buf->len;
				pq_sendint32(buf, 0);
				for (unsigned i = 0; i < n; i++)
				{
					struct raft_entry e;

					if (!lookup(m->prev_log_index + 1 + i, &e))
						break;
					/* keep a batch within what the receiver accepts */
					if (sent > 0 && buf->len + e.buf.len > RAFT_BATCH_MAX_BYTES / 2)
						break;
					pq_sendint64(buf, e.term);
					pq_sendbyte(buf, (uint8) e.type);
					pq_sendint32(buf, (uint32) e.buf.len);
					appendBinaryStringInfo(buf, e.buf.base, (int) e.buf.len);
					sent++;
				}
				if (sent < m->n_entries && sent == 0 && m->n_entries > 0)
				{
					buf->len = start;
					buf->data[start] = '\0';
					return false;
				}
				{
					uint32		nn = pg_hton32(sent);

					memcpy(buf->data + count_at, &nn, 4);
				}
				break;
			}
		case RAFT_APPEND_ENTRIES_RESULT:
			{
				const struct raft_append_entries_result *m = &msg->append_entries_result;

				pq_sendint64(buf, m->term);
				pq_sendint64(buf, m->rejected);
				pq_sendint64(buf, m->last_log_index);
				pq_sendint16(buf, m->features);
				pq_sendint16(buf, m->capacity);
				break;
			}
		case RAFT_TIMEOUT_NOW:
			{
				const struct raft_timeout_now *m = &msg->timeout_now;

				pq_sendint64(buf, m->term);
				pq_sendint64(buf, m->last_log_index);
				pq_sendint64(buf, m->last_log_term);
				break;
			}
		default:
			/* RAFT_INSTALL_SNAPSHOT: sent as chunks (RaftSnapshotChunkEncode) */
			buf->len = start;
			buf->data[start] = '\0';
			return false;
	}
	return true;
}

/* Append one chunk of an InstallSnapshot as a message. */
void
RaftSnapshotChunkEncode(StringInfo buf, const RaftSnapshotChunk *c)
{
	Assert(c->len <= RAFT_SNAPSHOT_CHUNK_BYTES && c->conf_len <= RAFT_ENTRY_MAX_BYTES);
	pq_sendbyte(buf, (uint8) RAFT_INSTALL_SNAPSHOT);
	pq_sendint64(buf, c->term);
	pq_sendint64(buf, c->last_index);
	pq_sendint64(buf, c->last_term);
	pq_sendint64(buf, c->conf_index);
	pq_sendint32(buf, c->conf_len);
	appendBinaryStringInfo(buf, c->conf, (int) c->conf_len);
	pq_sendint64(buf, c->total);
	pq_sendint64(buf, c->offset);
	pq_sendint32(buf, c->len);
	appendBinaryStringInfo(buf, c->data, (int) c->len);
}

/*
 * Is data a well-formed encoding of a libraft configuration?  Its format
 * (libraft's configuration.c): version 1 (1 byte), server count (8, little
 * endian), per server id (8, little endian), address (NUL-terminated) and
 * role (1), then zero padding to a multiple of 8 bytes.  raft_configuration_decode
 * reads it without bounds checks, so nothing reaches it unchecked.
 */
bool
RaftConfigurationCheck(const char *data, size_t len)
{
	const uint8 *p = (const uint8 *) data;
	size_t		left = len;
	uint64		n = 0;

	if (len < 9 || len > RAFT_ENTRY_MAX_BYTES || len % 8 != 0 || p[0] != 1)
		return false;
	for (int i = 0; i < 8; i++)
		n |= (uint64) p[1 + i] << (8 * i);
	p += 9;
	left -= 9;
	if (n == 0 || n > RAFT_CONFIGURATION_MAX_SERVERS || n * 10 > left)
		return false;
	for (uint64 k = 0; k < n; k++)
	{
		uint64		id = 0;
		const uint8 *nul;

		if (left < 8)
			return false;
		for (int i = 0; i < 8; i++)
			id |= (uint64) p[i] << (8 * i);
		if (id == 0 || id > (uint64) PG_INT64_MAX)
			return false;
		p += 8;
		left -= 8;
		nul = memchr(p, '\0', left);
		if (nul == NULL)
			return false;
		left -= (size_t) (nul - p) + 1;
		p = nul + 1;
		if (left < 1 || *p > RAFT_SPARE)
			return false;
		p++;
		left--;
	}
	/* only the padding is left */
	if (left >= 8)
		return false;
	for (size_t i = 0; i < left; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* ---- reading ---- */

typedef struct Reader
{
	const uint8 *p;
	size_t		left;
	char	   *error;
	size_t		errorlen;
	bool		ok;
} Reader;

static void
fail(Reader *r, const char *what)
{
	if (r->ok)
		snprintf(r->error, r->errorlen, "%s", what);
	r->ok = false;
	r->left = 0;
}

static bool
need(Reader *r, size_t n)
{
	if (!r->ok)
		return false;
	if (r->left < n)
	{
		fail(r, "truncated message");
		return false;
	}
	return true;
}

static uint8
get_u8(Reader *r)
{
	uint8		v;

	if (!need(r, 1))
		return 0;
	v = r->p[0];
	r->p++;
	r->left--;
	return v;
}

static uint16
get_u16(Reader *r)
{
	uint16		v;

	if (!need(r, 2))
		return 0;
	v = (uint16) ((r->p[0] << 8) | r->p[1]);
	r->p += 2;
	r->left -= 2;
	return v;
}

static uint32
get_u32(Reader *r)
{
	uint32		v;

	if (!need(r, 4))
		return 0;
	memcpy(&v, r->p, 4);
	r->p += 4;
	r->left -= 4;
	return pg_ntoh32(v);
}

/* An index, term or id: stored as bigint, so at most INT64_MAX. */
static uint64
get_u64(Reader *r)
{
	uint64		v;

	if (!need(r, 8))
		return 0;
	memcpy(&v, r->p, 8);
	r->p += 8;
	r->left -= 8;
	v = pg_ntoh64(v);
	if (v > (uint64) PG_INT64_MAX)
		fail(r, "integer out of range");
	return v;
}

static uint64
get_positive(Reader *r, const char *what)
{
	uint64		v = get_u64(r);

	if (r->ok && v == 0)
		fail(r, what);
	return v;
}

static uint8
get_flags(Reader *r, uint8 allowed)
{
	uint8		v = get_u8(r);

	if (r->ok && (v & ~allowed) != 0)
		fail(r, "reserved flag bits set");
	return v;
}

/*
 * Parse (and when messages is not NULL, build) one batch.  Returns false
 * with a message in error on the first problem.  Built messages own their
 * entries: RaftMessageRelease frees what raft_step did not consume.
 */
static bool
parse_batch(const char *data, size_t len, RaftEnvelope *env,
			struct raft_message **messages, RaftSnapshotChunk **chunks,
			char *error, size_t errorlen)
{
	Reader		r = {(const uint8 *) data, len, error, errorlen, true};
	struct raft_message *out = NULL;
	RaftSnapshotChunk *chunk_out = NULL;

	if (len > RAFT_BATCH_MAX_BYTES)
	{
		snprintf(error, errorlen, "batch of %zu bytes exceeds the limit of %d", len, RAFT_BATCH_MAX_BYTES);
		return false;
	}
	if (len < RAFT_ENVELOPE_BYTES || memcmp(data, "GSR", 3) != 0)
	{
		snprintf(error, errorlen, "not a geoshard raft batch");
		return false;
	}
	r.p += 3;
	r.left -= 3;
	if (get_u8(&r) != RAFT_WIRE_VERSION)
	{
		snprintf(error, errorlen, "unsupported batch version %u", (unsigned) (uint8) data[3]);
		return false;
	}
	memcpy(env->cluster_id.data, r.p, UUID_LEN);
	r.p += UUID_LEN;
	r.left -= UUID_LEN;
	env->from = get_positive(&r, "sender id is zero");
	env->to = get_positive(&r, "receiver id is zero");
	{
		uint16		alen = get_u16(&r);

		if (r.ok && alen > RAFT_ADDRESS_MAX_BYTES)
			fail(&r, "sender address too long");
		else if (need(&r, alen))
		{
			if (memchr(r.p, '\0', alen) != NULL)
				fail(&r, "sender address with a NUL byte");
			else if (messages)
			{
				char	   *a = palloc(alen + 1);

				memcpy(a, r.p, alen);
				a[alen] = '\0';
				env->from_address = a;
			}
			else
				env->from_address = "";
			r.p += alen;
			r.left -= alen;
		}
	}
	env->count = get_u32(&r);
	if (!r.ok)
		return false;
	if (env->count == 0 || env->count > RAFT_MESSAGES_MAX)
	{
		snprintf(error, errorlen, "message count %u out of range 1..%d", env->count, RAFT_MESSAGES_MAX);
		return false;
	}
	/* every message takes at least 9 bytes: check before allocating */
	if ((size_t) env->count * 9 > r.left)
	{
		snprintf(error, errorlen, "message count %u exceeds the batch", env->count);
		return false;
	}
	if (messages)
	{
		out = palloc0(sizeof(struct raft_message) * env->count);
		chunk_out = palloc0(sizeof(RaftSnapshotChunk) * env->count);
	}

	for (uint32 i = 0; i < env->count && r.ok; i++)
	{
		struct raft_message scratch;
		struct raft_message *m = out ? &out[i] : &scratch;
		uint8		type = get_u8(&r);

		memset(m, 0, sizeof(*m));
		m->server_id = env->from;
		switch (type)
		{
			case RAFT_REQUEST_VOTE:
				{
					struct raft_request_vote *a = &m->request_vote;
					uint8		flags;

					m->type = RAFT_REQUEST_VOTE;
					a->version = RAFT_REQUEST_VOTE_VERSION;
					a->term = get_positive(&r, "request vote with term zero");
					a->candidate_id = get_positive(&r, "request vote with candidate zero");
					a->last_log_index = get_u64(&r);
					a->last_log_term = get_u64(&r);
					flags = get_flags(&r, RAFT_FLAG_DISRUPT_LEADER | RAFT_FLAG_PRE_VOTE);
					a->disrupt_leader = (flags & RAFT_FLAG_DISRUPT_LEADER) != 0;
					a->pre_vote = (flags & RAFT_FLAG_PRE_VOTE) != 0;
					if (r.ok && a->candidate_id != env->from)
						fail(&r, "request vote for a candidate other than its sender");
					if (r.ok && a->last_log_term > a->term)
						fail(&r, "request vote with a last log term above its term");
					break;
				}
			case RAFT_REQUEST_VOTE_RESULT:
				{
					struct raft_request_vote_result *a = &m->request_vote_result;
					uint8		flags;

					m->type = RAFT_REQUEST_VOTE_RESULT;
					a->version = RAFT_REQUEST_VOTE_RESULT_VERSION;
					a->term = get_u64(&r);
					flags = get_flags(&r, RAFT_FLAG_GRANTED | RAFT_FLAG_PRE_VOTE);
					a->vote_granted = (flags & RAFT_FLAG_GRANTED) != 0;
					a->pre_vote = (flags & RAFT_FLAG_PRE_VOTE) != 0;
					a->features = get_u16(&r);
					a->capacity = get_u16(&r);
					break;
				}
			case RAFT_APPEND_ENTRIES:
				{
					struct raft_append_entries *a = &m->append_entries;
					uint32		n;
					const uint8 *first;
					size_t		total = 0;
					Reader		scan;

					m->type = RAFT_APPEND_ENTRIES;
					a->version = RAFT_APPEND_ENTRIES_VERSION;
					a->term = get_positive(&r, "append entries with term zero");
					a->prev_log_index = get_u64(&r);
					a->prev_log_term = get_u64(&r);
					a->leader_commit = get_u64(&r);
					n = get_u32(&r);
					if (!r.ok)
						break;
					if (n > RAFT_ENTRIES_MAX || (size_t) n * 13 > r.left)
					{
						fail(&r, "entry count out of range");
						break;
					}
					if (a->prev_log_term > a->term ||
						a->prev_log_index > (uint64) PG_INT64_MAX - n)
					{
						fail(&r, "append entries with an inconsistent previous entry");
						break;
					}
					/* first pass: validate and total the payloads */
					first = r.p;
					for (uint32 k = 0; k < n && r.ok; k++)
					{
						uint64		eterm = get_positive(&r, "entry with term zero");
						uint8		etype = get_u8(&r);
						uint32		elen = get_u32(&r);

						if (!r.ok)
							break;
						if (eterm > a->term)
							fail(&r, "entry with a term above the message's");
						else if (etype < RAFT_COMMAND || etype > RAFT_CHANGE)
							fail(&r, "unrecognized entry type");
						else if (elen > RAFT_ENTRY_MAX_BYTES)
							fail(&r, "entry payload too large");
						else if (need(&r, elen))
						{
							/* libraft decodes a configuration as soon as it appends it */
							if (etype == RAFT_CHANGE &&
								!RaftConfigurationCheck((const char *) r.p, elen))
							{
								fail(&r, "malformed configuration entry");
								break;
							}
							r.p += elen;
							r.left -= elen;
							total += elen;
						}
					}
					if (!r.ok || !out || n == 0)
						break;
					/* second pass: build, the payloads in one batch */
					{
						uint8	   *batch = raft_malloc(Max(total, 1));
						struct raft_entry *entries = raft_calloc(n, sizeof(struct raft_entry));
						size_t		off = 0;

						if (batch == NULL || entries == NULL)
							elog(ERROR, "out of memory for %u raft entries", n);
						scan = (Reader) {first, (size_t) (r.p - first), error, errorlen, true};
						for (uint32 k = 0; k < n; k++)
						{
							uint32		elen;

							entries[k].term = get_u64(&scan);
							entries[k].type = (enum raft_entry_type) get_u8(&scan);
							elen = get_u32(&scan);
							memcpy(batch + off, scan.p, elen);
							scan.p += elen;
							scan.left -= elen;
							entries[k].buf.base = batch + off;
							entries[k].buf.len = elen;
							entries[k].batch = batch;
							off += elen;
						}
						a->entries = entries;
						a->n_entries = n;
					}
					break;
				}
			case RAFT_APPEND_ENTRIES_RESULT:
				{
					struct raft_append_entries_result *a = &m->append_entries_result;

					m->type = RAFT_APPEND_ENTRIES_RESULT;
					a->version = RAFT_APPEND_ENTRIES_RESULT_VERSION;
					a->term = get_u64(&r);
					a->rejected = get_u64(&r);
					a->last_log_index = get_u64(&r);
					a->features = get_u16(&r);
					a->capacity = get_u16(&r);
					break;
				}
			case RAFT_TIMEOUT_NOW:
				{
					struct raft_timeout_now *a = &m->timeout_now;

					m->type = RAFT_TIMEOUT_NOW;
					a->version = RAFT_TIMEOUT_NOW_VERSION;
					a->term = get_positive(&r, "timeout now with term zero");
					a->last_log_index = get_u64(&r);
					a->last_log_term = get_u64(&r);
					break;
				}
			case RAFT_INSTALL_SNAPSHOT:
				{
					struct raft_install_snapshot *a = &m->install_snapshot;
					RaftSnapshotChunk scratch_chunk;
					RaftSnapshotChunk *c = chunk_out ? &chunk_out[i] : &scratch_chunk;

					m->type = RAFT_INSTALL_SNAPSHOT;
					c->term = get_positive(&r, "install snapshot with term zero");
					c->last_index = get_positive(&r, "install snapshot with last index zero");
					c->last_term = get_positive(&r, "install snapshot with last term zero");
					c->conf_index = get_positive(&r, "install snapshot with configuration index zero");
					c->conf_len = get_u32(&r);
					if (!r.ok)
						break;
					if (c->last_term > c->term || c->conf_index > c->last_index)
					{
						fail(&r, "install snapshot with inconsistent indexes or terms");
						break;
					}
					if (c->conf_len > RAFT_ENTRY_MAX_BYTES || !need(&r, c->conf_len) ||
						!RaftConfigurationCheck((const char *) r.p, c->conf_len))
					{
						fail(&r, "install snapshot with a malformed configuration");
						break;
					}
					c->conf = (const char *) r.p;
					r.p += c->conf_len;
					r.left -= c->conf_len;
					c->total = get_u64(&r);
					c->offset = get_u64(&r);
					c->len = get_u32(&r);
					if (!r.ok)
						break;
					if (c->total > RAFT_SNAPSHOT_MAX_BYTES || c->len > RAFT_SNAPSHOT_CHUNK_BYTES ||
						c->offset > c->total || c->len > c->total - c->offset)
					{
						fail(&r, "install snapshot chunk out of range");
						break;
					}
					if (!need(&r, c->len))
						break;
					c->data = (const char *) r.p;
					r.p += c->len;
					r.left -= c->len;
					/* the whole message is built by the worker from its chunks */
					a->version = 0;
					a->term = c->term;
					a->last_index = c->last_index;
					a->last_term = c->last_term;
					a->conf_index = c->conf_index;
					break;
				}
			default:
				if (r.ok)
				{
					char		what[64];

					snprintf(what, sizeof(what), "unrecognized message type %u", type);
					fail(&r, what);
				}
				break;
		}
	}
	if (r.ok && r.left != 0)
		fail(&r, "trailing bytes after the last message");
	if (!r.ok)
	{
		if (out)
		{
			for (uint32 i = 0; i < env->count; i++)
				RaftMessageRelease(&out[i]);
			pfree(out);
			pfree(chunk_out);
		}
		return false;
	}
	if (messages)
		*messages = out;
	if (chunks)
		*chunks = chunk_out;
	return true;
}

/* Check a batch without building anything (raft_receive). */
bool
RaftBatchCheck(const char *data, size_t len, RaftEnvelope *env, char *error, size_t errorlen)
{
	return parse_batch(data, len, env, NULL, NULL, error, errorlen);
}

/*
 * Decode a batch into a palloc'd array of env->count libraft messages, and
 * a parallel array of chunks: for a message of type RAFT_INSTALL_SNAPSHOT,
 * its chunk (pointing into data); the others' are zero.
 */
bool
RaftBatchDecode(const char *data, size_t len, RaftEnvelope *env,
				struct raft_message **messages, RaftSnapshotChunk **chunks,
				char *error, size_t errorlen)
{
	return parse_batch(data, len, env, messages, chunks, error, errorlen);
}

/* Free the entries of a decoded AppendEntries that raft_step never took. */
void
RaftMessageRelease(struct raft_message *msg)
{
	if (msg->type == RAFT_APPEND_ENTRIES && msg->append_entries.n_entries > 0)
	{
		raft_free(msg->append_entries.entries[0].batch);
		raft_free(msg->append_entries.entries);
		msg->append_entries.entries = NULL;
		msg->append_entries.n_entries = 0;
	}
}

/* ---- replicated commands: kind(1) node_id(8) key_len(4) key value_len(4) value ---- */

void
RaftCommandEncode(StringInfo buf, const RaftCommand *cmd)
{
	size_t		klen = cmd->key ? strlen(cmd->key) : 0;
	size_t		vlen = cmd->value ? strlen(cmd->value) : 0;

	pq_sendbyte(buf, (uint8) cmd->kind);
	if (cmd->kind == RAFT_CMD_BARRIER)
		return;
	if (cmd->kind == RAFT_CMD_CALL)
	{
		/* call(2) nargs(2) nargs x { isnull(1) [length(4) bytes] } */
		pq_sendint16(buf, cmd->call);
		pq_sendint16(buf, cmd->nargs);
		for (int i = 0; i < cmd->nargs; i++)
		{
			pq_sendbyte(buf, cmd->args[i] == NULL);
			if (cmd->args[i] != NULL)
			{
				pq_sendint32(buf, (uint32) strlen(cmd->args[i]));
				appendBinaryStringInfo(buf, cmd->args[i], (int) strlen(cmd->args[i]));
			}
		}
		return;
	}
	pq_sendint64(buf, cmd->node_id);
	pq_sendint32(buf, (uint32) klen);
	appendBinaryStringInfo(buf, cmd->key ? cmd->key : "", (int) klen);
	pq_sendint32(buf, (uint32) vlen);
	appendBinaryStringInfo(buf, cmd->value ? cmd->value : "", (int) vlen);
}

static char *
get_text(Reader *r)
{
	uint32		n = get_u32(r);
	char	   *s;

	if (!r->ok || !need(r, n))
		return NULL;
	if (memchr(r->p, '\0', n) != NULL)
	{
		fail(r, "text with a NUL byte");
		return NULL;
	}
	s = palloc(n + 1);
	memcpy(s, r->p, n);
	s[n] = '\0';
	r->p += n;
	r->left -= n;
	return s;
}

/* Decode a command; false when it is malformed (never applied, logged). */
bool
RaftCommandDecode(const char *data, size_t len, RaftCommand *cmd)
{
	char		error[128];
	Reader		r = {(const uint8 *) data, len, error, sizeof(error), true};
	uint8		kind = get_u8(&r);

	memset(cmd, 0, sizeof(RaftCommand));
	if (!r.ok || kind < RAFT_CMD_SET_SETTING || kind > RAFT_CMD_BARRIER)
		return false;
	cmd->kind = (RaftCommandKind) kind;
	if (kind == RAFT_CMD_BARRIER)
		return r.left == 0;
	if (kind == RAFT_CMD_CALL)
	{
		cmd->call = get_u16(&r);
		cmd->nargs = get_u16(&r);
		if (!r.ok || cmd->nargs > RAFT_CALL_MAX_ARGS)
			return false;
		for (int i = 0; i < cmd->nargs && r.ok; i++)
		{
			uint8		isnull = get_u8(&r);

			if (isnull > 1)
				return false;
			cmd->args[i] = isnull ? NULL : get_text(&r);
		}
		return r.ok && r.left == 0;
	}
	cmd->node_id = get_u64(&r);
	cmd->key = get_text(&r);
	cmd->value = get_text(&r);
	return r.ok && r.left == 0;
}
