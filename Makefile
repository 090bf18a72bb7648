# geoshard: PGXS build, plus `make test` / `make demo` that also set the machine up.
#
# The usual PGXS targets keep their meaning (make, make install, make installcheck).
# `make test` and `make demo` first install missing Debian packages, build and
# install (elevating through sudo when not root), then run servers as the
# unprivileged postgres user when started by root.

# geoshard_postgis is the PostGIS companion extension (pure SQL, docs/postgis.md).
EXTENSION = geoshard geoshard_postgis

# Versions.  A released version's install script is a file beside the control
# file, frozen: never edited again (docs/operations.md#upgrades).  Users reach a
# later version through upgrade scripts geoshard--<from>--<to>.sql.  The version
# under development, when it is not released yet, is built from the per-area
# SQL files below; when it is, those files must still build its frozen script.
EXTVERSION = 0.6
RELEASES = 0.1 0.2 0.3 0.4 0.5 0.6
POSTGIS_VERSION = 0.2
POSTGIS_RELEASES = 0.2

MODULE_big = geoshard
OBJS = \
	src/core/geoshard.o \
	src/core/guc.o \
	src/core/shmem.o \
	src/core/catalog_cache.o \
	src/core/worker.o \
	src/core/replicated_settings.o \
	src/geo/quadkey.o \
	src/geo/quadkey_ops.o \
	src/geo/quadkey_gist.o \
	src/geo/sphere.o \
	src/geo/cap.o \
	src/geo/cover.o \
	src/geo/dwithin.o \
	src/geo/dwithin_selectivity.o \
	src/geo/shardmap.o \
	src/crdt/hlc.o \
	src/crdt/crdt_io.o \
	src/crdt/counter.o \
	src/crdt/lww_register.o \
	src/crdt/or_set.o \
	src/crdt/lww_set.o \
	src/crdt/merge_agg.o \
	src/crdt/crdt_ops.o \
	src/routing/geoip.o \
	src/routing/country.o \
	src/routing/country_points.o \
	src/routing/geoip_layout.o \
	src/routing/geoip_reserved.o \
	src/routing/geoip_table.o \
	src/routing/latency.o \
	src/routing/route.o \
	src/routing/routing_table.o \
	src/routing/score.o \
	src/health/breaker.o \
	src/health/probe.o \
	src/health/health_worker.o \
	src/core/redis.o \
	src/cdc/decoder.o \
	src/cdc/decoder_options.o \
	src/cdc/json_value.o \
	src/cdc/relation_cache.o \
	src/cdc/geo_enrich.o \
	src/cdc/event_id.o \
	src/cdc/cdc_status.o \
	src/cdc/publisher.o \
	src/redisview/apply.o \
	src/redisview/status.o \
	src/redisview/worker.o \
	src/raft/raft_message.o \
	src/raft/raft_shmem.o \
	src/raft/raft_receive.o \
	src/raft/raft_snapshot.o \
	src/raft/raft_storage.o \
	src/raft/raft_transport.o \
	src/raft/raft_lookup.o \
	src/raft/raft_worker.o \
	src/raft/raft_admin.o \
	src/raft/raft_propose.o \
	src/raft/raft_call.o \
	src/ratelimit/gcra.o \
	src/ratelimit/rate_limit_table.o \
	src/ratelimit/rate_limit.o \
	src/observe/counters.o \
	src/observe/metrics.o \
	src/observe/metrics_routing.o \
	src/observe/metrics_health.o \
	src/observe/metrics_raft.o \
	src/observe/metrics_cdc.o \
	src/observe/metrics_redisview.o \
	src/observe/metrics_ratelimit.o \
	src/observe/exposition.o \
	src/observe/status_page.o \
	src/observe/metrics_worker.o

# Install script: per-area SQL files joined in this order.
SQL_PARTS = \
	src/core/core.sql \
	src/geo/geo.sql \
	src/crdt/crdt.sql \
	src/routing/routing.sql \
	src/health/health.sql \
	src/cdc/cdc.sql \
	src/ratelimit/ratelimit.sql \
	src/redisview/redisview.sql \
	src/raft/raft.sql \
	src/observe/observe.sql

