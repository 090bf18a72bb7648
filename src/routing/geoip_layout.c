/*
 * src/routing/geoip_layout.c
 *	  The record layouts of MaxMind DB files, and decoding one record.
 *
 * Layouts in wide use:
 *   - maxmind: GeoIP2/GeoLite2 City and Country, and DB-IP's files, which use
 *     the same keys: country.iso_code, else registered_country.iso_code;
 *     location.latitude, location.longitude, location.accuracy_radius.
 *   - ipinfo: flat records; country_code, else country (a code in IPinfo's
 *     location files); lat/lng, else latitude/longitude.  IPinfo writes
 *     every value as a string, so coordinates may be strings.
 *   - iplocationdb (sapics/ip-location-db): flat records; country_code,
 *     latitude, longitude (city, state1, postcode, timezone are not used).
 * A file's layout is detected once, when a backend opens it (and when the
 * setting is checked): from its first records, which say it by the type of
 * "country" (a map in maxmind files, a string in ipinfo ones) and by their
 * keys, else from its metadata; geoshard.geoip_layout may force it.
 *
 * Decoding reads only what geoip_lookup returns, and reads a map once:
 * "location" is found once and its three fields read inside it, rather than
 * walking the record from its start for every field (which skips the
 * record's city, continent and names each time).  Nothing read is trusted:
 * types are checked before values are read, country codes must be 1 to
 * GEOIP_MAX_COUNTRY_LEN ASCII letters or digits, coordinates must be in
 * range.  Helpers return a detail text instead of raising, because
 * detection also runs in the postmaster's check hook, where an ERROR would
 * end the postmaster.
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "routing/geoip_layout.h"

/* how many of a file's first records detection reads, and nodes it visits */
#define GEOIP_SAMPLE_RECORDS 16
#define GEOIP_SAMPLE_NODES 4096

const char *
GeoipLayoutName(GeoipLayout layout)
{
	switch (layout)
	{
		case GEOIP_LAYOUT_AUTO:
			return "auto";
		case GEOIP_LAYOUT_MAXMIND:
			return "maxmind";
		case GEOIP_LAYOUT_IPINFO:
			return "ipinfo";
		case GEOIP_LAYOUT_IPLOCATIONDB:
			return "iplocationdb";
	}
	return "?";
}

/*
 * Look up path under entry into data.  *found is false when the entry does
 * not have it; a path through a value of another type (a string where a
 * map should be) also counts as missing, as libmaxminddb does not tell the
 * two apart.  Returns a detail text when the file is damaged.
 */
