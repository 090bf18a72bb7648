/*
 * src/routing/geoip.c
 *	  geoip_lookup(ip): where an address is, from the MaxMind DB file named by
 *	  geoshard.geoip_database, else from the table geoshard.geoip_networks
 *	  (geoip_table.c).
 *
 * Each backend memory-maps the file once (libmaxminddb's MMDB_MODE_MMAP) and
 * keeps the handle in a static struct across calls.  The handle is replaced
 * when the setting names another file, or when the file's identity (device,
 * inode, modification time, size) changes.  Whether to check is decided
 * once per statement, at its first lookup: the file is stat()ed then if the
 * last check is more than a second old, and not again until the next
 * statement (GetCurrentStatementStartTimestamp() tells statements apart; a
 * procedure's inner statements share it), so one statement answers from
 * one file and a lookup normally costs no system call at all.  Files must
 * be replaced by rename(): a file rewritten in place changes under the
 * mapping of every backend.
 *
 * When a backend opens a file it detects its record layout
 * (geoip_layout.c) and which reserved ranges it has data for
 * (geoip_reserved.c): addresses in the others are not looked up in it.
 * Decoded records are kept in a small direct-mapped cache keyed by their
 * offset in the file's data section, since many networks share a record
 * (a city); the cache is cleared when the file or the layout changes.
 *
 * Nothing read from the file is trusted (geoip_layout.c): a file that
 * breaks the format or our rules gives an ERROR naming the file, never a
 * crash.
 */
#include "postgres.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <maxminddb.h>

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/guc.h"
#include "observe/counters.h"
#include "routing/geoip.h"
#include "routing/geoip_layout.h"
#include "routing/geoip_reserved.h"
#include "routing/geoip_table.h"

/* how often an open file is stat()ed for replacement, in milliseconds */
#define GEOIP_RECHECK_MS 1000

/*
 * Decoded records kept per backend (a power of two).  Each slot takes 40
 * bytes, so the cache takes 640 kB once a file is used; real traffic
 * concentrates on far fewer records than a City file holds.
 */
#define GEOIP_CACHE_SLOTS 16384

typedef struct GeoipCacheSlot
{
	uint32		key;			/* the record's data offset + 1; 0 = empty */
	GeoipRecord record;
} GeoipCacheSlot;

/* the open database of this backend */
typedef struct GeoipDatabase
{
	bool		open;			/* mmdb is valid and must be closed */
	MMDB_s		mmdb;
	char	   *path;			/* setting value it was opened for, in TopMemoryContext */
	dev_t		dev;			/* identity of the file when opened */
	ino_t		ino;
	struct timespec mtime;
	off_t		size;
	TimestampTz checked_at;		/* last stat() */
	TimestampTz checked_stmt;	/* statement start of the last decision to check */
	int			layout_setting; /* geoshard.geoip_layout the layout is for */
	GeoipLayout layout;			/* how records are read */
	uint32		reserved_in_file;	/* reserved ranges the file has data for */
	GeoipCacheSlot *cache;		/* GEOIP_CACHE_SLOTS, in TopMemoryContext */
} GeoipDatabase;

static GeoipDatabase db;

/*
 * Stat path for use as a database; false with errno set when it cannot be
 * used.  Only regular files qualify: opening a FIFO would block the caller,
 * which may be the postmaster.
 */
static bool
GeoipStat(const char *path, struct stat *st)
{
	if (stat(path, st) != 0)
		return false;
	if (!S_ISREG(st->st_mode))
	{
		errno = EINVAL;
		return false;
	}
	return true;
}

/* Report that path cannot be used, at elevel, from stat()'s errno. */
static void
GeoipReportStatError(int elevel, const char *path)
{
	if (errno == EINVAL)
		ereport(elevel,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not open GeoIP database \"%s\": not a regular file", path),
				 errhint("Set geoshard.geoip_database to the path of a MaxMind DB (.mmdb) file.")));
	else
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not open GeoIP database \"%s\": %m", path)));
}

