-- CRDT laws, checked on thousands of random states from three nodes:
-- merge is commutative, associative and idempotent, and replicas that have
-- exchanged states in any order hold the same value; and merges of sets
-- never lose an element that one state holds and the other has not observed.
SELECT setseed(0.314);

-- One step of a random history: a mutation by the given node, or a merge
-- of another replica's state.  States travel as text, as they would
-- between servers.
CREATE FUNCTION random_step(kind text, state text, other text, node int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	elem text := chr(97 + (random() * 5)::int);		-- 'a' .. 'f'
	result text;
BEGIN
	PERFORM set_config('geoshard.node_id', node::text, true);
	IF random() < 0.3 THEN
		EXECUTE format('SELECT crdt_merge($1::%1$s, $2::%1$s)::text', kind) INTO result USING state, other;
		RETURN result;
	END IF;
	CASE kind
		WHEN 'g_counter' THEN
			result := g_counter_inc(state::g_counter, (random() * 10)::int8)::text;
		WHEN 'pn_counter' THEN
			result := pn_counter_add(state::pn_counter, (random() * 20 - 10)::int8)::text;
		WHEN 'lww_register' THEN
			result := lww_register(to_jsonb(elem))::text;
			IF state <> '' AND random() < 0.5 THEN
				result := crdt_merge(state::lww_register, result::lww_register)::text;
			END IF;
		WHEN 'or_set' THEN
			result := CASE WHEN random() < 0.6 THEN or_set_add(state::or_set, elem)
						   ELSE or_set_remove(state::or_set, elem) END::text;
		WHEN 'lww_set' THEN
			result := CASE WHEN random() < 0.6 THEN lww_set_add(state::lww_set, elem)
						   ELSE lww_set_remove(state::lww_set, elem) END::text;
	END CASE;
	RETURN result;
END
$$;

CREATE TABLE states (kind text, id serial, s text);

-- Three replicas per type take random steps; every state they pass through is kept.
CREATE FUNCTION simulate(kind text, steps int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	empty text := CASE kind WHEN 'lww_register' THEN NULL ELSE '{}' END;
	replica text[] := ARRAY[empty, empty, empty];
	n int;
	o int;
BEGIN
	IF kind = 'lww_register' THEN
		FOR n IN 1..3 LOOP
			PERFORM set_config('geoshard.node_id', n::text, true);
			replica[n] := lww_register(to_jsonb(n))::text;
		END LOOP;
	END IF;
	FOR i IN 1..steps LOOP
		n := 1 + (random() * 2.999)::int % 3;
		o := 1 + (random() * 2.999)::int % 3;
		replica[n] := random_step(kind, replica[n], replica[o], n);
		INSERT INTO states (kind, s) VALUES (kind, replica[n]);
	END LOOP;
END
$$;

SELECT simulate(k, 800) FROM (VALUES ('g_counter'), ('pn_counter'), ('lww_register'), ('or_set'), ('lww_set')) v(k);
SELECT kind, count(*) AS states FROM states GROUP BY kind ORDER BY kind;

-- the laws, on random pairs and triples of states of each type
CREATE FUNCTION check_laws(kind text, trials int) RETURNS TABLE (crdt text, commutative bool, associative bool, idempotent bool)
LANGUAGE plpgsql AS $$
DECLARE
	a text; b text; c text;
	ab text; ba text; ab_c text; a_bc text; aa text;
	comm bool := true; assoc bool := true; idem bool := true;
BEGIN
	FOR i IN 1..trials LOOP
		SELECT s INTO a FROM states WHERE states.kind = check_laws.kind ORDER BY random() LIMIT 1;
		SELECT s INTO b FROM states WHERE states.kind = check_laws.kind ORDER BY random() LIMIT 1;
		SELECT s INTO c FROM states WHERE states.kind = check_laws.kind ORDER BY random() LIMIT 1;
		EXECUTE format('SELECT crdt_merge($1::%1$s, $2::%1$s)::text, crdt_merge($2::%1$s, $1::%1$s)::text,
						crdt_merge(crdt_merge($1::%1$s, $2::%1$s), $3::%1$s)::text,
						crdt_merge($1::%1$s, crdt_merge($2::%1$s, $3::%1$s))::text,
						crdt_merge($1::%1$s, $1::%1$s)::text', kind)
			INTO ab, ba, ab_c, a_bc, aa USING a, b, c;
		comm := comm AND ab = ba;
		assoc := assoc AND ab_c = a_bc;
		idem := idem AND aa = a;
	END LOOP;
	RETURN QUERY SELECT check_laws.kind, comm, assoc, idem;
END
$$;
SELECT l.* FROM (VALUES ('g_counter'), ('pn_counter'), ('lww_register'), ('or_set'), ('lww_set')) v(k),
	LATERAL check_laws(k, 400) l ORDER BY 1;

-- convergence: merge all states of a type in two different random orders
CREATE FUNCTION converges(kind text) RETURNS TABLE (crdt text, same_state bool, same_value bool)
LANGUAGE plpgsql AS $$
DECLARE
	x text; y text; vx text; vy text;
BEGIN
	EXECUTE format('SELECT crdt_merge_agg(s::%1$s ORDER BY random())::text FROM states WHERE kind = $1', kind) INTO x USING kind;
	EXECUTE format('SELECT crdt_merge_agg(s::%1$s ORDER BY random())::text FROM states WHERE kind = $1', kind) INTO y USING kind;
	EXECUTE format('SELECT crdt_value($1::%1$s)::text, crdt_value($2::%1$s)::text', kind) INTO vx, vy USING x, y;
	RETURN QUERY SELECT converges.kind, x = y, vx = vy;
END
$$;
SELECT c.* FROM (VALUES ('g_counter'), ('pn_counter'), ('lww_register'), ('or_set'), ('lww_set')) v(k),
	LATERAL converges(k) c ORDER BY 1;

-- text and binary forms round-trip exactly for every state
SELECT kind, count(*) FILTER (WHERE NOT ok) AS round_trip_failures
FROM (
	SELECT kind, CASE kind
		WHEN 'g_counter' THEN s::g_counter::text = s AND g_counter_send(s::g_counter) = g_counter_send(s::g_counter::text::g_counter)
		WHEN 'pn_counter' THEN s::pn_counter::text = s
		WHEN 'lww_register' THEN s::lww_register::text = s
		WHEN 'or_set' THEN s::or_set::text = s
		WHEN 'lww_set' THEN s::lww_set::text = s
	END AS ok
	FROM states) t
GROUP BY kind ORDER BY kind;

-- No element lost.  States built independently, each from '{}' (the delta
-- shape of an upsert), on one node or on three, by random adds and removes
-- of elements 'a' .. 'l'.  Neither state of a pair observed the other, so:
-- or_set: the merge holds exactly the union of the two values;
-- lww_set: the merge holds every element of either value that the other
-- state never touched (a state that removed an element it had seen may win
-- over a concurrent earlier add: that is last-writer-wins).
CREATE TABLE independent (kind text, nodes int, id int, s text);
CREATE FUNCTION build_independent(kind text, nodes int, n int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	state text;
	elem text;
BEGIN
	FOR i IN 1..n LOOP
		PERFORM set_config('geoshard.node_id', (1 + i % nodes)::text, true);
		state := '{}';
		FOR k IN 1..(1 + (random() * 4)::int) LOOP
			elem := chr(97 + (random() * 11)::int);
			IF kind = 'or_set' THEN
				state := CASE WHEN random() < 0.7 THEN or_set_add(state::or_set, elem)
							  ELSE or_set_remove(state::or_set, elem) END::text;
			ELSE
				state := CASE WHEN random() < 0.7 THEN lww_set_add(state::lww_set, elem)
							  ELSE lww_set_remove(state::lww_set, elem) END::text;
			END IF;
		END LOOP;
		INSERT INTO independent VALUES (kind, nodes, i, state);
	END LOOP;
END
$$;
SELECT build_independent(k, n, 300) FROM (VALUES ('or_set'), ('lww_set')) v(k), (VALUES (1), (3)) w(n);

CREATE FUNCTION values_of(kind text, s text) RETURNS text[] LANGUAGE plpgsql AS $$
BEGIN
	RETURN CASE kind WHEN 'or_set' THEN crdt_value(s::or_set) ELSE crdt_value(s::lww_set) END;
END
$$;
CREATE FUNCTION merged(kind text, a text, b text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN CASE kind WHEN 'or_set' THEN crdt_merge(a::or_set, b::or_set)::text ELSE crdt_merge(a::lww_set, b::lww_set)::text END;
END
$$;
-- the elements of a's value that b must keep: all of them for or_set, the
-- ones b has no stamp for in lww_set
CREATE FUNCTION must_keep(kind text, a text, b text) RETURNS text[] LANGUAGE sql AS $$
	SELECT coalesce(array_agg(e), '{}') FROM unnest(values_of(kind, a)) e
	WHERE kind = 'or_set' OR NOT (b::jsonb ? e)
$$;
SELECT kind, nodes, count(*) AS pairs,
	   count(*) FILTER (WHERE NOT values_of(kind, m) @> (must_keep(kind, a, b) || must_keep(kind, b, a))) AS lost_elements,
	   count(*) FILTER (WHERE kind = 'or_set' AND NOT values_of(kind, m) <@ (values_of(kind, a) || values_of(kind, b))) AS extra_elements
FROM (SELECT x.kind, x.nodes, x.s AS a, y.s AS b, merged(x.kind, x.s, y.s) AS m
	  FROM independent x JOIN independent y ON x.kind = y.kind AND x.nodes = y.nodes AND x.id < y.id AND y.id <= x.id + 20) p
GROUP BY kind, nodes ORDER BY kind, nodes;
-- all at once: crdt_merge_agg keeps the union of the or_set values
SELECT nodes, (SELECT array_agg(DISTINCT e) FROM independent j, unnest(crdt_value(j.s::or_set)) e
			   WHERE j.kind = 'or_set' AND j.nodes = i.nodes) <@ crdt_value(crdt_merge_agg(s::or_set)) AS all_kept
FROM independent i WHERE kind = 'or_set' GROUP BY nodes ORDER BY 1;
-- 20,000 one-element states of one node, merged at once: all elements
SET geoshard.node_id = 1;
SELECT cardinality(crdt_value(crdt_merge_agg(or_set_add('{}', 'e' || g)))) AS or_set,
	   cardinality(crdt_value(crdt_merge_agg(lww_set_add('{}', 'e' || g)))) AS lww_set
FROM generate_series(1, 20000) g;
-- and in parallel workers, where partial states are combined
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
CREATE TABLE many AS SELECT or_set_add('{}', 'e' || g) AS o, lww_set_add('{}', 'e' || g) AS l,
	g_counter_inc('{}', g) AS c FROM generate_series(1, 20000) g;
ANALYZE many;
EXPLAIN (COSTS OFF) SELECT crdt_merge_agg(o) FROM many;
SELECT cardinality(crdt_value(crdt_merge_agg(o))) AS or_set, cardinality(crdt_value(crdt_merge_agg(l))) AS lww_set,
	   crdt_value(crdt_merge_agg(c)) AS g_counter FROM many;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
-- the same answer as merging row by row with crdt_merge, for every type
CREATE FUNCTION fold_equals_agg(kind text) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
	acc text;
	agg text;
	r record;
BEGIN
	FOR r IN SELECT s FROM states WHERE states.kind = fold_equals_agg.kind ORDER BY id LOOP
		EXECUTE format('SELECT crdt_merge($1::%1$s, $2::%1$s)::text', kind) INTO acc USING acc, r.s;
	END LOOP;
	EXECUTE format('SELECT crdt_merge_agg(s::%1$s ORDER BY id DESC)::text FROM states WHERE kind = $1', kind) INTO agg USING kind;
	RETURN acc = agg;
END
$$;
SELECT k AS kind, fold_equals_agg(k) FROM (VALUES ('g_counter'), ('pn_counter'), ('lww_register'), ('or_set'), ('lww_set')) v(k) ORDER BY 1;
DROP FUNCTION fold_equals_agg(text);
SELECT crdt_merge_agg(s) IS NULL AS no_rows FROM (SELECT NULL::lww_set AS s WHERE false) t;
SELECT crdt_merge_agg(s) IS NULL AS only_nulls FROM (VALUES (NULL::pn_counter), (NULL)) t(s);
-- the accumulating transition value under every executor path: sorted and
-- hashed groups, running and sliding windows, and a result stored in a table
SET enable_hashagg = off;
CREATE TEMP TABLE by_sort AS
	SELECT id % 5 AS grp, crdt_merge_agg(s::or_set)::text AS o FROM states WHERE kind = 'or_set' GROUP BY 1;
RESET enable_hashagg;
SET enable_sort = off;
SELECT count(*) AS groups, bool_and(h.o = s.o) AS hashed_equals_sorted
FROM (SELECT id % 5 AS grp, crdt_merge_agg(s::or_set)::text AS o FROM states WHERE kind = 'or_set' GROUP BY 1) h
JOIN by_sort s USING (grp);
RESET enable_sort;
SELECT bool_and(w = f) AS running_window_equals_fold FROM (
	SELECT crdt_merge_agg(s::lww_set) OVER (ORDER BY id)::text AS w,
		   (SELECT crdt_merge_agg(s2.s::lww_set)::text FROM states s2 WHERE s2.kind = 'lww_set' AND s2.id <= s1.id) AS f
	FROM states s1 WHERE kind = 'lww_set') t;
SELECT bool_and(w = crdt_merge(p::g_counter, c::g_counter)::text) AS sliding_window_equals_pairs FROM (
	SELECT s AS c, lag(s) OVER (ORDER BY id) AS p,
		   crdt_merge_agg(s::g_counter) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)::text AS w
	FROM states WHERE kind = 'g_counter') t;
CREATE TEMP TABLE stored AS SELECT crdt_merge_agg(s::pn_counter) AS m FROM states WHERE kind = 'pn_counter';
SELECT m::text = (SELECT crdt_merge_agg(s::pn_counter)::text FROM states WHERE kind = 'pn_counter') AS stored_equals_agg FROM stored;
DROP TABLE by_sort, stored;
RESET geoshard.node_id;
DROP TABLE many;
DROP FUNCTION must_keep(text, text, text);
DROP FUNCTION merged(text, text, text);
DROP FUNCTION values_of(text, text);
DROP FUNCTION build_independent(text, int, int);
DROP TABLE independent;

DROP FUNCTION converges(text);
DROP FUNCTION check_laws(text, int);
DROP FUNCTION simulate(text, int);
DROP FUNCTION random_step(text, text, text, int);
DROP TABLE states;
