-- CRDT laws, checked on thousands of random states from three nodes:
-- merge is commutative, associative and idempotent, and replicas that have
-- exchanged states in any order hold the same value.
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

DROP FUNCTION converges(text);
DROP FUNCTION check_laws(text, int);
DROP FUNCTION simulate(text, int);
DROP FUNCTION random_step(text, text, text, int);
DROP TABLE states;
