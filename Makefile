# omnitask: PGXS build.
#
#   make && make install          build and install into the PostgreSQL of PG_CONFIG
#   make installcheck             pg_regress, isolation and TAP tests against a
#                                 running server (PGHOST/PGPORT; see README)
#   bash test/omnitask.sh demo    everything from a fresh machine: the main job
#   bash test/omnitask.sh test    everything from a fresh machine: every test
#
# A build for another PostgreSQL in a directory of its own (what
# test/omnitask.sh does for each version):
#   make -f /path/to/omnitask/Makefile VPATH=/path/to/omnitask PG_CONFIG=...

# the source tree (this Makefile's directory; differs from . in a VPATH build)
OMNITASK_SRC := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

EXTENSION = omnitask
MODULE_big = omnitask
OBJS = $(patsubst $(OMNITASK_SRC)/%.c,%.o,$(sort $(wildcard $(OMNITASK_SRC)/src/*.c)))
DATA = $(patsubst $(OMNITASK_SRC)/%,%,$(sort $(wildcard $(OMNITASK_SRC)/sql/omnitask--*.sql)))

# pg_regress scripts: every sql/*.sql that is not an extension script
# (expected output in expected/; a server whose messages differ may match
# expected/NAME_1.out instead, as pg_regress allows)
REGRESS = $(sort $(basename $(notdir $(filter-out $(addprefix $(OMNITASK_SRC)/,$(DATA)),$(wildcard $(OMNITASK_SRC)/sql/*.sql)))))
REGRESS_OUT = test/tmp/regress
REGRESS_OPTS = --outputdir=$(REGRESS_OUT) --load-extension=omnitask

# isolation specs: test/isolation/specs/NAME.spec, expected/NAME.out beside
ISOLATION = $(sort $(basename $(notdir $(wildcard $(OMNITASK_SRC)/test/isolation/specs/*.spec))))
ISOLATION_OUT = test/tmp/isolation
ISOLATION_OPTS = --inputdir=$(OMNITASK_SRC)/test/isolation --outputdir=$(ISOLATION_OUT) --load-extension=omnitask

# TAP tests: test/t/*.pl under prove.  Each runs clusters of its own
# (PostgreSQL::Test::Cluster) and reads the tree and the binaries from
# OMNITASK_TOP and PGBIN.
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
export OMNITASK_TOP = $(OMNITASK_SRC)
export PGBIN = $(bindir)

# pg_regress creates its output directory but not the ones above it
REGRESS_PREP = omnitask-test-dirs

PG_CPPFLAGS = -I$(OMNITASK_SRC)/src $(shell pkg-config --cflags json-c)
# -Wno-unused-parameter: PostgreSQL's own headers have unused parameters in inline functions
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter
SHLIB_LINK = $(shell pkg-config --libs json-c)

EXTRA_CLEAN = $(REGRESS_OUT) $(ISOLATION_OUT) test/tmp/unit

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
# Rebuild an object when a header it includes changes: PGXS's own
# dependency files (.deps/*.Po, gcc -MMD), which PostgreSQL's build turns on
# only when configured with --enable-depend.  Without them an object built
# before a header change (a struct, a generated table's index) kept the old
# layout and crashed or misread at run time.
override autodepend = yes
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: omnitask-test-dirs
omnitask-test-dirs:
	$(MKDIR_P) $(REGRESS_OUT) $(ISOLATION_OUT)
ifdef VPATH
# the pg_regress scripts read test/fixtures relative to the current directory
	$(MKDIR_P) test && ln -sfn $(OMNITASK_SRC)/test/fixtures test/fixtures
endif

# a VPATH build writes its objects into src/ of the build directory
ifdef VPATH
$(shell mkdir -p src)
endif

# The R4 tables are generated from ../shared/fhir/definitions (checked in).
FHIR_DEFS ?= ../shared/fhir/definitions
.PHONY: fhir-tables
fhir-tables:
	python3 $(OMNITASK_SRC)/src/gen/gen_fhir_tables.py $(FHIR_DEFS) $(OMNITASK_SRC)/src/

# The regression suite with postgres under valgrind; fails on any error in omnitask's code.
.PHONY: valgrind
valgrind:
	bash $(OMNITASK_SRC)/test/valgrind.sh