static const char *
GeoipField(MMDB_entry_s *entry, const char *const *path, const char *name,
		   MMDB_entry_data_s *data, bool *found)
{
	int			status = MMDB_aget_value(entry, data, path);

	*found = false;
	if (status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
		return NULL;
	if (status != MMDB_SUCCESS)
		return psprintf("Reading field \"%s\" failed: %s.", name, MMDB_strerror(status));
	*found = data->has_data;
	return NULL;
}

/* The map named key at the top of entry, as an entry of its own; false if absent. */
static const char *
GeoipSubMap(MMDB_entry_s *entry, const char *key, MMDB_entry_s *sub, bool *found)
{
	const char *const path[] = {key, NULL};
	MMDB_entry_data_s data;
	const char *err = GeoipField(entry, path, key, &data, found);

	if (err != NULL || !*found)
		return err;
	if (data.type != MMDB_DATA_TYPE_MAP)
	{
		*found = false;			/* as a path through it would: missing */
		return NULL;
	}
	sub->mmdb = entry->mmdb;
	sub->offset = data.offset;
	return NULL;
}

/*
 * Read the country code at key of entry into record.  An empty string
 * counts as missing when empty_is_missing (flat layouts write "" for
 * unknown), as an invalid length otherwise.
 */
static const char *
GeoipCountry(MMDB_entry_s *entry, const char *key, const char *name, bool empty_is_missing,
			 GeoipRecord *record)
{
	const char *const path[] = {key, NULL};
	MMDB_entry_data_s data;
	bool		found;
	const char *err = GeoipField(entry, path, name, &data, &found);

	if (err != NULL || !found)
		return err;
	if (data.type != MMDB_DATA_TYPE_UTF8_STRING)
		return psprintf("Field \"%s\" is not a string (type %u).", name, data.type);
	if (data.data_size == 0 && empty_is_missing)
		return NULL;
	if (data.data_size < 1 || data.data_size > GEOIP_MAX_COUNTRY_LEN)
		return psprintf("Field \"%s\" has an invalid length: %u.", name, data.data_size);
	for (uint32 i = 0; i < data.data_size; i++)
	{
		char		c = data.utf8_string[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return psprintf("Field \"%s\" is not a country code.", name);
	}
	memcpy(record->country, data.utf8_string, data.data_size);
	record->country_len = (uint8) data.data_size;
	return NULL;
}

/*
 * Read the coordinate at key of entry, validated against [-limit, limit].
 * Strings are accepted when allow_string (IPinfo's files): a decimal number
 * and nothing else, or empty for missing.
 */
static const char *
GeoipCoordinate(MMDB_entry_s *entry, const char *key, const char *name, double limit,
				bool allow_string, double *result, bool *found)
{
	const char *const path[] = {key, NULL};
	MMDB_entry_data_s data;
	const char *err = GeoipField(entry, path, name, &data, found);
	double		value;

	if (err != NULL || !*found)
		return err;
	if (data.type == MMDB_DATA_TYPE_DOUBLE)
		value = data.double_value;
	else if (data.type == MMDB_DATA_TYPE_FLOAT)
		value = data.float_value;
	else if (data.type == MMDB_DATA_TYPE_UTF8_STRING && allow_string)
	{
		char		buf[32];
		char	   *end;

		if (data.data_size == 0)
		{
			*found = false;
			return NULL;
		}
		if (data.data_size >= sizeof(buf))
			return psprintf("Field \"%s\" is not a number.", name);
		memcpy(buf, data.utf8_string, data.data_size);
		buf[data.data_size] = '\0';
		errno = 0;
		value = strtod(buf, &end);
		if (end == buf || *end != '\0' || errno != 0 || isspace((unsigned char) buf[0]))
			return psprintf("Field \"%s\" is not a number: \"%s\".", name, buf);
	}
	else
		return psprintf("Field \"%s\" is not a number (type %u).", name, data.type);
	if (!(value >= -limit && value <= limit))	/* also refuses NaN */
		return psprintf("Field \"%s\" is out of range: %g.", name, value);
	*result = value;
	return NULL;
}

/* Read the accuracy radius (km) at key of entry into record. */
static const char *
GeoipRadius(MMDB_entry_s *entry, const char *key, const char *name, GeoipRecord *record)
{
	const char *const path[] = {key, NULL};
	MMDB_entry_data_s data;
	bool		found;
	const char *err = GeoipField(entry, path, name, &data, &found);

	if (err != NULL || !found)
		return err;
	if (data.type == MMDB_DATA_TYPE_UINT16)
		record->accuracy_radius_km = data.uint16;
	else if (data.type == MMDB_DATA_TYPE_UINT32 && data.uint32 <= PG_INT32_MAX)
		record->accuracy_radius_km = (int32) data.uint32;
	else if (data.type == MMDB_DATA_TYPE_INT32 && data.int32 >= 0)
		record->accuracy_radius_km = data.int32;
	else
		return psprintf("Field \"%s\" is not a non-negative integer (type %u).", name, data.type);
	record->has_radius = true;
	return NULL;
}

/* Both coordinates or neither. */
static const char *
GeoipPair(bool has_lat, bool has_lon, const char *lat_name, const char *lon_name,
		  GeoipRecord *record)
{
	if (has_lat != has_lon)
		return psprintf("Field \"%s\" is present without \"%s\".",
						has_lat ? lat_name : lon_name, has_lat ? lon_name : lat_name);
	record->has_location = has_lat;
	return NULL;
}

/* GeoIP2 City or Country records (MaxMind, DB-IP). */
static const char *
GeoipDecodeMaxmind(MMDB_entry_s *entry, GeoipRecord *record)
{
	MMDB_entry_s sub;
	bool		found;
	bool		has_lat;
	bool		has_lon;
	const char *err;

	if ((err = GeoipSubMap(entry, "country", &sub, &found)) != NULL)
		return err;
	if (found && (err = GeoipCountry(&sub, "iso_code", "country.iso_code", false, record)) != NULL)
		return err;
	if (record->country_len == 0)
	{
		if ((err = GeoipSubMap(entry, "registered_country", &sub, &found)) != NULL)
			return err;
		if (found && (err = GeoipCountry(&sub, "iso_code", "registered_country.iso_code",
										 false, record)) != NULL)
			return err;
	}

	if ((err = GeoipSubMap(entry, "location", &sub, &found)) != NULL || !found)
		return err;
	if ((err = GeoipCoordinate(&sub, "latitude", "location.latitude", 90.0, false,
							   &record->latitude, &has_lat)) != NULL ||
		(err = GeoipCoordinate(&sub, "longitude", "location.longitude", 180.0, false,
							   &record->longitude, &has_lon)) != NULL ||
		(err = GeoipPair(has_lat, has_lon, "location.latitude", "location.longitude",
						 record)) != NULL)
		return err;
	return GeoipRadius(&sub, "accuracy_radius", "location.accuracy_radius", record);
}

/*
 * A flat record's coordinate under *key; IPinfo files may spell it short
 * (ipinfo_key) instead, and then *key names the spelling found.
 */
static const char *
GeoipFlatCoordinate(MMDB_entry_s *entry, const char **key, const char *ipinfo_key,
					double limit, bool ipinfo, double *value, bool *found)
{
	const char *err = GeoipCoordinate(entry, *key, *key, limit, ipinfo, value, found);

	if (err == NULL && !*found && ipinfo)
	{
		*key = ipinfo_key;
		err = GeoipCoordinate(entry, *key, *key, limit, true, value, found);
	}
	return err;
}

/* Flat records: ip-location-db's, and IPinfo's, which have more spellings. */
static const char *
GeoipDecodeFlat(MMDB_entry_s *entry, bool ipinfo, GeoipRecord *record)
{
	const char *lat_key = "latitude";
	const char *lon_key = "longitude";
	bool		has_lat;
	bool		has_lon;
	const char *err;

	if ((err = GeoipCountry(entry, "country_code", "country_code", true, record)) != NULL)
		return err;
	if (record->country_len == 0 && ipinfo &&
		(err = GeoipCountry(entry, "country", "country", true, record)) != NULL)
		return err;

	if ((err = GeoipFlatCoordinate(entry, &lat_key, "lat", 90.0, ipinfo,
								   &record->latitude, &has_lat)) != NULL ||
		(err = GeoipFlatCoordinate(entry, &lon_key, "lng", 180.0, ipinfo,
								   &record->longitude, &has_lon)) != NULL)
		return err;
	return GeoipPair(has_lat, has_lon, lat_key, lon_key, record);
}

/* Decode entry with layout; a detail text when its data breaks the rules. */
static const char *
GeoipDecode(MMDB_entry_s *entry, GeoipLayout layout, GeoipRecord *record)
{
	memset(record, 0, sizeof(GeoipRecord));
	switch (layout)
	{
		case GEOIP_LAYOUT_IPINFO:
			return GeoipDecodeFlat(entry, true, record);
		case GEOIP_LAYOUT_IPLOCATIONDB:
			return GeoipDecodeFlat(entry, false, record);
		case GEOIP_LAYOUT_AUTO:
		case GEOIP_LAYOUT_MAXMIND:
			break;
	}
	return GeoipDecodeMaxmind(entry, record);
}

/*
 * Decode the record at entry, read with layout (never auto).  A record that
 * breaks the rules is an ERROR naming the file at path.
 */
void
GeoipLayoutDecode(MMDB_entry_s *entry, GeoipLayout layout, const char *path,
				  GeoipRecord *record)
{
	const char *err = GeoipDecode(entry, layout, record);

	if (err != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid data in GeoIP database \"%s\"", path),
				 errdetail_internal("%s", err)));
}

