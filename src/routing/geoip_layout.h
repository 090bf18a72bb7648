/*
 * src/routing/geoip_layout.h
 *	  The record layouts of MaxMind DB files: detecting a file's layout and
 *	  decoding one record into what geoip_lookup and routing need.
 */
#ifndef GEOSHARD_ROUTING_GEOIP_LAYOUT_H
#define GEOSHARD_ROUTING_GEOIP_LAYOUT_H

#include <maxminddb.h>

#include "routing/geoip.h"

/* longest country code accepted from a file; ISO 3166-1 codes have 2 letters */
#define GEOIP_MAX_COUNTRY_LEN 8

/* one record, decoded: what geoip_lookup returns from it */
typedef struct GeoipRecord
{
	uint8		country_len;	/* 0 when the record has no country */
	char		country[GEOIP_MAX_COUNTRY_LEN];
	bool		has_location;
	bool		has_radius;
	int32		accuracy_radius_km;
	double		latitude;
	double		longitude;
} GeoipRecord;

extern GeoipLayout GeoipLayoutDetect(const MMDB_s *mmdb, GeoipLayout setting, bool *usable);
extern void GeoipLayoutDecode(MMDB_entry_s *entry, GeoipLayout layout, const char *path,
							  GeoipRecord *record);
extern const char *GeoipLayoutName(GeoipLayout layout);
extern void GeoipLayoutWarnUnusable(int elevel, const char *path, GeoipLayout layout,
									GeoipLayout setting);

#endif							/* GEOSHARD_ROUTING_GEOIP_LAYOUT_H */
