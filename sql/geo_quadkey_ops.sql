-- quadkey operators: ordering, hashing, containment, and their indexes

-- pre-order: a tile sorts right before its descendants
SELECT array_agg(q ORDER BY q) FROM (VALUES ('1'::quadkey), ('0'), (''), ('01'), ('03'), ('10'), ('0333'), ('00')) v(q);
SELECT '0'::quadkey < '00', '03' < '1'::quadkey, '0333' < '1'::quadkey, '0' = '0'::quadkey, '0' <> '00'::quadkey,
	   '1' >= '0333'::quadkey, '1' > '1'::quadkey, '00' <= '00'::quadkey;

-- containment: a tile contains itself and its descendants
SELECT a, b, a @> b AS contains, a <@ b AS contained, a && b AS overlaps
FROM (VALUES ('02'::quadkey, '0231'::quadkey), ('0231', '02'), ('02', '02'),
			 ('02', '03'), ('', '3'), ('0231', '023'), ('0', '1')) v(a, b);

-- descendants are exactly the contiguous range [prefix, end of its subtree]
CREATE TABLE qks AS
	SELECT quadkey(lat, lon, lvl) AS q
	FROM generate_series(-80, 80, 7) lat, generate_series(-175, 175, 13) lon, generate_series(0, 12, 3) lvl;
SELECT count(*) FROM qks;
SELECT count(*) FILTER (WHERE q <@ '1') AS in_1,
	   count(*) FILTER (WHERE q >= '1' AND q < '2') AS range_1,
	   count(*) FILTER (WHERE q <@ '') AS in_world
FROM qks;

-- btree: <@ and @> with a constant prefix become an index range
CREATE INDEX qks_btree ON qks (q);
ANALYZE qks;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM qks WHERE q <@ '12';
EXPLAIN (COSTS OFF) SELECT * FROM qks WHERE '12' @> q;
SELECT count(*) FROM qks WHERE q <@ '12';
RESET enable_bitmapscan;
SET enable_indexscan = off;
SELECT count(*) FROM qks WHERE q <@ '12';
RESET enable_indexscan;
RESET enable_seqscan;
SELECT count(*) FROM qks WHERE q <@ '12';

-- hash: grouping and hash indexes
SELECT count(DISTINCT q) = (SELECT count(*) FROM (SELECT q FROM qks GROUP BY q) g) AS same_groups FROM qks;
CREATE INDEX qks_hash ON qks USING hash (q);
SET enable_seqscan = off;
SELECT count(*) FROM qks WHERE q = '120';
RESET enable_seqscan;
SELECT quadkey_hash('0231') = quadkey_hash('0231'::text::quadkey), quadkey_hash_extended('0231', 0) = quadkey_hash_extended('0231', 1);

-- GiST: containment, overlap and equality give the same answers as a scan
CREATE INDEX qks_gist ON qks USING gist (q);
CREATE TEMP TABLE probes AS SELECT * FROM (VALUES (''::quadkey), ('1'), ('12'), ('0231'), ('3012'), ('120'), ('1203')) v(p);
CREATE TEMP TABLE scan_answers AS
	SELECT p, (SELECT count(*) FROM qks WHERE q <@ p) AS inside,
			  (SELECT count(*) FROM qks WHERE q @> p) AS around,
			  (SELECT count(*) FROM qks WHERE q && p) AS overlap,
			  (SELECT count(*) FROM qks WHERE q = p) AS equal
	FROM probes;
SET enable_seqscan = off;
SET enable_indexscan = off;
DROP INDEX qks_btree;
DROP INDEX qks_hash;
EXPLAIN (COSTS OFF) SELECT count(*) FROM qks WHERE q && '12';
SELECT p, inside, around, overlap, equal,
	   inside = (SELECT count(*) FROM qks WHERE q <@ p)
	   AND around = (SELECT count(*) FROM qks WHERE q @> p)
	   AND overlap = (SELECT count(*) FROM qks WHERE q && p)
	   AND equal = (SELECT count(*) FROM qks WHERE q = p) AS index_agrees
FROM scan_answers ORDER BY p;
-- index-only scans rebuild quadkeys from the index keys
VACUUM qks;
RESET enable_indexscan;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT q FROM qks WHERE q <@ '12';
SELECT (SELECT array_agg(q ORDER BY q) FROM qks WHERE q <@ '12') =
	   (SELECT array_agg(q ORDER BY q) FROM (SELECT q::text::quadkey AS q FROM qks) s WHERE q <@ '12') AS index_only_agrees;
RESET enable_bitmapscan;
RESET enable_seqscan;
-- min and max follow the operators' pre-order, and a btree index answers them
SELECT min(q), max(q), min(q) IS NULL AS world_is_not_null
FROM (VALUES ('1'::quadkey), ('0'), ('01'), ('3'), ('02'), ('2333')) v(q);
SELECT min(q) = (SELECT q FROM qks ORDER BY q LIMIT 1) AS min_agrees,
	   max(q) = (SELECT q FROM qks ORDER BY q DESC LIMIT 1) AS max_agrees FROM qks;
SELECT min(q) IS NULL AS empty_min, max(q) IS NULL AS empty_max FROM qks WHERE false;
CREATE INDEX qks_minmax ON qks (q);
EXPLAIN (COSTS OFF) SELECT min(q), max(q) FROM qks;
DROP INDEX qks_minmax;
-- the index key type is internal
SELECT '1'::quadkey_gistkey;
DROP TABLE qks;