/* Report a failed MMDB_open at elevel; save_errno is errno right after it. */
static void
GeoipReportOpenError(int elevel, const char *path, int status, int save_errno)
{
	if (status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR)
	{
		errno = save_errno;
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not open GeoIP database \"%s\": %m", path)));
	}
	else if (status == MMDB_OUT_OF_MEMORY_ERROR)
		ereport(elevel,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not open GeoIP database \"%s\": %s", path, MMDB_strerror(status))));
	else
		ereport(elevel,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not open GeoIP database \"%s\": %s", path, MMDB_strerror(status)),
				 errhint("Set geoshard.geoip_database to the path of a MaxMind DB (.mmdb) file.")));
}

static void
GeoipClose(void)
{
	if (db.open)
	{
		MMDB_close(&db.mmdb);
		db.open = false;
	}
	if (db.path != NULL)
	{
		pfree(db.path);
		db.path = NULL;
	}
}

/*
 * Detect the layout of the open file for the current geoshard.geoip_layout
 * and forget decoded records.  A file routing cannot use gets a WARNING,
 * once per backend and file.
 */
static void
GeoipSetLayout(void)
{
	bool		usable;

	db.layout_setting = geoshard_geoip_layout;
	db.layout = GeoipLayoutDetect(&db.mmdb, (GeoipLayout) geoshard_geoip_layout, &usable);
	if (db.cache == NULL)
		db.cache = MemoryContextAlloc(TopMemoryContext, sizeof(GeoipCacheSlot) * GEOIP_CACHE_SLOTS);
	memset(db.cache, 0, sizeof(GeoipCacheSlot) * GEOIP_CACHE_SLOTS);
	if (!usable)
		GeoipLayoutWarnUnusable(WARNING, db.path, db.layout, (GeoipLayout) geoshard_geoip_layout);
}

/*
 * The database to read for the current setting, opened or re-opened as
 * needed, or NULL when no file is configured.
 */
static MMDB_s *
GeoipCurrentDatabase(void)
{
	const char *path = geoshard_geoip_database;
	TimestampTz stmt;
	TimestampTz now;
	struct stat st;
	int			status;

	if (path == NULL || path[0] == '\0')
	{
		GeoipClose();
		return NULL;
	}

	/*
	 * The same file for the rest of a statement; a new statement checks it
	 * at its first lookup, when the last check is a second old.
	 */
	stmt = GetCurrentStatementStartTimestamp();
	if (db.open && strcmp(db.path, path) == 0)
	{
		if (stmt == db.checked_stmt)
			goto opened;
		db.checked_stmt = stmt;
		now = GetCurrentTimestamp();
		if (!TimestampDifferenceExceeds(db.checked_at, now, GEOIP_RECHECK_MS))
			goto opened;
	}
	else
		now = GetCurrentTimestamp();

	if (!GeoipStat(path, &st))
	{
		int			save_errno = errno;

		GeoipClose();
		errno = save_errno;
		GeoipReportStatError(ERROR, path);
	}

	if (db.open && strcmp(db.path, path) == 0 &&
		db.dev == st.st_dev && db.ino == st.st_ino && db.size == st.st_size &&
		db.mtime.tv_sec == st.st_mtim.tv_sec && db.mtime.tv_nsec == st.st_mtim.tv_nsec)
	{
		db.checked_at = now;
		goto opened;
	}

	GeoipClose();
	status = MMDB_open(path, MMDB_MODE_MMAP, &db.mmdb);
	if (status != MMDB_SUCCESS)
		GeoipReportOpenError(ERROR, path, status, errno);	/* MMDB_open freed it */

	db.open = true;
	db.path = MemoryContextStrdup(TopMemoryContext, path);
	db.dev = st.st_dev;
	db.ino = st.st_ino;
	db.size = st.st_size;
	db.mtime = st.st_mtim;
	db.checked_at = now;
	db.checked_stmt = stmt;
	db.reserved_in_file = GeoipReservedInFile(&db.mmdb);
	GeoipSetLayout();
	return &db.mmdb;

opened:
	if (db.layout_setting != geoshard_geoip_layout)
		GeoipSetLayout();
	return &db.mmdb;
}

