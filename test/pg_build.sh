#!/usr/bin/env bash
# Build an assert-enabled PostgreSQL from Debian's source package, into a cache
# directory outside the repository, and print the bin directory.
#
#   bash test/pg_build.sh 18          -> prints <cache>/pg-18.X/bin
#
# Source: Debian's postgresql-MAJOR source package (a deb-src entry for sid is
# added if apt knows no such source); only the upstream tarball
# (postgresql-MAJOR_X.orig.tar.bz2) is used, built with its own configure:
#   --enable-cassert --enable-debug --enable-tap-tests --without-icu
# (--without-icu: omnitask uses no ICU collation; saves a dependency).
# The cache is keyed by the exact upstream version, so a later run reuses it:
# OMNITASK_CACHE (default /var/cache/omnitask)/pg-VERSION.  Everything the
# PGXS installcheck needs is installed into the prefix: the server, client
# programs (pg_upgrade, pg_dump, ...), pg_regress, pg_isolation_regress,
# isolationtester and the PostgreSQL::Test perl modules.
# Progress goes to stderr; stdout is only the bin directory.
set -euo pipefail

MAJOR=${1:?usage: pg_build.sh MAJOR}
CACHE=${OMNITASK_CACHE:-/var/cache/omnitask}
JOBS=${OMNITASK_BUILD_JOBS:-$(nproc)}
log() { echo "pg_build: $*" >&2; }

mkdir -p "$CACHE"
# One build at a time per cache (two runs on one machine share it).
exec 9>"$CACHE/.lock-$MAJOR"
flock 9

src_known() { apt-cache showsrc "postgresql-$MAJOR" 2>/dev/null | grep -q '^Version:'; }
if ! src_known; then
    if [ "$(id -u)" != 0 ]; then
        log "no apt source for postgresql-$MAJOR and not root: add a deb-src entry for sid"
        exit 1
    fi
    log "adding a deb-src entry for Debian sid"
    cat > /etc/apt/sources.list.d/omnitask-sid-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update -qq >&2
fi

# The upstream version of the newest source package (18.6-3 -> 18.6).
if ! DEBVER=$(apt-cache showsrc "postgresql-$MAJOR" | awk '/^Version:/ {print $2}' | sort -V | tail -1) \
   || [ -z "$DEBVER" ]; then
    log "apt knows no source package postgresql-$MAJOR"; exit 1
fi
UPVER=${DEBVER%-*}
UPVER=${UPVER#*:}
PREFIX="$CACHE/pg-$UPVER"

# contrib modules the tests and the benchmark use: amcheck (040_crash_recovery),
# auto_explain (150_search_parity's plan cases), pg_stat_statements and
# pg_prewarm (test/bench).  A cache built before one was added is rebuilt.
CONTRIB=(amcheck pg_stat_statements pg_prewarm auto_explain)
cached() {
    local m
    [ -x "$PREFIX/bin/postgres" ] && [ -f "$PREFIX/.complete" ] || return 1
    for m in "${CONTRIB[@]}"; do
        [ -f "$PREFIX/lib/postgresql/$m.so" ] || { log "cache lacks $m: rebuilding"; return 1; }
    done
}
if cached; then
    log "cached: $PREFIX"
    echo "$PREFIX/bin"
    exit 0
fi

# Build dependencies (Debian 12 packages).  Since PostgreSQL 17 the release
# tarball no longer carries the generated parsers: bison and flex are needed.
BUILD_DEPS=(bison flex gcc make libreadline-dev zlib1g-dev pkg-config perl libipc-run-perl bzip2)
missing=()
for p in "${BUILD_DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

WORK="$CACHE/build-$UPVER"
rm -rf "$WORK" "$PREFIX"
mkdir -p "$WORK"
cd "$WORK"
log "downloading the postgresql-$MAJOR $DEBVER source package"
# apt-get source runs as the _apt user when root; let it write here.
chmod 777 "$WORK"
apt-get source --download-only -qq "postgresql-$MAJOR=$DEBVER" >&2
TARBALL=$(ls postgresql-"$MAJOR"_"$UPVER".orig.tar.* | head -1)
log "unpacking $TARBALL"
tar xf "$TARBALL"
cd "postgresql-$UPVER"

log "configure (cassert, debug, TAP tests) -> $PREFIX"
./configure --prefix="$PREFIX" --enable-cassert --enable-debug --enable-tap-tests \
    --without-icu CFLAGS="-O2 -g" >"$WORK/configure.log" 2>&1 \
    || { tail -30 "$WORK/configure.log" >&2; exit 1; }
log "make -j$JOBS (about 5 min on 2 idle cores)"
make -j"$JOBS" -s >"$WORK/make.log" 2>&1 || { tail -40 "$WORK/make.log" >&2; exit 1; }
make -s install >>"$WORK/make.log" 2>&1
# What PGXS's installcheck uses: pg_regress (installed by the above into
# lib/pgxs/src/test/regress), pg_isolation_regress + isolationtester, and the
# perl test modules (PostgreSQL::Test::Cluster) for TAP_TESTS.
make -s -C src/test/isolation install >>"$WORK/make.log" 2>&1
make -s -C src/test/perl install >>"$WORK/make.log" 2>&1
for m in "${CONTRIB[@]}"; do
    make -s -C "contrib/$m" install >>"$WORK/make.log" 2>&1
done
touch "$PREFIX/.complete"
cd "$CACHE"
rm -rf "$WORK"
log "installed $PREFIX"
echo "$PREFIX/bin"
