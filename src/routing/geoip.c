/*
 * src/routing/geoip.c
 *	  geoip_lookup(ip): where an address is, from the MaxMind DB file named by
 *	  geoshard.geoip_database, else from the table geoshard.geoip_networks.
 *
 * Each backend memory-maps the file once (libmaxminddb's MMDB_MODE_MMAP) and
 * keeps the handle in a static struct across calls.  The handle is replaced
 * when the setting names another file, or when the file's identity (device,
 * inode, modification time, size) changes.  The file is stat()ed at most once
 * per second, and never twice in one statement, so a lookup normally costs
 * no system call beyond reading the clock, and one statement (geoip_lookup
 * is STABLE) answers from one file.  Files must be replaced by rename():
 * a file rewritten in place changes under the mapping of every backend.
 *
 * Nothing read from the file is trusted: every libmaxminddb status is
 * checked, every value's type is checked before it is read, and country
 * codes and coordinates are validated.  A file that breaks these rules gives
 * an ERROR naming the file, never a crash.
 *
 * The table answers when no file is configured or the file has no entry for
 * the address: the most specific network containing it wins.  The query is
 * prepared once per backend and runs through SPI as the caller, with the
 * caller's snapshot.
 */
#include "postgres.h"

#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <maxminddb.h>

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/guc.h"
#include "routing/geoip.h"

/* how often an open file is stat()ed for replacement, in milliseconds */
#define GEOIP_RECHECK_MS 1000

/* longest country code accepted from a file; ISO 3166-1 codes have 2 letters */
#define GEOIP_MAX_COUNTRY_LEN 8

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
	TimestampTz checked_stmt;	/* statement start of the last stat() */
} GeoipDatabase;

static GeoipDatabase db;

/* the table fallback's query, prepared on first use and kept */
static SPIPlanPtr table_plan = NULL;

#define GEOIP_TABLE_QUERY \
	"SELECT network, country, latitude, longitude, accuracy_radius_km" \
	" FROM geoshard.geoip_networks" \
	" WHERE network OPERATOR(pg_catalog.>>=) $1" \
	" ORDER BY pg_catalog.masklen(network) DESC LIMIT 1"

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

	stmt = GetCurrentStatementStartTimestamp();
	now = GetCurrentTimestamp();
	if (db.open && strcmp(db.path, path) == 0)
	{
		if (stmt == db.checked_stmt ||
			!TimestampDifferenceExceeds(db.checked_at, now, GEOIP_RECHECK_MS))
			return &db.mmdb;
	}

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
		db.checked_stmt = stmt;
		return &db.mmdb;
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
	return &db.mmdb;
}

/* Raise the error for a file whose contents break the format or our rules. */
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
 * Look up one field of entry; false when the entry does not have it.  A
 * path through a value of another type (a string where a map should be)
 * also counts as missing: libmaxminddb does not tell the two apart.
 */
