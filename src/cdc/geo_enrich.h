/*
 * src/cdc/geo_enrich.h
 *	  The quadkey and owning node that the geoshard output plugin adds to the
 *	  events of tables with a quadkey column.
 */
#ifndef GEOSHARD_CDC_GEO_ENRICH_H
#define GEOSHARD_CDC_GEO_ENRICH_H

#include "lib/stringinfo.h"

#include "geo/quadkey.h"

extern void CdcGeoStart(MemoryContext parent);
extern Oid	CdcGeoQuadkeyType(void);
extern void CdcGeoAppendNode(StringInfo buf, Quadkey qk);

#endif							/* GEOSHARD_CDC_GEO_ENRICH_H */
