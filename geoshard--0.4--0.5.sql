/* geoshard upgrade script: 0.4 to 0.5 (ALTER EXTENSION geoshard UPDATE TO '0.5') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION geoshard UPDATE TO '0.5'" to load this file. \quit

-- Every change to the objects since 0.4, area by area, in the order of the
-- install script.  A fresh 0.5 install and an upgraded 0.1 to 0.4 install
-- must end up with the same objects: test/t/008_release_upgrade.pl compares them.

-- ===== geo =====

-- ===== routing =====

-- ===== health =====

-- ===== cdc =====

-- ===== ratelimit =====

-- ===== redisview =====

-- ===== raft =====

-- ===== observe =====
