/*
 * src/observe/exposition.h
 *	  The Prometheus text exposition format (version 0.0.4) of geoshard's
 *	  metrics, into a malloc'd buffer: callable from the metrics worker's
 *	  HTTP thread.
 */
#ifndef GEOSHARD_OBSERVE_EXPOSITION_H
#define GEOSHARD_OBSERVE_EXPOSITION_H

extern char *MetricsFormatText(const void *snapshot, size_t *len);

#endif							/* GEOSHARD_OBSERVE_EXPOSITION_H */
