/*
 * src/routing/country.h
 *	  ISO 3166-1 alpha-2 country codes and a representative point of each
 *	  country: the check of route_region's country argument, and the
 *	  location of clients GeoIP places only in a country.
 */
#ifndef GEOSHARD_ROUTING_COUNTRY_H
#define GEOSHARD_ROUTING_COUNTRY_H

/* one country (country_points.c, generated from tzdata) */
typedef struct CountryPoint
{
	char		code[3];		/* upper case, NUL-terminated */
	bool		has_point;		/* false for territories tzdata gives no zone */
	double		lat;			/* degrees */
	double		lon;
	int32		radius_km;		/* how far the country reaches from the point */
} CountryPoint;

extern const CountryPoint CountryPoints[];
extern const int CountryPointCount;

extern const CountryPoint *CountryFind(const char *code, int len);
extern const CountryPoint *CountryCheckCode(const char *code, int len);

#endif							/* GEOSHARD_ROUTING_COUNTRY_H */
