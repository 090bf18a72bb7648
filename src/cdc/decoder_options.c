/*
 * src/cdc/decoder_options.c
 *	  Parsing and applying the options of the geoshard output plugin.
 *
 * Options are checked once, when the slot starts (pg_logical_slot_*_changes
 * or START_REPLICATION): an unrecognized option or a bad value is an ERROR
 * with SQLSTATE 22023 naming the option, as in test_decoding, so a typo
 * never silently decodes everything.
 *
 * Table and message-prefix filters are comma lists of patterns in which "*"
 * matches any run of characters (also none) and a backslash makes the next
 * character literal, so "\*", "\,", "\." and "\\" are written that way.
 * Spaces around an entry are ignored.  A table pattern is schema.table,
 * split at its only unescaped dot, and each half is matched on its own:
 * "public.*" matches every table of schema public, "*.pins" every table
 * called pins.  The patterns are matched once per relation and the result
 * is cached (relation_cache.c), so filters cost nothing per change.
 */
#include "postgres.h"

#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "cdc/decoder_options.h"

/* One pattern: its characters, and which of them are unescaped "*". */
typedef struct CdcPattern
{
	int			len;
	char	   *chars;
	bool	   *wild;
} CdcPattern;

typedef struct CdcTablePattern
{
	CdcPattern	schema;
	CdcPattern	table;
} CdcTablePattern;

static void
InvalidValue(const char *option, const char *value, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", option, value),
			 errdetail("%s", detail)));
}

static bool
ParseBoolOption(DefElem *elem)
{
	bool		result;

	/* a bare option, as in test_decoding, means true */
	if (elem->arg == NULL)
		return true;
	if (!parse_bool(strVal(elem->arg), &result))
		InvalidValue(elem->defname, strVal(elem->arg), "A Boolean value is expected.");
	return result;
}

static const char *
OptionValue(DefElem *elem)
{
	if (elem->arg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" needs a value", elem->defname)));
	return strVal(elem->arg);
}

/*
 * Split a comma list of patterns.  Each entry becomes a CdcPattern; with
 * split_dot, a pair of them cut at the entry's only unescaped dot.
 */
static List *
ParsePatternList(const char *option, const char *value, bool split_dot)
{
	List	   *result = NIL;
	const char *p = value;

	for (;;)
	{
		int			maxlen = strlen(p);
		char	   *chars = palloc(maxlen + 1);
		bool	   *wild = palloc(sizeof(bool) * (maxlen + 1));
		int			len = 0;
		int			significant = 0;	/* length without trailing spaces */
		int			dot = -1;

		while (*p == ' ' || *p == '\t')
			p++;
		for (; *p != '\0' && *p != ','; p++)
		{
			bool		escaped = false;

			if (*p == '\\')
			{
				p++;
				if (*p == '\0')
					InvalidValue(option, value, "A backslash must be followed by the character it escapes.");
				escaped = true;
			}
			else if (split_dot && *p == '.')
			{
				if (dot >= 0)
					InvalidValue(option, value,
								 "A table pattern is schema.table; escape a dot inside a name as \"\\.\".");
				dot = len;
				significant = len;
				continue;
			}
			chars[len] = *p;
			wild[len] = (!escaped && *p == '*');
			len++;
			if (escaped || (*p != ' ' && *p != '\t'))
				significant = len;
		}
		len = significant;

		if (split_dot)
		{
			CdcTablePattern *tp = palloc(sizeof(CdcTablePattern));

			if (dot < 0)
				InvalidValue(option, value, "A table pattern is schema.table, such as public.pins or public.*.");
			if (dot == 0 || dot == len)
				InvalidValue(option, value, "A table pattern needs both a schema and a table part.");
			tp->schema.len = dot;
			tp->schema.chars = chars;
			tp->schema.wild = wild;
			tp->table.len = len - dot;
			tp->table.chars = chars + dot;
			tp->table.wild = wild + dot;
			result = lappend(result, tp);
		}
		else
		{
			CdcPattern *pat = palloc(sizeof(CdcPattern));

			if (len == 0)
				InvalidValue(option, value, "The list has an empty entry.");
			pat->len = len;
			pat->chars = chars;
			pat->wild = wild;
			result = lappend(result, pat);
		}

		if (*p == '\0')
			break;
		p++;					/* the comma */
	}
	return result;
}

/* Does s match the pattern?  Greedy "*" with one backtracking point. */
static bool
PatternMatch(const CdcPattern *pat, const char *s)
{
	int			pi = 0;
	int			star = -1;
	const char *mark = s;

	while (*s != '\0')
	{
		if (pi < pat->len && pat->wild[pi])
		{
			star = pi++;
			mark = s;
		}
		else if (pi < pat->len && pat->chars[pi] == *s)
		{
			pi++;
			s++;
		}
		else if (star >= 0)
		{
			pi = star + 1;
			s = ++mark;
		}
		else
			return false;
	}
	while (pi < pat->len && pat->wild[pi])
		pi++;
	return pi == pat->len;
}

