/* geoshard upgrade script: 0.2 to 0.3 (ALTER EXTENSION geoshard UPDATE TO '0.3') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION geoshard UPDATE TO '0.3'" to load this file. \quit

-- Every change to the objects since 0.2, area by area, in the order of the
-- install script.  A fresh 0.3 install and an upgraded 0.1 or 0.2 install must
-- end up with the same objects: test/t/008_release_upgrade.pl compares them.

-- ===== geoip =====

-- ===== routing =====
