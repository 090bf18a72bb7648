/*
 * src/routing/routing_table.h
 *	  The routing table: geoshard.regions and geoshard.geo_fences as
 *	  route_region reads them, with each region's circuit breaker state.
 */
#ifndef GEOSHARD_ROUTING_ROUTING_TABLE_H
#define GEOSHARD_ROUTING_ROUTING_TABLE_H

#include "storage/lwlock.h"

/* limits of the fixed-size table; the catalogue trigger refuses more */
#define ROUTING_MAX_REGIONS			256
#define ROUTING_MAX_FENCES			64
#define ROUTING_MAX_FENCE_COUNTRIES	1024
#define ROUTING_NAME_LEN			64	/* region ids and fence names, with NUL */
#define ROUTING_COUNTRY_LEN			8	/* longest country code, without NUL */

/* words of a bitmap over region slots */
#define ROUTING_MASK_WORDS			(ROUTING_MAX_REGIONS / 64)

typedef enum RoutingBreaker
{
	ROUTING_BREAKER_CLOSED = 0, /* healthy: routable */
	ROUTING_BREAKER_HALF_OPEN,	/* recovering: routable after healthy regions */
	ROUTING_BREAKER_OPEN		/* failing: not routable */
} RoutingBreaker;

typedef struct RoutingRegion
{
	char		id[ROUTING_NAME_LEN];
	uint64		id_hash;		/* key of observed latencies */
	double		lat;			/* degrees */
	double		lon;
	/* for distances: cos(lat), and sine and cosine of half of lat and lon */
	double		coslat;
	double		sinhalflat;
	double		coshalflat;
	double		sinhalflon;
	double		coshalflon;
	double		cost;
	double		load_fraction;	/* load / capacity */
	bool		enabled;
	bool		drained;
	uint8		breaker;		/* RoutingBreaker, published by the health area */
	bool		degraded;		/* up but slow: routing adds a penalty */
} RoutingRegion;

typedef struct RoutingFence
{
	char		name[ROUTING_NAME_LEN];
	uint64		allowed[ROUTING_MASK_WORDS];	/* region slots it allows */
} RoutingFence;

/* one country of one fence; sorted by country, then fence */
typedef struct RoutingFenceCountry
{
	uint64		country;		/* RoutingCountryKey() */
	int			fence;
} RoutingFenceCountry;

/*
 * The table.  Regions are sorted by id, so that equal scores resolve to the
 * smallest id by slot order alone.
 */
typedef struct RoutingTable
{
	int			nregions;
	int			nfences;
	int			ncountries;
	bool		panic;			/* health panic mode: breakers published closed */
	RoutingRegion regions[ROUTING_MAX_REGIONS];
	RoutingFence fences[ROUTING_MAX_FENCES];
	RoutingFenceCountry countries[ROUTING_MAX_FENCE_COUNTRIES];
} RoutingTable;

/*
 * Borrow the current routing table; RoutingTableRelease() must follow
 * before anything that can error or wait.  Holds a shared LWLock when the
 * table is in shared memory.
 */
extern const RoutingTable *RoutingTableAcquire(void);
extern void RoutingTableRelease(void);

extern uint64 RoutingCountryKey(const char *country, int len);
extern uint64 RoutingRegionIdHash(const char *id);
extern int	RoutingFindRegion(const RoutingTable *table, const char *id);
extern const char *RoutingBreakerName(RoutingBreaker breaker);
extern bool RoutingServesDatabase(void);

/* one region's health, as the health area publishes it (sorted by id) */
typedef struct RoutingHealth
{
	char		id[ROUTING_NAME_LEN];
	uint8		breaker;		/* RoutingBreaker */
	bool		degraded;
} RoutingHealth;

extern void RoutingPublishHealth(const RoutingHealth *health, int n, bool panic);
extern void RoutingRequireShared(void);
extern bool RoutingHasRegion(const char *id);

extern Size RoutingShmemSize(void);
extern void RoutingShmemInit(void *shared, bool found, LWLockPadded *locks);

#endif							/* GEOSHARD_ROUTING_ROUTING_TABLE_H */
