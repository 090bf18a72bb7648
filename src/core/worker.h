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

/* what GeoshardWorkerRun did with a unit of work */
typedef enum GeoshardWorkResult
{
	GEOSHARD_WORK_DONE,			/* ran and committed */
	GEOSHARD_WORK_NO_EXTENSION, /* not run: extension not created yet */
	GEOSHARD_WORK_FAILED,		/* raised an ERROR: logged, rolled back */
} GeoshardWorkResult;

typedef void (*GeoshardWorkFunction) (void *arg);

extern GeoshardWorkResult GeoshardWorkerRun(const char *activity, GeoshardWorkFunction work,
											void *arg);
extern long GeoshardWorkerRetryDelay(int failures);

/* a unit of work whose ERROR ends the worker (see worker.c) */
extern bool GeoshardWorkerBeginWork(const char *activity);
extern void GeoshardWorkerEndWork(void);

#endif							/* GEOSHARD_CORE_WORKER_H */