DATA = $(foreach v,$(RELEASES),geoshard--$(v).sql) $(wildcard geoshard--*--*.sql) \
	$(foreach v,$(POSTGIS_RELEASES),geoshard_postgis--$(v).sql) $(wildcard geoshard_postgis--*--*.sql)
ifeq ($(filter $(EXTVERSION),$(RELEASES)),)
DATA_built += geoshard--$(EXTVERSION).sql
endif
ifeq ($(filter $(POSTGIS_VERSION),$(POSTGIS_RELEASES)),)
DATA_built += geoshard_postgis--$(POSTGIS_VERSION).sql
endif

REGRESS = \
	geo_quadkey \
	geo_quadkey_ops \
	geo_distance \
	geo_cover \
	geo_index \
	geo_shardmap \
	crdt_hlc \
	crdt_counter \
	crdt_lww_register \
	crdt_or_set \
	crdt_lww_set \
	crdt_properties \
	routing_geoip \
	routing_route \
	health_probe_checks \
	postgis_companion \
	cdc_decoder \
	cdc_decoder_types \
	cdc_decoder_options \
	ratelimit_gcra \
	observe_metrics
REGRESS_OPTS = --load-extension=geoshard

ISOLATION = crdt_upsert
ISOLATION_OPTS = --load-extension=geoshard

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

# libpq-fe.h: PostgreSQL's include directory, else where pkg-config finds libpq
PG_CPPFLAGS = -I$(srcdir)/src -I$(includedir) $(shell pkg-config --cflags-only-I libpq 2>/dev/null)
SHLIB_LINK = -lmaxminddb -lcurl -lhiredis -lraft -lmicrohttpd $(libpq)
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

# Where this Makefile lives, known before PGXS (which may be missing on a fresh machine).
GEOSHARD_SRC := $(patsubst %/,%,$(dir $(firstword $(MAKEFILE_LIST))))

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

ifneq ($(PGXS),)
include $(PGXS)
else
all install installcheck:
	@echo "geoshard: $(PG_CONFIG) not found; 'make test' installs the build dependencies" >&2
	@exit 1
endif