static bool
GeoipGetField(MMDB_entry_s *entry, const char *const *path, const char *name,
			  MMDB_entry_data_s *data)
{
	int			status = MMDB_aget_value(entry, data, path);

	if (status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
		return false;
	if (status != MMDB_SUCCESS)
		GeoipCorrupt(psprintf("Reading field \"%s\" failed: %s.", name, MMDB_strerror(status)));
	return data->has_data;
}

/* The ISO country code at path, validated, or NULL. */
static text *
GeoipGetCountry(MMDB_entry_s *entry, const char *const *path, const char *name)
{
	MMDB_entry_data_s data;

	if (!GeoipGetField(entry, path, name, &data))
		return NULL;
	if (data.type != MMDB_DATA_TYPE_UTF8_STRING)
		GeoipCorrupt(psprintf("Field \"%s\" is not a string (type %u).", name, data.type));
	if (data.data_size < 1 || data.data_size > GEOIP_MAX_COUNTRY_LEN)
		GeoipCorrupt(psprintf("Field \"%s\" has an invalid length: %u.", name, data.data_size));
	for (uint32 i = 0; i < data.data_size; i++)
	{
		char		c = data.utf8_string[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			GeoipCorrupt(psprintf("Field \"%s\" is not a country code.", name));
	}
	return cstring_to_text_with_len(data.utf8_string, (int) data.data_size);
}

/* The coordinate at path, validated against [-limit, limit]; false if absent. */
static bool
GeoipGetCoordinate(MMDB_entry_s *entry, const char *const *path, const char *name,
				   double limit, double *result)
{
	MMDB_entry_data_s data;
	double		value;

	if (!GeoipGetField(entry, path, name, &data))
		return false;
	if (data.type == MMDB_DATA_TYPE_DOUBLE)
		value = data.double_value;
	else if (data.type == MMDB_DATA_TYPE_FLOAT)
		value = data.float_value;
	else
		GeoipCorrupt(psprintf("Field \"%s\" is not a number (type %u).", name, data.type));
	if (!(value >= -limit && value <= limit))	/* also refuses NaN */
		GeoipCorrupt(psprintf("Field \"%s\" is out of range: %g.", name, value));
	*result = value;
	return true;
}

/* location.accuracy_radius, in km, validated; false if absent. */
static bool
GeoipGetRadius(MMDB_entry_s *entry, int32 *result)
{
	static const char *const path[] = {"location", "accuracy_radius", NULL};
	const char *name = "location.accuracy_radius";
	MMDB_entry_data_s data;

	if (!GeoipGetField(entry, path, name, &data))
		return false;
	if (data.type == MMDB_DATA_TYPE_UINT16)
		*result = data.uint16;
	else if (data.type == MMDB_DATA_TYPE_UINT32 && data.uint32 <= PG_INT32_MAX)
		*result = (int32) data.uint32;
	else if (data.type == MMDB_DATA_TYPE_INT32 && data.int32 >= 0)
		*result = data.int32;
	else
		GeoipCorrupt(psprintf("Field \"%s\" is not a non-negative integer (type %u).",
							  name, data.type));
	return true;
}

/*
 * Fill answer from the file; false when the file has no entry for ip, or an
 * entry with neither a country nor a location.
 */
static bool
GeoipLookupFile(MMDB_s *mmdb, inet *ip, bool want_radius, GeoipAnswer *answer)
{
	static const char *const country_path[] = {"country", "iso_code", NULL};
	static const char *const registered_path[] = {"registered_country", "iso_code", NULL};
	static const char *const latitude_path[] = {"location", "latitude", NULL};
	static const char *const longitude_path[] = {"location", "longitude", NULL};
	struct sockaddr_storage addr;
	MMDB_lookup_result_s result;
	int			mmdb_error;
	bool		has_lat;
	bool		has_lon;

	memset(&addr, 0, sizeof(addr));
	if (ip_family(ip) == PGSQL_AF_INET)
	{
		struct sockaddr_in *sin = (struct sockaddr_in *) &addr;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, ip_addr(ip), 4);
	}
	else
	{
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &addr;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, ip_addr(ip), 16);
	}

	result = MMDB_lookup_sockaddr(mmdb, (struct sockaddr *) &addr, &mmdb_error);
	/* an IPv4-only file has no answer for IPv6 addresses */
	if (mmdb_error == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
		return false;
	if (mmdb_error != MMDB_SUCCESS)
		GeoipCorrupt(psprintf("Looking up the address failed: %s.", MMDB_strerror(mmdb_error)));
	if (!result.found_entry)
		return false;

	answer->country = GeoipGetCountry(&result.entry, country_path, "country.iso_code");
	if (answer->country == NULL)
		answer->country = GeoipGetCountry(&result.entry, registered_path,
										  "registered_country.iso_code");

	has_lat = GeoipGetCoordinate(&result.entry, latitude_path, "location.latitude",
								 90.0, &answer->latitude);
	has_lon = GeoipGetCoordinate(&result.entry, longitude_path, "location.longitude",
								 180.0, &answer->longitude);
	if (has_lat != has_lon)
		GeoipCorrupt(psprintf("Field \"%s\" is present without \"%s\".",
							  has_lat ? "location.latitude" : "location.longitude",
							  has_lat ? "location.longitude" : "location.latitude"));
	answer->has_location = has_lat;
	answer->has_radius = want_radius && GeoipGetRadius(&result.entry, &answer->accuracy_radius_km);

	return answer->country != NULL || answer->has_location;
}

/* Raise the error for an out-of-range value in a row of geoip_networks. */
static void
pg_attribute_noreturn()
GeoipInvalidRow(const char *network, const char *column, double value, const char *range)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("invalid %s in geoshard.geoip_networks for network %s: %g",
					column, network, value),
			 errdetail("The value must be %s.", range)));
}

