/*
 * src/crdt/hlc.h
 *	  The hlc type: a hybrid logical clock timestamp, and this node's clock.
 *
 * An Hlc is 16 bytes: a 64-bit time that packs wall-clock milliseconds
 * since the Unix epoch (high 48 bits) over a logical counter (low 16 bits),
 * then the id of the node that made it.  Timestamps order by time, then
 * node, so any two are comparable and ties between nodes break the same way
 * everywhere.  Incrementing the packed time bumps the logical counter and
 * carries into the milliseconds when the counter is full, which is the
 * usual HLC answer to an exhausted counter.
 */
#ifndef GEOSHARD_CRDT_HLC_H
#define GEOSHARD_CRDT_HLC_H

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "storage/lwlock.h"

typedef struct Hlc
{
	uint64		time;			/* milliseconds << 16 | logical */
	int32		node;			/* 0 .. PG_INT32_MAX */
	int32		reserved;		/* always 0 */
} Hlc;

#define HLC_LOGICAL_BITS	16
#define HLC_LOGICAL_MAX		((1 << HLC_LOGICAL_BITS) - 1)
/* 9999-12-31T23:59:59.999Z, the last millisecond the text form can show */
#define HLC_PHYSICAL_MAX	INT64CONST(253402300799999)

#define HlcPhysical(h)		((h)->time >> HLC_LOGICAL_BITS)
#define HlcLogical(h)		((int32) ((h)->time & HLC_LOGICAL_MAX))

#define DatumGetHlcP(X)		((Hlc *) DatumGetPointer(X))
#define HlcPGetDatum(X)		PointerGetDatum(X)
#define PG_GETARG_HLC_P(n)	DatumGetHlcP(PG_GETARG_DATUM(n))
#define PG_RETURN_HLC_P(x)	PG_RETURN_POINTER(x)

static inline int
HlcCompare(const Hlc *a, const Hlc *b)
{
	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	if (a->node != b->node)
		return a->node < b->node ? -1 : 1;
	return 0;
}

extern Hlc	HlcNow(void);
extern uint64 HlcTick(uint64 floor);
extern bool HlcClockIsShared(void);
extern int32 CrdtNodeId(void);
extern void HlcToText(StringInfo buf, const Hlc *hlc);
extern bool HlcParse(const char *str, Hlc *result);
extern Size HlcShmemSize(void);
extern void HlcShmemInit(void *shared, bool found, LWLockPadded *locks);

#endif							/* GEOSHARD_CRDT_HLC_H */
