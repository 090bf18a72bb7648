/*
 * src/geo/dwithin.h
 *	  Radius predicates shared between the operators and the GiST index.
 */
#ifndef GEOSHARD_GEO_DWITHIN_H
#define GEOSHARD_GEO_DWITHIN_H

#include "fmgr.h"
#include "nodes/pathnodes.h"
#include "utils/geo_decls.h"

#include "geo/cap.h"

/* Strategy of quadkey && circle in quadkey_gist_ops (geo.sql must agree) */
#define QUADKEY_DWITHIN_STRATEGY 20

extern const GeoCap *GeoCapFromCircle(FmgrInfo *flinfo, const CIRCLE *circle,
									  GeoCoordOrder order);
extern Selectivity DwithinSelectivity(PlannerInfo *root, List *args, int varRelid);

#endif							/* GEOSHARD_GEO_DWITHIN_H */