# PGXS does not track header dependencies; rebuild everything when one changes.
$(OBJS): $(wildcard $(GEOSHARD_SRC)/src/*/*.h)

ifeq ($(filter $(EXTVERSION),$(RELEASES)),)
geoshard--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@
endif
ifeq ($(filter $(POSTGIS_VERSION),$(POSTGIS_RELEASES)),)
geoshard_postgis--$(POSTGIS_VERSION).sql: src/postgis/geoshard_postgis.sql
	cat $^ > $@
endif

# A released version's script never changes: a change to the SQL files needs
# the next version (raise EXTVERSION, RELEASES stays) and an upgrade script.
all: check-released
check-released:
	$(call check-frozen,geoshard,$(EXTVERSION),$(RELEASES),$(SQL_PARTS))
	$(call check-frozen,geoshard_postgis,$(POSTGIS_VERSION),$(POSTGIS_RELEASES),src/postgis/geoshard_postgis.sql)

# $(call check-frozen,extension,version,releases,parts): when the version is
# released, its parts must still build its frozen script.
define check-frozen
$(if $(filter $(2),$(3)),@cat $(addprefix $(srcdir)/,$(4)) | cmp -s - $(srcdir)/$(1)--$(2).sql || \
	{ echo "geoshard: the SQL files no longer build the released $(1)--$(2).sql; start the next version: raise it in the Makefile and $(1).control and put the change in an upgrade script $(1)--$(2)--<next>.sql" >&2; exit 1; })
endef

# Elevate only the steps that need it.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: deps test demo demo-stop bench check-released country-points docker-test docker-build

# The country table is generated from tzdata and committed, so that builds do
# not need tzdata; regenerate it after a tzdata release (016 checks it).
ZONEINFO ?= /usr/share/zoneinfo
country-points:
	perl $(GEOSHARD_SRC)/src/routing/gen_country_points.pl $(ZONEINFO) > $(GEOSHARD_SRC)/src/routing/country_points.c.new
	mv $(GEOSHARD_SRC)/src/routing/country_points.c.new $(GEOSHARD_SRC)/src/routing/country_points.c

deps:
	@$(SUDO) $(GEOSHARD_SRC)/test/install-deps.sh

# The test-only fuzzing extension (test/fuzz) is built and installed too.
# The container test (docker/test.sh) runs last, counted in the same summary;
# CONTAINER_TEST=0 leaves it out.
CONTAINER_TEST ?= 1
test: deps
	$(MAKE) -C $(GEOSHARD_SRC) all
	$(SUDO) $(MAKE) -C $(GEOSHARD_SRC) install
	$(MAKE) -C $(GEOSHARD_SRC)/test/fuzz PG_CONFIG=$(PG_CONFIG)
	$(SUDO) $(MAKE) -C $(GEOSHARD_SRC)/test/fuzz PG_CONFIG=$(PG_CONFIG) install
	@PG_CONFIG=$(PG_CONFIG) GEOSHARD_CONTAINER_TEST=$(CONTAINER_TEST) $(GEOSHARD_SRC)/test/run-tests.sh "$(REGRESS)" "$(ISOLATION)"

# docker/: `make docker-test` runs the container test alone (podman, as root);
# `make docker-build` builds the two images of docker/compose.yaml with podman,
# or docker when there is no podman (docker/README.md).
CONTAINER_ENGINE ?= $(if $(shell command -v podman 2>/dev/null),podman,docker)
docker-test:
	$(SUDO) $(GEOSHARD_SRC)/docker/test.sh

docker-build:
	$(CONTAINER_ENGINE) build $(if $(filter podman,$(CONTAINER_ENGINE)),--format docker) \
		-f $(GEOSHARD_SRC)/docker/Dockerfile --target geoshard -t geoshard:latest $(GEOSHARD_SRC)
	$(CONTAINER_ENGINE) build $(if $(filter podman,$(CONTAINER_ENGINE)),--format docker) \
		-f $(GEOSHARD_SRC)/docker/Dockerfile --target redis -t geoshard-redis:latest $(GEOSHARD_SRC)

demo: deps
	$(MAKE) -C $(GEOSHARD_SRC) all
	$(SUDO) $(MAKE) -C $(GEOSHARD_SRC) install
	@PG_CONFIG=$(PG_CONFIG) $(GEOSHARD_SRC)/test/demo/demo.sh start

demo-stop:
	@PG_CONFIG=$(PG_CONFIG) $(GEOSHARD_SRC)/test/demo/demo.sh stop

# Benchmarks (test/bench/), by area: `make bench-<area>` runs that area's
# scripts, `make bench` all of them.
bench_core = run.sh
bench_routing = routing.sh
bench_health = health.sh
# decoding beside test_decoding and wal2json; publishing into Redis Streams
bench_cdc = cdc_decode.sh cdc_publish.sh
bench_ratelimit = ratelimit.sh
# radius reads on a geo view vs PostgreSQL, and freshness
bench_redisview = redisview.sh
# route_region with and without the metrics counters
bench_metrics = metrics.sh
# raft commit latency and failover beside a single node and etcd; throughput
bench_raft = raft.sh
BENCH_AREAS = core routing health cdc ratelimit redisview metrics raft

bench: $(addprefix bench-,$(BENCH_AREAS))

bench-%: deps
	@test -n "$(bench_$*)" || { echo "geoshard: no benchmark area '$*' (areas: $(BENCH_AREAS))" >&2; exit 1; }
	$(MAKE) -C $(GEOSHARD_SRC) all
	$(SUDO) $(MAKE) -C $(GEOSHARD_SRC) install
	@set -e; for script in $(bench_$*); do PG_CONFIG=$(PG_CONFIG) $(GEOSHARD_SRC)/test/bench/$$script; done
