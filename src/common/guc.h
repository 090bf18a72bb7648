/*
 * src/common/guc.h
 *	  Every geoshard.* setting: the variables, and the function that defines them.
 */
#ifndef GEOSHARD_COMMON_GUC_H
#define GEOSHARD_COMMON_GUC_H

/* geoshard.cover_max_cells: largest set quadkey_cover may return */
extern int	geoshard_cover_max_cells;

/* geoshard.node_id: this node's id in HLC stamps and CRDT states (0 = unset) */
extern int	geoshard_node_id;

/* geoshard.hlc_max_offset: how far ahead of our wall clock a remote HLC may be, ms */
extern int	geoshard_hlc_max_offset;

/* geoshard.geoip_database: path of the MaxMind DB file ("" = none) */
extern char *geoshard_geoip_database;

extern void GeoshardGucInit(void);

#endif							/* GEOSHARD_COMMON_GUC_H */