/* The layout one record shows by its keys, or auto when it shows none. */
static GeoipLayout
GeoipRecordLayout(MMDB_entry_s *entry)
{
	static const char *const maxmind_keys[] = {"country", "location", "registered_country"};
	MMDB_entry_data_s data;
	bool		found;

	for (int i = 0; i < (int) lengthof(maxmind_keys); i++)
	{
		const char *const path[] = {maxmind_keys[i], NULL};

		if (GeoipField(entry, path, maxmind_keys[i], &data, &found) == NULL && found &&
			data.type == MMDB_DATA_TYPE_MAP)
			return GEOIP_LAYOUT_MAXMIND;
	}
	{
		const char *const path[] = {"country_code", NULL};

		/* IPinfo's files with country_code also have lat/lng or a country name */
		if (GeoipField(entry, path, "country_code", &data, &found) == NULL && found)
		{
			const char *const lat_path[] = {"lat", NULL};
			const char *const country_path[] = {"country", NULL};

			if ((GeoipField(entry, lat_path, "lat", &data, &found) == NULL && found) ||
				(GeoipField(entry, country_path, "country", &data, &found) == NULL && found))
				return GEOIP_LAYOUT_IPINFO;
			return GEOIP_LAYOUT_IPLOCATIONDB;
		}
	}
	{
		static const char *const ipinfo_keys[] = {"country", "lat", "lng", "latitude"};

		for (int i = 0; i < (int) lengthof(ipinfo_keys); i++)
		{
			const char *const path[] = {ipinfo_keys[i], NULL};

			if (GeoipField(entry, path, ipinfo_keys[i], &data, &found) == NULL && found)
				return GEOIP_LAYOUT_IPINFO;
		}
	}
	return GEOIP_LAYOUT_AUTO;
}

/*
 * Up to max of the file's first records, in address order: a depth-first
 * walk of the search tree, left before right, that visits at most
 * GEOIP_SAMPLE_NODES nodes.  Damaged nodes end the walk.
 */
