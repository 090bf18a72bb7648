/*
 * src/routing/geoip_reserved.c
 *	  Private and reserved address ranges (RFC 6890 and its successors):
 *	  recognised without walking the GeoIP file.
 *
 * Public GeoIP files leave these ranges empty, so a lookup there only costs
 * a walk that finds nothing.  Files built for one organisation may place
 * them (the office in 10.0.0.0/8), so when a backend opens a file it walks
 * the search tree down to each range once (GeoipReservedInFile): a range
 * whose subtree is empty in the file skips the file; one that holds any
 * data is looked up as before.  The table fallback is consulted either way.
 *
 * The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
 * 2001:db8::/32) are deliberately not here: examples and tests use them as
 * public addresses, and files built for tests place them.  IPv4-mapped IPv6
 * addresses are not here either: the caller looks them up as IPv4.
 */
#include "postgres.h"

#include "routing/geoip_reserved.h"

typedef struct GeoipReserved
{
	bool		ipv4;
	uint8		bits;			/* prefix length */
	uint8		prefix[16];		/* network address, IPv4 in the first 4 bytes */
} GeoipReserved;

static const GeoipReserved reserved[] = {
	{true, 8, {0}},				/* 0.0.0.0/8: this network */
	{true, 8, {10}},			/* 10.0.0.0/8: private */
	{true, 10, {100, 64}},		/* 100.64.0.0/10: carrier-grade NAT */
	{true, 8, {127}},			/* 127.0.0.0/8: loopback */
	{true, 16, {169, 254}},		/* 169.254.0.0/16: link-local */
	{true, 12, {172, 16}},		/* 172.16.0.0/12: private */
	{true, 24, {192, 0, 0}},	/* 192.0.0.0/24: IETF protocol assignments */
	{true, 16, {192, 168}},		/* 192.168.0.0/16: private */
	{true, 15, {198, 18}},		/* 198.18.0.0/15: benchmarking */
	{true, 4, {224}},			/* 224.0.0.0/4: multicast */
	{true, 4, {240}},			/* 240.0.0.0/4: reserved, and broadcast */
	{false, 128, {0}},			/* ::/128: unspecified */
	{false, 128, {[15] = 1}},	/* ::1/128: loopback */
	{false, 7, {0xfc}},			/* fc00::/7: unique local */
	{false, 10, {0xfe, 0x80}},	/* fe80::/10: link-local */
	{false, 8, {0xff}},			/* ff00::/8: multicast */
};

StaticAssertDecl(lengthof(reserved) <= 32, "GeoipReservedInFile returns a 32-bit mask");

/* Is bit i (0 = most significant of byte 0) of addr set? */
static inline bool
GeoipBit(const uint8 *addr, int i)
{
	return (addr[i >> 3] >> (7 - (i & 7))) & 1;
}

/* Does addr start with range's prefix? */
static bool
GeoipInRange(const uint8 *addr, const GeoipReserved *range)
{
	int			whole = range->bits >> 3;
	int			rest = range->bits & 7;

	if (memcmp(addr, range->prefix, whole) != 0)
		return false;
	return rest == 0 ||
		((addr[whole] ^ range->prefix[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* The reserved range holding addr (4 or 16 bytes), or -1. */
int
GeoipReservedRange(const uint8 *addr, bool ipv4)
{
	/* most addresses are public: decide those by their first byte */
	if (ipv4)
	{
		switch (addr[0])
		{
			case 0:
			case 10:
			case 100:
			case 127:
			case 169:
			case 172:
			case 192:
			case 198:
				break;
			default:
				if (addr[0] < 224)
					return -1;
		}
	}
	else if (addr[0] != 0 && addr[0] < 0xfc)
		return -1;

	for (int i = 0; i < (int) lengthof(reserved); i++)
		if (reserved[i].ipv4 == ipv4 && GeoipInRange(addr, &reserved[i]))
			return i;
	return -1;
}

/*
 * Walk the search tree of mmdb down to range; false when the range is empty
 * in the file.  IPv4 ranges in an IPv6 file sit under ::/96, where
 * libmaxminddb looks IPv4 addresses up.  Damaged nodes count as data: the
 * lookup will report them.
 */
static bool
GeoipRangeInFile(const MMDB_s *mmdb, const GeoipReserved *range)
{
	bool		ipv6_file = mmdb->metadata.ip_version == 6;
	int			skip = (range->ipv4 && ipv6_file) ? 96 : 0;
	uint32		node = 0;

	if (!range->ipv4 && !ipv6_file)
		return false;			/* an IPv4 file answers no IPv6 address */
	for (int i = 0; i < skip + range->bits; i++)
	{
		MMDB_search_node_s search;
		bool		right = i >= skip && GeoipBit(range->prefix, i - skip);
		uint8		type;

		if (MMDB_read_node(mmdb, node, &search) != MMDB_SUCCESS)
			return true;
		type = right ? search.right_record_type : search.left_record_type;
		if (type == MMDB_RECORD_TYPE_EMPTY)
			return false;
		if (type != MMDB_RECORD_TYPE_SEARCH_NODE)
			return true;
		node = (uint32) (right ? search.right_record : search.left_record);
	}
	return true;
}

/* Bit i set: reserved range i has data in mmdb and must be looked up there. */
uint32
GeoipReservedInFile(const MMDB_s *mmdb)
{
	uint32		mask = 0;

	for (int i = 0; i < (int) lengthof(reserved); i++)
		if (GeoipRangeInFile(mmdb, &reserved[i]))
			mask |= UINT32_C(1) << i;
	return mask;
}
