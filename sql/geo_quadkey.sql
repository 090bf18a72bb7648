-- quadkey type: text and binary I/O, construction, navigation, bad input
SET extra_float_digits = 0;

-- text form round-trips; '' is the level-0 world tile
SELECT q, q::quadkey, quadkey_level(q::quadkey)
FROM (VALUES (''), ('0'), ('3'), ('0231'), ('02313012'),
			 ('01230123012301230123012301230')) v(q);
SELECT '  0231  '::quadkey;			-- surrounding whitespace is allowed

-- malformed text
SELECT '4'::quadkey;
SELECT '02 31'::quadkey;
SELECT '0231x'::quadkey;
SELECT '-1'::quadkey;
SELECT '012301230123012301230123012301'::quadkey;	-- 30 digits

-- Bing's documented example: tile (3, 5) at level 3 is "213"
SELECT quadkey_from_tile(3, 5, 3);
SELECT * FROM quadkey_tile('213');

-- points to tiles (the same tiles as slippy-map z/x/y)
SELECT quadkey(47.6062, -122.3321, 12) AS seattle, (quadkey_tile(quadkey(47.6062, -122.3321, 12))).*;
SELECT quadkey(0, 0, 1), quadkey(-0.0001, -0.0001, 1), quadkey(0.0001, 0.0001, 1);
SELECT quadkey(51.5, -0.12, 0);
-- edges: lon 180 is the last column, latitudes beyond the Mercator limit clamp
SELECT quadkey(0, 180, 2), quadkey(0, -180, 2);
SELECT quadkey(90, 0, 4), quadkey(85.05112878, 0, 4), quadkey(-90, 0, 4);
-- every level round-trips through tiles and centres
SELECT count(*) AS mismatches
FROM generate_series(0, 29) z,
	 LATERAL quadkey(12.34567, 98.76543, z) q,
	 LATERAL quadkey_center(q) c
WHERE quadkey_from_tile((quadkey_tile(q)).x, (quadkey_tile(q)).y, z) <> q
   OR quadkey(c.lat, c.lon, z) <> q;

-- bad coordinates and levels
SELECT quadkey('NaN', 0, 3);
SELECT quadkey(0, 'Infinity', 3);
SELECT quadkey(90.5, 0, 3);
SELECT quadkey(0, -180.5, 3);
-- swapped (lat, lon): the hint names the order; none when the latitude
-- could not be a longitude either
SELECT quadkey(-122.3321, 47.6062, 12);
SELECT quadkey(180, 0, 3);
SELECT quadkey(-180.5, 0, 3);
SELECT quadkey(0, 0, -1);
SELECT quadkey(0, 0, 30);
SELECT quadkey(NULL, 0, 3) IS NULL AS null_in_null_out;

-- navigation
SELECT quadkey_parent('0231'), quadkey_parent('0'), quadkey_parent('') IS NULL AS root_has_no_parent;
SELECT quadkey_parent('0231', 0), quadkey_parent('0231', 2), quadkey_parent('0231', 4);
SELECT quadkey_parent('0231', 5);
SELECT quadkey_parent('0231', -1);
SELECT quadkey_children('');
SELECT quadkey_children('0231');
SELECT quadkey_children('01230123012301230123012301230');
-- neighbours wrap at the antimeridian, not over the poles
SELECT quadkey_neighbors('');
SELECT array_agg(n) FROM quadkey_neighbors('0') n;
SELECT array_agg(n) FROM quadkey_neighbors('000') n;
SELECT array_agg(n) FROM quadkey_neighbors('033') n;
SELECT array_agg((quadkey_tile(n)).x || ',' || (quadkey_tile(n)).y) FROM quadkey_neighbors(quadkey_from_tile(5, 5, 4)) n;

-- tiles, boxes and centres
SELECT * FROM quadkey_tile('');
SELECT quadkey_from_tile(536870911, 536870911, 29);
SELECT quadkey_from_tile(4, 0, 2);
SELECT quadkey_from_tile(0, -1, 2);
SELECT quadkey_from_tile(0, 0, 30);
SELECT * FROM quadkey_bbox('');
SELECT * FROM quadkey_bbox('0');
SELECT * FROM quadkey_bbox('3');
SELECT * FROM quadkey_center('');
SELECT * FROM quadkey_center('0231');

-- binary I/O: send gives the 64-bit layout; recv checks it
SELECT quadkey_send('0231'), quadkey_send(''), quadkey_send('3');
CREATE TABLE qk_copy (q quadkey);
INSERT INTO qk_copy VALUES (''), ('0231'), ('01230123012301230123012301230');
-- a one-row binary COPY file with the given 8-byte field, read back
\set SHOW_CONTEXT never
CREATE FUNCTION copy_binary(payload bytea) RETURNS SETOF quadkey
LANGUAGE plpgsql AS $$
DECLARE
	path text := 'geoshard_qk.bin';		-- relative to the data directory
	header bytea := '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea;
	oid oid := lo_from_bytea(0, header || '\x0001'::bytea || '\x00000008'::bytea || payload || '\xffff'::bytea);
BEGIN
	PERFORM lo_export(oid, path);
	PERFORM lo_unlink(oid);
	TRUNCATE qk_copy;
	COPY qk_copy FROM 'geoshard_qk.bin' (FORMAT binary);
	RETURN QUERY SELECT q FROM qk_copy;
END
$$;
SELECT copy_binary(quadkey_send('0231'));
SELECT copy_binary('\x0000000000000000');
SELECT copy_binary('\x000000000000001e');	-- level 30
SELECT copy_binary('\x000000000000003f');	-- level 63
SELECT copy_binary('\x8000000000000000');	-- digit without a level
SELECT copy_binary('\x0000000000000041');	-- bit below level 1's digit
DROP FUNCTION copy_binary(bytea);
DROP TABLE qk_copy;
\set SHOW_CONTEXT errors

-- casts to and from bigint: the packed 64 bits, checked as binary input is
SELECT '0231'::quadkey::bigint AS "0231", ''::quadkey::bigint AS world,
	   '3'::quadkey::bigint AS "3", '33333333333333333333333333333'::quadkey::bigint AS last;
SELECT q, q::bigint::quadkey = q AS round_trip,
	   (q::bigint = int8send_as_bigint) AS same_bits
FROM (SELECT q, ('x' || encode(quadkey_send(q), 'hex'))::bit(64)::bigint AS int8send_as_bigint
	  FROM (VALUES (''::quadkey), ('0'), ('0231'), ('2'), ('3'), ('01230123012301230123012301230')) v(q)) s;
SELECT 0::bigint::quadkey AS world, 5::bigint::quadkey AS level_5,
	   (-4611686018427387903)::bigint::quadkey AS "3";
SELECT 30::bigint::quadkey;				-- level 30
SELECT (-1)::bigint::quadkey;			-- level 63
SELECT 64::bigint::quadkey;				-- path bit without a level
SELECT (1::bigint << 56 | 1)::quadkey;	-- bit below level 1's digit
SELECT NULL::bigint::quadkey IS NULL AS null_in_null_out;
-- explicit only: no implicit or assignment casts
SELECT '0231'::quadkey = 2738188573441261572;
CREATE TEMP TABLE qk_assign (q quadkey);
INSERT INTO qk_assign VALUES (2738188573441261572::bigint);
DROP TABLE qk_assign;
