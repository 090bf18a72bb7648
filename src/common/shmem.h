/*
 * src/common/shmem.h
 *	  Shared memory for geoshard: one request hook and one startup hook for
 *	  every area.
 */
#ifndef GEOSHARD_COMMON_SHMEM_H
#define GEOSHARD_COMMON_SHMEM_H

extern void GeoshardShmemInit(void);
extern bool GeoshardShmemAttached(void);

#endif							/* GEOSHARD_COMMON_SHMEM_H */
