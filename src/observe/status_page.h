/*
 * src/observe/status_page.h
 *	  The status page served at / by the metrics worker: one self-contained
 *	  HTML page, built in its HTTP thread.
 */
#ifndef GEOSHARD_OBSERVE_STATUS_PAGE_H
#define GEOSHARD_OBSERVE_STATUS_PAGE_H

#include "routing/score.h"

extern char *StatusPageFormat(const void *snapshot, const uint64 *recent_reasons,
							  int window_s, size_t *len);

#endif							/* GEOSHARD_OBSERVE_STATUS_PAGE_H */
