/*
 * src/common/guc.h
 *	  Every geoshard.* setting: the variables, and the function that defines them.
 */
#ifndef GEOSHARD_COMMON_GUC_H
#define GEOSHARD_COMMON_GUC_H

/* geoshard.cover_max_cells: largest set quadkey_cover may return */
extern int	geoshard_cover_max_cells;

extern void GeoshardGucInit(void);

#endif							/* GEOSHARD_COMMON_GUC_H */
