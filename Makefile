# omnitask: PGXS build.
#
#   make && make install          build and install into the PostgreSQL of PG_CONFIG
#   make installcheck             pg_regress against a running server (PGHOST/PGPORT)
#   bash test/omnitask.sh demo    everything from a fresh machine: the main job
#   bash test/omnitask.sh test    everything from a fresh machine: every test

EXTENSION = omnitask
MODULE_big = omnitask
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA = $(sort $(wildcard sql/omnitask--*.sql))

# pg_regress scripts: every sql/*.sql that is not an extension script
REGRESS = $(sort $(basename $(notdir $(filter-out $(DATA),$(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --outputdir=test/tmp/regress --load-extension=omnitask

PG_CPPFLAGS = -Isrc $(shell pkg-config --cflags json-c)
# -Wno-unused-parameter: PostgreSQL's own headers have unused parameters in inline functions
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter
SHLIB_LINK = $(shell pkg-config --libs json-c)

EXTRA_CLEAN = test/tmp/regress test/tmp/unit

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The R4 tables are generated from ../shared/fhir/definitions (checked in).
FHIR_DEFS ?= ../shared/fhir/definitions
.PHONY: fhir-tables
fhir-tables:
	python3 src/gen/gen_fhir_tables.py $(FHIR_DEFS) src/

# The regression suite with postgres under valgrind; fails on any error in omnitask's code.
.PHONY: valgrind
valgrind:
	bash test/valgrind.sh
