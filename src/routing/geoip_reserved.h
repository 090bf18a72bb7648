/*
 * src/routing/geoip_reserved.h
 *	  Private and reserved address ranges, which no public GeoIP file places.
 */
#ifndef GEOSHARD_ROUTING_GEOIP_RESERVED_H
#define GEOSHARD_ROUTING_GEOIP_RESERVED_H

#include <maxminddb.h>

extern int	GeoipReservedRange(const uint8 *addr, bool ipv4);
extern uint32 GeoipReservedInFile(const MMDB_s *mmdb);

#endif							/* GEOSHARD_ROUTING_GEOIP_RESERVED_H */
