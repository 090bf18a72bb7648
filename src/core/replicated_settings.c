/*
 * src/core/replicated_settings.c
 *	  Group-wide settings: a row of geoshard.settings named after one of
 *	  geoshard's own settings overrides, in the worker that honours it, the
 *	  value postgresql.conf gives.
 *
 * On a node in a raft group, geoshard.settings changes only through the log
 * (geoshard.raft_set_setting), identically on every node, so one call on any
 * member changes, say, the circuit breakers' thresholds of the whole group;
 * on a node in no group the table is written directly.  A worker calls
 * GeoshardApplyReplicatedSettings() inside a unit of work, with the names it
 * honours, before it reads the settings: each one with a row takes the row's
 * value as a session-level SET (above postgresql.conf, which a reload keeps
 * updating underneath), and each one without goes back to postgresql.conf's.
 * A value the setting refuses is logged once and ignored.  Only settings that
 * a worker reads, and that every node may share, belong on such a list:
 * never secrets (the table is readable by whoever may read the catalogue).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "postmaster/bgworker.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/replicated_settings.h"

/* what this process last reported per honoured name: its row's value, or none */
typedef struct Reported
{
	const char *name;
	char	   *value;			/* NULL: postgresql.conf's */
	bool		refused;
} Reported;

#define MAX_HONOURED 32

static Reported reported[MAX_HONOURED];

static Reported *
reported_for(const char *name)
{
	for (int i = 0; i < MAX_HONOURED; i++)
	{
		if (reported[i].name == NULL)
			reported[i].name = name;
		if (reported[i].name == name || strcmp(reported[i].name, name) == 0)
			return &reported[i];
	}
	elog(ERROR, "more than %d replicated settings", MAX_HONOURED);
	pg_unreachable();
}

/* Log a change of where a setting's value comes from, once per change. */
static void
report(const char *name, const char *value, bool refused)
{
	Reported   *r = reported_for(name);
	const char *who = MyBgworkerEntry ? MyBgworkerEntry->bgw_type : "geoshard";

	if (r->refused == refused &&
		(r->value == NULL ? value == NULL : value != NULL && strcmp(r->value, value) == 0))
		return;
	if (r->value)
		pfree(r->value);
	r->value = value ? MemoryContextStrdup(TopMemoryContext, value) : NULL;
	r->refused = refused;
	if (value == NULL)
		ereport(LOG,
				(errmsg("%s: %s takes postgresql.conf's value again (no row in geoshard.settings)",
						who, name)));
	else if (refused)
		ereport(LOG,
				(errmsg("%s: geoshard.settings holds an invalid value for %s: \"%s\"; postgresql.conf's applies",
						who, name, value)));
	else
		ereport(LOG,
				(errmsg("%s: %s = \"%s\" from geoshard.settings", who, name, value)));
}

/*
 * Apply the rows of geoshard.settings named in names (NULL-terminated, each
 * one of geoshard's settings) to this process.  Runs inside a unit of work,
 * SPI connected; the table may not exist yet (an extension before 0.4).
 */
void
GeoshardApplyReplicatedSettings(const char *const *names)
{
	Oid			nspid = get_namespace_oid("geoshard", true);
	int			n = 0;
	Datum	   *keys;
	Oid			types[1] = {TEXTARRAYOID};
	Datum		values[1];

	if (!OidIsValid(nspid) || !OidIsValid(get_relname_relid("settings", nspid)))
		return;
	while (names[n] != NULL)
		n++;
	keys = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
		keys[i] = CStringGetTextDatum(names[i]);
	values[0] = PointerGetDatum(construct_array(keys, n, TEXTOID, -1, false, TYPALIGN_INT));
	if (SPI_execute_with_args("SELECT key, value FROM geoshard.settings WHERE key = ANY ($1)",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading geoshard.settings failed");

	for (int i = 0; i < n; i++)
	{
		char	   *value = NULL;

		for (uint64 row = 0; row < SPI_processed; row++)
			if (strcmp(SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1), names[i]) == 0)
				value = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2);
		if (value != NULL &&
			set_config_option(names[i], value, PGC_SIGHUP, PGC_S_SESSION, GUC_ACTION_SET,
							  true, DEBUG1, false) > 0)
			report(names[i], value, false);
		else
		{
			/* back to what postgresql.conf says (a no-op when it already is) */
			(void) set_config_option(names[i], NULL, PGC_SIGHUP, PGC_S_SESSION, GUC_ACTION_SET,
									 true, WARNING, false);
			report(names[i], value, value != NULL);
		}
	}
}
