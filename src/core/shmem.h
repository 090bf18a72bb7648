/*
 * src/core/shmem.h
 *	  Shared memory for geoshard: one request hook and one startup hook for
 *	  every area.
 */
#ifndef GEOSHARD_CORE_SHMEM_H
#define GEOSHARD_CORE_SHMEM_H

extern void GeoshardShmemInit(void);
extern bool GeoshardShmemAttached(void);

#endif							/* GEOSHARD_CORE_SHMEM_H */
