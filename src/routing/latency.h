/*
 * src/routing/latency.h
 *	  Measured round trips from client networks to regions, smoothed, in
 *	  shared memory: what geoshard.observe_latency records and routing reads.
 */
#ifndef GEOSHARD_ROUTING_LATENCY_H
#define GEOSHARD_ROUTING_LATENCY_H

#include <sys/socket.h>

#include "storage/lwlock.h"
#include "utils/inet.h"

/* regions one client network keeps measurements for */
#define LATENCY_REGIONS_PER_NETWORK 8

/* a fresh smoothed measurement of one region from one network */
typedef struct LatencyObservation
{
	uint64		region_hash;	/* RoutingRegionIdHash() of the region */
	double		rtt_ms;			/* smoothed round trip */
	uint32		samples;
} LatencyObservation;

/* Key of the network an address belongs to (/24 for IPv4, /48 for IPv6). */
extern uint64 LatencyNetworkKey(const inet *ip);
extern char *LatencyNetworkText(const inet *ip);

/* Fresh observations of key's network; returns how many went to out. */
extern int	LatencyLookup(uint64 key, LatencyObservation *out);

extern Size LatencyShmemSize(void);
extern void LatencyShmemInit(void *shared, bool found, LWLockPadded *locks);

#endif							/* GEOSHARD_ROUTING_LATENCY_H */
