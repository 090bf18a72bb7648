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

extern const char *GeoipLocate(inet *ip, bool want_radius, GeoipAnswer *answer);
extern bool GeoipDatabaseCheckHook(char **newval, void **extra, GucSource source);

#endif							/* GEOSHARD_ROUTING_GEOIP_H */
