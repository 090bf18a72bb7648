/*
 * src/routing/geoip.h
 *	  GeoIP lookups: where an address is, and the check hook of
 *	  geoshard.geoip_database.
 */
#ifndef GEOSHARD_ROUTING_GEOIP_H
#define GEOSHARD_ROUTING_GEOIP_H

#include "utils/guc.h"
#include "utils/inet.h"

/* one answer, built in the caller's memory context */
typedef struct GeoipAnswer
{
	text	   *country;		/* NULL when unknown */
	bool		has_location;
	double		latitude;
	double		longitude;
	bool		has_radius;
	int32		accuracy_radius_km;
} GeoipAnswer;

/* record layouts of MaxMind DB files (geoshard.geoip_layout) */
typedef enum GeoipLayout
{
	GEOIP_LAYOUT_AUTO,			/* detect per file */
	GEOIP_LAYOUT_MAXMIND,		/* GeoIP2/GeoLite2, DB-IP */
	GEOIP_LAYOUT_IPINFO,		/* IPinfo's flat records */
	GEOIP_LAYOUT_IPLOCATIONDB	/* ip-location-db's flat records */
} GeoipLayout;

extern const char *GeoipLocate(inet *ip, bool want_radius, GeoipAnswer *answer);
extern bool GeoipDatabaseCheckHook(char **newval, void **extra, GucSource source);

#endif							/* GEOSHARD_ROUTING_GEOIP_H */
