/*
 * src/routing/country.c
 *	  Country codes: which strings are ISO 3166-1 alpha-2 codes, and where a
 *	  country is when nothing more precise is known.
 *
 * The table (country_points.c) is generated from tzdata by
 * gen_country_points.pl and committed, so nothing here reads files at run
 * time.  It holds every assigned ISO 3166-1 alpha-2 code, plus XK (Kosovo,
 * as GeoIP files spell it), sorted by code.
 */
#include "postgres.h"

#include "routing/country.h"

/*
 * The country of an upper-case code, or NULL when code is not one: neither
 * two letters, nor assigned.
 */
const CountryPoint *
CountryFind(const char *code, int len)
{
	int			lo = 0;
	int			hi = CountryPointCount;

	if (len != 2)
		return NULL;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			cmp = memcmp(CountryPoints[mid].code, code, 2);

		if (cmp == 0)
			return &CountryPoints[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * The country a caller names (route_region's country argument): letters are
 * upper-cased, as add_geo_fence does, and anything but an assigned alpha-2
 * code is an error, since such a code would slip past every geo-fence.
 */
const CountryPoint *
CountryCheckCode(const char *code, int len)
{
	char		upper[2] = {0};
	bool		letters = len == 2;
	const CountryPoint *country;
	char	   *shown;

	for (int i = 0; i < 2 && letters; i++)
	{
		upper[i] = (code[i] >= 'a' && code[i] <= 'z') ? code[i] - ('a' - 'A') : code[i];
		letters = upper[i] >= 'A' && upper[i] <= 'Z';
	}
	country = letters ? CountryFind(upper, 2) : NULL;
	if (country != NULL)
		return country;

	shown = pnstrdup(code, len);

	if (letters && upper[0] == 'U' && upper[1] == 'K')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid country code: \"%s\"", shown),
				 errdetail("\"UK\" is not an assigned ISO 3166-1 alpha-2 code."),
				 errhint("The United Kingdom's code is \"GB\", as in GeoIP files.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid country code: \"%s\"", shown),
			 letters ?
			 errdetail("\"%s\" is not an assigned ISO 3166-1 alpha-2 code.", shown) :
			 errdetail("A country is given by its ISO 3166-1 alpha-2 code: two letters."),
			 errhint("Use a code such as \"DE\", as geo-fences and GeoIP files do, or NULL when the country is unknown.")));
	pg_unreachable();
}
