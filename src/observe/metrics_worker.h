/*
 * src/observe/metrics_worker.h
 *	  The metrics worker ("geoshard metrics"): /metrics and /healthz over
 *	  HTTP, from shared memory.
 */
#ifndef GEOSHARD_OBSERVE_METRICS_WORKER_H
#define GEOSHARD_OBSERVE_METRICS_WORKER_H

#include "utils/guc.h"

extern bool MetricsListenCheckHook(char **newval, void **extra, GucSource source);

#endif							/* GEOSHARD_OBSERVE_METRICS_WORKER_H */