static int
GeoipSampleRecords(const MMDB_s *mmdb, MMDB_entry_s *entries, int max)
{
	uint32		stack[2 * 129];
	int			depth = 0;
	int			found = 0;
	int			visited = 0;

	if (mmdb->metadata.node_count == 0)
		return 0;
	stack[depth++] = 0;
	while (depth > 0 && found < max && visited++ < GEOIP_SAMPLE_NODES)
	{
		MMDB_search_node_s node;

		if (MMDB_read_node(mmdb, stack[--depth], &node) != MMDB_SUCCESS)
			break;
		/* right first, so that left is read first */
		for (int side = 1; side >= 0; side--)
		{
			uint8		type = side ? node.right_record_type : node.left_record_type;
			uint64		value = side ? node.right_record : node.left_record;

			if (type == MMDB_RECORD_TYPE_SEARCH_NODE && depth < (int) lengthof(stack))
				stack[depth++] = (uint32) value;
		}
		for (int side = 0; side <= 1 && found < max; side++)
		{
			uint8		type = side ? node.right_record_type : node.left_record_type;
			MMDB_entry_s *entry = side ? &node.right_record_entry : &node.left_record_entry;
			bool		seen = false;

			if (type != MMDB_RECORD_TYPE_DATA)
				continue;
			for (int i = 0; i < found; i++)
				seen |= (entries[i].offset == entry->offset);
			if (!seen)
				entries[found++] = *entry;
		}
	}
	return found;
}

/* Does text (metadata, any case) contain needle? */
static bool
GeoipMentions(const char *text, const char *needle)
{
	return text != NULL && strcasestr(text, needle) != NULL;
}

/* The layout the metadata names, or auto. */
static GeoipLayout
GeoipMetadataLayout(const MMDB_s *mmdb)
{
	const MMDB_metadata_s *meta = &mmdb->metadata;

	for (size_t i = 0; i <= meta->description.count; i++)
	{
		const char *text = i == 0 ? meta->database_type :
			meta->description.descriptions[i - 1]->description;

		if (GeoipMentions(text, "ip-location-db"))
			return GEOIP_LAYOUT_IPLOCATIONDB;
		if (GeoipMentions(text, "ipinfo"))
			return GEOIP_LAYOUT_IPINFO;
		if (GeoipMentions(text, "GeoIP2") || GeoipMentions(text, "GeoLite2"))
			return GEOIP_LAYOUT_MAXMIND;
	}
	return GEOIP_LAYOUT_AUTO;
}

/*
 * The layout to read mmdb with: setting unless it is auto, else what the
 * first records show (a majority), else what the metadata names, else
 * maxmind.  *usable is false when records were read and none of them gives
 * a country or a location with that layout.  Never raises an ERROR.
 */
GeoipLayout
GeoipLayoutDetect(const MMDB_s *mmdb, GeoipLayout setting, bool *usable)
{
	MMDB_entry_s entries[GEOIP_SAMPLE_RECORDS];
	int			nentries = GeoipSampleRecords(mmdb, entries, GEOIP_SAMPLE_RECORDS);
	int			votes[GEOIP_LAYOUT_IPLOCATIONDB + 1] = {0};
	GeoipLayout layout = setting;

	if (layout == GEOIP_LAYOUT_AUTO)
	{
		for (int i = 0; i < nentries; i++)
			votes[GeoipRecordLayout(&entries[i])]++;
		for (int l = GEOIP_LAYOUT_MAXMIND; l <= GEOIP_LAYOUT_IPLOCATIONDB; l++)
			if (votes[l] > 0 && (layout == GEOIP_LAYOUT_AUTO || votes[l] > votes[layout]))
				layout = (GeoipLayout) l;
	}
	if (layout == GEOIP_LAYOUT_AUTO)
		layout = GeoipMetadataLayout(mmdb);
	if (layout == GEOIP_LAYOUT_AUTO)
		layout = GEOIP_LAYOUT_MAXMIND;

	*usable = (nentries == 0);
	for (int i = 0; i < nentries && !*usable; i++)
	{
		GeoipRecord record;

		if (GeoipDecode(&entries[i], layout, &record) == NULL)
			*usable = record.country_len > 0 || record.has_location;
	}
	return layout;
}

/* Report, at elevel, that a file gives nothing routing can use. */
void
GeoipLayoutWarnUnusable(int elevel, const char *path, GeoipLayout layout, GeoipLayout setting)
{
	ereport(elevel,
			(errcode(ERRCODE_WARNING),
			 errmsg("GeoIP database \"%s\" gives no country and no location", path),
			 errdetail("Its first records, read with the %s layout (%s), have neither a country code nor coordinates.",
					   GeoipLayoutName(layout),
					   setting == GEOIP_LAYOUT_AUTO ? "detected" : "set by geoshard.geoip_layout"),
			 errhint("Use a City or Country database, or set geoshard.geoip_layout to the layout of the file.")));
}
