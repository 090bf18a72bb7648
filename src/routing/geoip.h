/*
 * src/routing/geoip.h
 *	  GeoIP lookups: the check hook of geoshard.geoip_database.
 */
#ifndef GEOSHARD_ROUTING_GEOIP_H
#define GEOSHARD_ROUTING_GEOIP_H

#include "utils/guc.h"

extern bool GeoipDatabaseCheckHook(char **newval, void **extra, GucSource source);

#endif							/* GEOSHARD_ROUTING_GEOIP_H */
