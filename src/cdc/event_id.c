/*
 * src/cdc/event_id.c
 *	  The event id of the geoshard output plugin, read back by the workers
 *	  that consume it (the cdc publisher, the redisview worker), and the log
 *	  filter they both install.
 */
#include "postgres.h"

#include <ctype.h>

#include "common/string.h"
#include "utils/elog.h"

#include "cdc/event_id.h"

static emit_log_hook_type prev_emit_log_hook = NULL;

/* Parse "<uint64>-<uint64>"; false when it is not one. */
bool
CdcParseId(const char *text, CdcId *id)
{
	char	   *end;

	if (text == NULL || !isdigit((unsigned char) text[0]))
		return false;
	errno = 0;
	id->lsn = strtou64(text, &end, 10);
	if (errno != 0 || *end != '-' || !isdigit((unsigned char) end[1]))
		return false;
	id->n = strtou64(end + 1, &end, 10);
	return errno == 0 && *end == '\0';
}

/*
 * Every peek and advance starts logical decoding, which PostgreSQL 15
 * reports at LOG with two messages: several lines per pass, up to hundreds
 * of passes a second.  A worker that decodes in passes keeps them out of
 * the server log; every other message, the plugin's warnings included, goes
 * through.
 */
static void
CdcDecodingLogHook(ErrorData *edata)
{
	if (edata->elevel == LOG && edata->message_id != NULL &&
		(strcmp(edata->message_id, "starting logical decoding for slot \"%s\"") == 0 ||
		 strcmp(edata->message_id, "logical decoding found consistent point at %X/%X") == 0))
		edata->output_to_server = false;
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* Install the filter; once per worker process, at its start. */
void
CdcQuietDecodingLog(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = CdcDecodingLogHook;
}
