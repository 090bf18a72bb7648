/*
 * src/raft/raft_message.h
 *	  The wire format of geoshard's Raft messages and of its replicated
 *	  commands: encoders, and decoders that trust nothing.
 */
#ifndef GEOSHARD_RAFT_RAFT_MESSAGE_H
#define GEOSHARD_RAFT_RAFT_MESSAGE_H

#include <raft.h>

#include "lib/stringinfo.h"
#include "utils/uuid.h"

/* limits every decoder enforces (and every encoder respects) */
#define RAFT_MESSAGES_MAX		1024		/* messages in one batch */
#define RAFT_ENTRIES_MAX		1024		/* entries in one AppendEntries */
#define RAFT_ENTRY_MAX_BYTES	(64 * 1024)	/* payload of one entry */
#define RAFT_BATCH_MAX_BYTES	(1024 * 1024)	/* one raft_receive payload */
#define RAFT_SNAPSHOT_CHUNK_BYTES	(256 * 1024)	/* data in one snapshot chunk */
#define RAFT_SNAPSHOT_MAX_BYTES	(512 * 1024 * 1024)	/* a whole snapshot */
#define RAFT_CONFIGURATION_MAX_SERVERS	1024

/* The envelope of a batch: who sends it to whom, in which group. */
typedef struct RaftEnvelope
{
	pg_uuid_t	cluster_id;
	uint64		from;
	uint64		to;
	const char *from_address;	/* the sender's conninfo, "" when it has none yet */
	uint32		count;			/* messages that follow */
} RaftEnvelope;

#define RAFT_ADDRESS_MAX_BYTES	1024

/* Looks up a stored entry for an outgoing AppendEntries; false if absent. */
typedef bool (*RaftEntryLookup) (raft_index index, struct raft_entry *entry);

/*
 * One piece of an InstallSnapshot: libraft sends a snapshot as one message,
 * which can be far larger than a batch, so it travels as chunks of at most
 * RAFT_SNAPSHOT_CHUNK_BYTES, each repeating the snapshot's metadata, that
 * the receiving worker joins in order before it steps the whole message.
 * Decoded chunks point into the batch they came from.
 */
typedef struct RaftSnapshotChunk
{
	uint64		term;			/* the leader's term */
	uint64		last_index;		/* last entry the snapshot includes */
	uint64		last_term;
	uint64		conf_index;		/* index of its committed configuration */
	const char *conf;			/* libraft's encoding of that configuration */
	uint32		conf_len;
	uint64		total;			/* size of the whole snapshot data */
	uint64		offset;			/* where this chunk's data starts */
	const char *data;
	uint32		len;
} RaftSnapshotChunk;

extern void RaftEnvelopeBegin(StringInfo buf, const RaftEnvelope *env);
extern void RaftEnvelopeSetCount(StringInfo buf, uint32 count);
extern bool RaftMessageEncode(StringInfo buf, const struct raft_message *msg,
							  RaftEntryLookup lookup);
extern bool RaftBatchCheck(const char *data, size_t len, RaftEnvelope *env,
						   char *error, size_t errorlen);
extern bool RaftBatchDecode(const char *data, size_t len, RaftEnvelope *env,
							struct raft_message **messages, RaftSnapshotChunk **chunks,
							char *error, size_t errorlen);
extern void RaftSnapshotChunkEncode(StringInfo buf, const RaftSnapshotChunk *chunk);
extern bool RaftConfigurationCheck(const char *data, size_t len);
extern void RaftMessageRelease(struct raft_message *msg);

/* Replicated commands: the payload of a RAFT_COMMAND entry. */
typedef enum RaftCommandKind
{
	RAFT_CMD_SET_SETTING = 1,	/* key, value */
	RAFT_CMD_DELETE_SETTING = 2,	/* key */
	RAFT_CMD_NODE = 3,			/* node id, name, conninfo */
	RAFT_CMD_CALL = 4,			/* call id, arguments (raft_call.c) */
	RAFT_CMD_BARRIER = 5		/* nothing: raft_barrier's entry */
} RaftCommandKind;

#define RAFT_CALL_MAX_ARGS		16

typedef struct RaftCommand
{
	RaftCommandKind kind;
	uint64		node_id;
	char	   *key;			/* setting key, or node name */
	char	   *value;			/* setting value, or node conninfo */
	/* RAFT_CMD_CALL: which function of raft_call.c's list, its arguments as text */
	uint16		call;
	uint16		nargs;
	char	   *args[RAFT_CALL_MAX_ARGS];	/* NULL for an SQL NULL */
} RaftCommand;

extern void RaftCommandEncode(StringInfo buf, const RaftCommand *cmd);
extern bool RaftCommandDecode(const char *data, size_t len, RaftCommand *cmd);

#endif							/* GEOSHARD_RAFT_RAFT_MESSAGE_H */
