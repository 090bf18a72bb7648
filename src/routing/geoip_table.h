/*
 * src/routing/geoip_table.h
 *	  The table fallback of GeoIP lookups, geoshard.geoip_networks.
 */
#ifndef GEOSHARD_ROUTING_GEOIP_TABLE_H
#define GEOSHARD_ROUTING_GEOIP_TABLE_H

#include "routing/geoip.h"

extern bool GeoipTableLookup(inet *ip, GeoipAnswer *answer);

#endif							/* GEOSHARD_ROUTING_GEOIP_TABLE_H */
