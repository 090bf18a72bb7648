-- docker/initdb/10-sample.sql: the compose cluster's sample data.  The
-- entrypoint runs it once, at a node's first start, with the psql variables
-- node_id, node_name and founder (true on the node that bootstraps the group).
--
-- On every node: a table of places (not replicated: each node has its own),
-- published into the Redis stream geoshard:n<id>:places by a CDC sink and kept
-- in the Redis geo view places_n<id>.
CREATE TABLE places (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL,
	lat float8 NOT NULL,
	lon float8 NOT NULL
);
SELECT geoshard.add_cdc_sink(format('places_n%s', :node_id), format('geoshard:n%s:{table}', :node_id),
                             '{"include-tables": "public.places"}');
SELECT geoshard.add_redis_view(format('places_n%s', :node_id), 'places', 'geo', '{"shard_level": 12}');

-- On the founder: one region per node, with the node itself as the endpoint
-- every node's health worker probes.  The raft group takes them over when the
-- founder bootstraps it (the other nodes must join with an empty catalogue).
\if :founder
SELECT geoshard.add_region('eu-central', 50.11, 8.68, name => 'Frankfurt (node1)', endpoint => 'tcp://node1:5432');
SELECT geoshard.add_region('us-east', 38.90, -77.04, name => 'Washington (node2)', endpoint => 'tcp://node2:5432');
SELECT geoshard.add_region('ap-southeast', 1.35, 103.82, name => 'Singapore (node3)', endpoint => 'tcp://node3:5432');
\endif