static bool
TableListMatch(List *patterns, const char *schema, const char *table)
{
	ListCell   *lc;

	foreach(lc, patterns)
	{
		CdcTablePattern *tp = lfirst(lc);

		if (PatternMatch(&tp->schema, schema) && PatternMatch(&tp->table, table))
			return true;
	}
	return false;
}

static bool
PrefixListMatch(List *patterns, const char *prefix)
{
	ListCell   *lc;

	foreach(lc, patterns)
	{
		if (PatternMatch(lfirst(lc), prefix))
			return true;
	}
	return false;
}

static int
ParseActions(DefElem *elem)
{
	const char *value = OptionValue(elem);
	char	   *copy = pstrdup(value);
	char	   *tok;
	char	   *save;
	int			actions = 0;

	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
	{
		char	   *end;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';

		if (*tok == '\0')
			continue;
		if (pg_strcasecmp(tok, "insert") == 0)
			actions |= CDC_ACTION_INSERT;
		else if (pg_strcasecmp(tok, "update") == 0)
			actions |= CDC_ACTION_UPDATE;
		else if (pg_strcasecmp(tok, "delete") == 0)
			actions |= CDC_ACTION_DELETE;
		else if (pg_strcasecmp(tok, "truncate") == 0)
			actions |= CDC_ACTION_TRUNCATE;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\"", elem->defname, value),
					 errdetail("Unrecognized action \"%s\"; the actions are insert, update, delete and truncate.",
							   tok)));
	}
	if (actions == 0)
		InvalidValue(elem->defname, value, "At least one action is needed.");
	return actions;
}

/*
 * Fill opts from the slot's options (a list of DefElem with string values).
 * The defaults are documented in docs/cdc.md.
 */
void
CdcOptionsParse(CdcOptions *opts, List *defels)
{
	ListCell   *lc;

	memset(opts, 0, sizeof(CdcOptions));
	opts->include_xids = true;
	opts->include_timestamp = true;
	opts->actions = CDC_ACTION_ALL;

	foreach(lc, defels)
	{
		DefElem    *elem = lfirst(lc);
		const char *name = elem->defname;

		Assert(elem->arg == NULL || IsA(elem->arg, String));

		if (strcmp(name, "include-begin-commit") == 0)
			opts->include_begin_commit = ParseBoolOption(elem);
		else if (strcmp(name, "include-old") == 0)
			opts->include_old = ParseBoolOption(elem);
		else if (strcmp(name, "numeric-as-string") == 0)
			opts->numeric_as_string = ParseBoolOption(elem);
		else if (strcmp(name, "include-xids") == 0)
			opts->include_xids = ParseBoolOption(elem);
		else if (strcmp(name, "include-timestamp") == 0)
			opts->include_timestamp = ParseBoolOption(elem);
		else if (strcmp(name, "pretty") == 0)
		{
			if (ParseBoolOption(elem))
				InvalidValue(name, OptionValue(elem),
							 "Only compact output (one line per event) is supported.");
		}
		else if (strcmp(name, "format-version") == 0)
		{
			if (strcmp(OptionValue(elem), "1") != 0)
				InvalidValue(name, OptionValue(elem), "The only format version is 1.");
		}
		else if (strcmp(name, "actions") == 0)
			opts->actions = ParseActions(elem);
		else if (strcmp(name, "include-tables") == 0)
			opts->include_tables = ParsePatternList(name, OptionValue(elem), true);
		else if (strcmp(name, "exclude-tables") == 0)
			opts->exclude_tables = ParsePatternList(name, OptionValue(elem), true);
		else if (strcmp(name, "include-message-prefixes") == 0)
			opts->include_prefixes = ParsePatternList(name, OptionValue(elem), false);
		else if (strcmp(name, "exclude-message-prefixes") == 0)
			opts->exclude_prefixes = ParsePatternList(name, OptionValue(elem), false);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized option \"%s\" for output plugin \"geoshard\"", name),
					 errhint("The options are include-tables, exclude-tables, actions, "
							 "include-message-prefixes, exclude-message-prefixes, include-old, "
							 "numeric-as-string, include-begin-commit, include-xids, "
							 "include-timestamp, pretty and format-version.")));
	}
}

/* Are a table's changes printed?  Called once per relation (cached). */
bool
CdcOptionsTableIncluded(const CdcOptions *opts, const char *schema, const char *table)
{
	if (opts->include_tables != NIL && !TableListMatch(opts->include_tables, schema, table))
		return false;
	return !TableListMatch(opts->exclude_tables, schema, table);
}

/* Is a logical message with this prefix printed? */
bool
CdcOptionsPrefixIncluded(const CdcOptions *opts, const char *prefix)
{
	if (opts->include_prefixes != NIL && !PrefixListMatch(opts->include_prefixes, prefix))
		return false;
	return !PrefixListMatch(opts->exclude_prefixes, prefix);
}
