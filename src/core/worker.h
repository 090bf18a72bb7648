/*
 * src/core/worker.h
 *	  geoshard's background workers: registration, start-up, the wait of the
 *	  main loop and the transaction around each unit of database work.
 */
#ifndef GEOSHARD_CORE_WORKER_H
#define GEOSHARD_CORE_WORKER_H

extern void GeoshardWorkersRegister(void);
extern void GeoshardWorkerStart(const char *name);
extern bool GeoshardWorkerWait(long timeout_ms);
extern bool GeoshardWorkerHandleInterrupts(void);
extern bool GeoshardWorkerBeginWork(const char *activity);
extern void GeoshardWorkerEndWork(void);

#endif							/* GEOSHARD_CORE_WORKER_H */
