/*
 * src/health/probe.h
 *	  One round of health probes: every endpoint at once, each bounded by a
 *	  timeout, waited on together with the worker's latch.
 */
#ifndef GEOSHARD_HEALTH_PROBE_H
#define GEOSHARD_HEALTH_PROBE_H

#include "health/breaker.h"

extern void HealthProbeStartup(void);
extern void HealthProbeRound(const HealthTarget *targets, HealthResult *results, int n,
							 int timeout_ms);

#endif							/* GEOSHARD_HEALTH_PROBE_H */