/* Fill answer from geoshard.geoip_networks; false when no network contains ip. */
static bool
GeoipLookupTable(inet *ip, GeoipAnswer *answer)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		values[1];
	HeapTuple	tuple;
	TupleDesc	desc;
	Datum		d;
	bool		isnull;
	bool		lat_null;
	bool		lon_null;
	char	   *network;
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (table_plan == NULL)
	{
		Oid			argtypes[1] = {INETOID};
		SPIPlanPtr	plan = SPI_prepare(GEOIP_TABLE_QUERY, 1, argtypes);

		if (plan == NULL)
			elog(ERROR, "could not prepare the geoip_networks query: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "could not keep the geoip_networks query");
		table_plan = plan;
	}

	values[0] = PointerGetDatum(ip);
	ret = SPI_execute_plan(table_plan, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read geoshard.geoip_networks: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}

	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	network = SPI_getvalue(tuple, desc, 1);

	d = SPI_getbinval(tuple, desc, 3, &lat_null);
	answer->latitude = lat_null ? 0.0 : DatumGetFloat8(d);
	d = SPI_getbinval(tuple, desc, 4, &lon_null);
	answer->longitude = lon_null ? 0.0 : DatumGetFloat8(d);
	if (lat_null != lon_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("invalid location in geoshard.geoip_networks for network %s", network),
				 errdetail("Latitude and longitude must be both set or both null.")));
	answer->has_location = !lat_null;
	if (answer->has_location)
	{
		if (!(answer->latitude >= -90.0 && answer->latitude <= 90.0))
			GeoipInvalidRow(network, "latitude", answer->latitude, "between -90 and 90");
		if (!(answer->longitude >= -180.0 && answer->longitude <= 180.0))
			GeoipInvalidRow(network, "longitude", answer->longitude, "between -180 and 180");
	}

	d = SPI_getbinval(tuple, desc, 5, &isnull);
	answer->has_radius = !isnull;
	answer->accuracy_radius_km = isnull ? 0 : DatumGetInt32(d);
	if (answer->has_radius && answer->accuracy_radius_km < 0)
		GeoipInvalidRow(network, "accuracy_radius_km", answer->accuracy_radius_km,
						"zero or more");

	/* copy out before SPI_finish frees SPI's memory */
	d = SPI_getbinval(tuple, desc, 2, &isnull);
	if (!isnull)
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		answer->country = DatumGetTextPCopy(d);
		MemoryContextSwitchTo(old);
	}

	SPI_finish();
	return true;
}

/*
 * Locate ip: from the file, else from the table.  Returns the source that
 * answered ("mmdb" or "table"), or NULL with answer all unknown.  Callers
 * that do not show the accuracy radius skip reading it from the file.
 */
const char *
GeoipLocate(inet *ip, bool want_radius, GeoipAnswer *answer)
{
	MMDB_s	   *mmdb = GeoipCurrentDatabase();

	memset(answer, 0, sizeof(GeoipAnswer));
	if (mmdb != NULL && GeoipLookupFile(mmdb, ip, want_radius, answer))
		return "mmdb";
	memset(answer, 0, sizeof(GeoipAnswer));
	if (GeoipLookupTable(ip, answer))
		return "table";
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
 * and reads only its metadata, so this stays cheap.
 */
bool
GeoipDatabaseCheckHook(char **newval, void **extra, GucSource source)
{
	const char *path = *newval;
	struct stat st;
	MMDB_s		mmdb;
	int			status;

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
		GeoipReportOpenError(WARNING, path, status, errno);
	else
		MMDB_close(&mmdb);
	return true;
}