/* The record at entry, decoded once and then kept until the file changes. */
static const GeoipRecord *
GeoipRecordAt(MMDB_entry_s *entry)
{
	/* Fibonacci hashing: offsets are not uniform in their low bits */
	uint32		hash = (entry->offset * UINT32_C(2654435769)) >> (32 - 14);
	GeoipCacheSlot *slot = &db.cache[hash];
	GeoipRecord record;

	StaticAssertStmt(GEOIP_CACHE_SLOTS == 1 << 14, "the hash yields 14 bits");
	if (slot->key == entry->offset + 1)
		return &slot->record;
	/* decode first: an error must not leave a half-filled slot */
	GeoipLayoutDecode(entry, db.layout, db.path, &record);
	slot->record = record;
	slot->key = entry->offset + 1;
	return &slot->record;
}

/* Raise the error for a file whose search tree is damaged. */
static void
pg_attribute_noreturn()
GeoipCorrupt(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid data in GeoIP database \"%s\"", db.path),
			 errdetail_internal("%s", detail)));
}

/*
 * Fill answer from the file for addr (4 bytes when ipv4, else 16); false
 * when the file has no entry for it, or an entry with neither a country
 * nor a location.
 */
static bool
GeoipLookupFile(MMDB_s *mmdb, const unsigned char *addr, bool ipv4, bool want_radius,
				GeoipAnswer *answer)
{
	struct sockaddr_storage sa;
	MMDB_lookup_result_s result;
	const GeoipRecord *record;
	int			mmdb_error;

	memset(&sa, 0, sizeof(sa));
	if (ipv4)
	{
		struct sockaddr_in *sin = (struct sockaddr_in *) &sa;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
	}
	else
	{
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &sa;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
	}

	result = MMDB_lookup_sockaddr(mmdb, (struct sockaddr *) &sa, &mmdb_error);
	/* an IPv4-only file has no answer for IPv6 addresses */
	if (mmdb_error == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
		return false;
	if (mmdb_error != MMDB_SUCCESS)
		GeoipCorrupt(psprintf("Looking up the address failed: %s.", MMDB_strerror(mmdb_error)));
	if (!result.found_entry)
		return false;

	record = GeoipRecordAt(&result.entry);
	if (record->country_len == 0 && !record->has_location)
		return false;
	answer->country = record->country_len > 0 ?
		cstring_to_text_with_len(record->country, record->country_len) : NULL;
	answer->has_location = record->has_location;
	answer->latitude = record->latitude;
	answer->longitude = record->longitude;
	answer->has_radius = want_radius && record->has_radius;
	answer->accuracy_radius_km = record->accuracy_radius_km;
	return true;
}

/*
 * Locate ip: from the file, else from the table.  Returns the source that
 * answered ("mmdb" or "table"), or NULL with answer all unknown.  Callers
 * that do not show the accuracy radius get none.
 *
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is looked up as its IPv4
 * address, in the file and in the table.  Reserved addresses the file has
 * no data for skip the file.
 */
const char *
GeoipLocate(inet *ip, bool want_radius, GeoipAnswer *answer)
{
	static const unsigned char mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	MMDB_s	   *mmdb = GeoipCurrentDatabase();
	const unsigned char *addr = ip_addr(ip);
	bool		ipv4 = ip_family(ip) == PGSQL_AF_INET;
	inet		ipv4_ip;

	if (!ipv4 && memcmp(addr, mapped_prefix, sizeof(mapped_prefix)) == 0)
	{
		addr += sizeof(mapped_prefix);
		ipv4 = true;
		memset(&ipv4_ip, 0, sizeof(ipv4_ip));
		ipv4_ip.inet_data.family = PGSQL_AF_INET;
		ipv4_ip.inet_data.bits = 32;
		memcpy(ipv4_ip.inet_data.ipaddr, addr, 4);
		SET_INET_VARSIZE(&ipv4_ip);
		ip = &ipv4_ip;
	}

	memset(answer, 0, sizeof(GeoipAnswer));
	if (mmdb != NULL)
	{
		int			range = GeoipReservedRange(addr, ipv4);

		if ((range < 0 || (db.reserved_in_file & (UINT32_C(1) << range)) != 0) &&
			GeoipLookupFile(mmdb, addr, ipv4, want_radius, answer))
		{
			ObserveCount(OBSERVE_GEOIP + OBSERVE_GEOIP_MMDB);
			return "mmdb";
		}
	}
	if (GeoipTableLookup(ip, answer))
	{
		answer->has_radius &= want_radius;
		ObserveCount(OBSERVE_GEOIP + OBSERVE_GEOIP_TABLE);
		return "table";
	}
	ObserveCount(OBSERVE_GEOIP + OBSERVE_GEOIP_MISS);
	return NULL;
}

/* geoip_lookup(ip): where an address is, and the source that said so (mmdb, table or NULL) */
PG_FUNCTION_INFO_V1(geoip_lookup);
Datum
geoip_lookup(PG_FUNCTION_ARGS)
{
	inet	   *ip = PG_GETARG_INET_PP(0);
	TupleDesc	desc = (TupleDesc) fcinfo->flinfo->fn_extra;
	GeoipAnswer answer;
	const char *source;
	Datum		values[5];
	bool		nulls[5];

	if (desc == NULL)
	{
		TupleDesc	result_desc;
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		desc = BlessTupleDesc(CreateTupleDescCopy(result_desc));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = desc;
	}

	source = GeoipLocate(ip, true, &answer);

	values[0] = PointerGetDatum(answer.country);
	nulls[0] = (answer.country == NULL);
	values[1] = Float8GetDatum(answer.latitude);
	nulls[1] = !answer.has_location;
	values[2] = Float8GetDatum(answer.longitude);
	nulls[2] = !answer.has_location;
	values[3] = Int32GetDatum(answer.accuracy_radius_km);
	nulls[3] = !answer.has_radius;
	values[4] = source ? CStringGetTextDatum(source) : (Datum) 0;
	nulls[4] = (source == NULL);

	PG_FREE_IF_COPY(ip, 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/*
 * Check hook of geoshard.geoip_database.  Every value is accepted, since the
 * file may be installed after the setting, but one that cannot be opened
 * gets a WARNING where someone will read it: in the server log when the
 * postmaster reads the configuration (start and reload, once however many
 * backends there are), and in the session for SET.  Opening maps the file
 * and reads only its metadata and first records, so this stays cheap.  A
 * file whose first records give no country and no location under its
 * layout gets a WARNING too.
 */
bool
GeoipDatabaseCheckHook(char **newval, void **extra, GucSource source)
{
	const char *path = *newval;
	struct stat st;
	MMDB_s		mmdb;
	int			status;
	GeoipLayout layout;
	bool		usable;

	if (path == NULL || path[0] == '\0')
		return true;
	if (!((source == PGC_S_FILE && !IsUnderPostmaster) ||
		  (source == PGC_S_SESSION && !IsParallelWorker())))
		return true;

	if (!GeoipStat(path, &st))
	{
		GeoipReportStatError(WARNING, path);
		return true;
	}
	status = MMDB_open(path, MMDB_MODE_MMAP, &mmdb);
	if (status != MMDB_SUCCESS)
	{
		GeoipReportOpenError(WARNING, path, status, errno);
		return true;
	}
	layout = GeoipLayoutDetect(&mmdb, (GeoipLayout) geoshard_geoip_layout, &usable);
	MMDB_close(&mmdb);
	if (!usable)
		GeoipLayoutWarnUnusable(WARNING, path, layout, (GeoipLayout) geoshard_geoip_layout);
	return true;
}
