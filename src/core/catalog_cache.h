/*
 * src/core/catalog_cache.h
 *	  Loading geoshard's catalogue caches (the shard map, the routing table)
 *	  safely for any caller, in any process.
 */
#ifndef GEOSHARD_CORE_CATALOG_CACHE_H
#define GEOSHARD_CORE_CATALOG_CACHE_H

/* what CatalogCacheLoadEnd() restores */
typedef struct CatalogCacheLoad
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} CatalogCacheLoad;

extern void CatalogCacheLoadBegin(CatalogCacheLoad *load, Oid as_role);
extern void CatalogCacheLoadQuery(const char *sql, const char *table, bool read_only);
extern void CatalogCacheLoadEnd(CatalogCacheLoad *load);

#endif							/* GEOSHARD_CORE_CATALOG_CACHE_H */
