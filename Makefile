# tiergate: one non-recursive GNU Makefile (house-style.md).
#
#   make            build build/tiergate
#   make run        start the daemon on 127.0.0.1:8080 (packaging/run-dev.sh)
#   make test       -Werror build, unit tests, rule cases, fuzz corpus
#                   replay, then the same again under ASan+UBSan
#   make bench      benchmarks (figures, not timed tests)
#   make fuzz       libFuzzer targets (clang)
#   make valgrind   the API tests with the daemon under valgrind (slow;
#                   not part of make test)
#   make install    PREFIX=/usr/local DESTDIR= (also: make uninstall)
#   make deb        build/tiergate_VERSION_ARCH.deb (dpkg-buildpackage)
#   make dist       build/tiergate-VERSION.tar.gz, a release tarball
#
# Variables: SANITIZE=address,undefined builds into build/san/.

.DEFAULT_GOAL := all
SHELL := /bin/sh

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/tiergate
MANDIR ?= $(PREFIX)/share/man
# /etc for PREFIX=/usr (a distribution package), else PREFIX/etc.
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
DESTDIR ?=
# The release, from the one place the program takes it (main.c).
VERSION := $(shell sed -n 's/^\#define TIERGATE_VERSION "\(.*\)"$$/\1/p' \
	daemon/cli/main.c)

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := yaml-0.1 libcrypto jansson sqlite3 libmicrohttpd cmocka

# Install missing Debian packages before anything else, but only when
# pkg-config (or libcsv's header, which has no .pc file) says one is missing.
ifeq ($(filter deps clean distclean,$(MAKECMDGOALS)),)
DEPS_OK := $(shell $(PKG_CONFIG) --exists $(PKGS) 2>/dev/null && \
	test -f /usr/include/csv.h && command -v clang >/dev/null && \
	command -v sqlite3 >/dev/null && command -v chromium >/dev/null && \
	command -v openssl >/dev/null && echo yes)
ifneq ($(DEPS_OK),yes)
$(info tiergate: installing missing build dependencies (packaging/deps.sh))
DEPS_RC := $(shell sh packaging/deps.sh >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error packaging/deps.sh failed; install the packages it lists)
endif
endif
endif

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wpointer-arith -Wcast-qual \
	-Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition \
	-Wformat=2 -Wwrite-strings -Wvla -Wundef -Wimplicit-fallthrough \
	-fno-common
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now
OPT ?= -O2 -g

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs yaml-0.1 libcrypto jansson sqlite3 libmicrohttpd 2>/dev/null) -lcsv -lm -lpthread
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

CPPFLAGS += -Iinclude -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CFLAGS_BASE = -std=c11 $(OPT) $(WARN) $(PKG_CFLAGS) -MMD -MP
ifdef WERROR
CFLAGS_BASE += -Werror
endif

ifdef SANITIZE
B := build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
CFLAGS_ALL = $(CFLAGS_BASE) $(SANFLAGS) -O1 $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)
else
B := build
CFLAGS_ALL = $(CFLAGS_BASE) $(HARDEN) $(CFLAGS)
LDFLAGS_ALL = $(HARDEN_LD) $(LDFLAGS)
endif

# The library: every module but the CLI entry point.
LIB_SRC := $(sort $(wildcard daemon/util/*.c daemon/engine/*.c \
	daemon/store/*.c daemon/api/*.c daemon/http/*.c)) \
	$(filter-out daemon/cli/main.c,$(sort $(wildcard daemon/cli/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
LIB := $(B)/libtiergate.a
BIN := $(B)/tiergate

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
CASES_BIN := $(B)/tests/run_cases
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/tests/replay_%)
BENCH_BIN := $(B)/tests/bench_eval
BENCH_AUDIT_BIN := $(B)/tests/bench_audit
# Fault injection (tests/faults/README.md): failing every allocation of the
# engine, the loader and the decoder in turn.  Every arena call site fails
# too (-Wl,--wrap); under ASan, which owns malloc, the malloc family is
# wrapped instead of interposed.
OOM_BIN := $(B)/tests/test_oom
# and the LD_PRELOAD shim that makes the audit writer's I/O and OpenSSL
# calls fail on cue for tests/faults/faults.sh (never sanitized itself).
SHIM := $(B)/tests/faultshim.so
OOM_WRAP := arena_alloc arena_zalloc arena_strdup arena_strndup arena_printf
ifneq ($(findstring address,$(SANITIZE)),)
OOM_WRAP += malloc calloc realloc reallocarray free strdup strndup
endif

.SECONDARY:
.PHONY: all run test test-one bench fuzz valgrind lint check-deps install \
	clean deps uninstall dist deb
all: $(BIN)

deps:
	sh packaging/deps.sh

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS_ALL) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(B)/daemon/cli/main.o $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(B)/tests/test_%: $(B)/tests/unit/test_%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

$(OOM_BIN): $(B)/tests/faults/test_oom.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $(OOM_WRAP:%=-Wl,--wrap=%) -o $@ $^ $(PKG_LIBS)

$(SHIM): tests/faults/faultshim.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS_BASE) -fPIC -shared -o $@ $< \
	    $(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null) -ldl

$(CASES_BIN): $(B)/tests/cases/run_cases.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(B)/tests/replay_%: $(B)/tests/fuzz/%.o $(B)/tests/fuzz/replay_main.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BENCH_BIN): $(B)/tests/bench/bench_eval.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BENCH_AUDIT_BIN): $(B)/tests/bench/bench_audit.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# ---- run -------------------------------------------------------------
run: $(BIN)
	@sh packaging/run-dev.sh $(BIN)

# ---- tests -----------------------------------------------------------
# test-one runs every suite once, in the current build flavour; `make test`
# runs it twice: -Werror release build, then ASan+UBSan.
test-one: $(BIN) $(UNIT_BIN) $(CASES_BIN) $(REPLAY_BIN) $(OOM_BIN) $(SHIM)
	@sh tests/run_all.sh "$(B)"

test:
	@$(MAKE) --no-print-directory WERROR=1 lint check-deps
	@$(MAKE) --no-print-directory WERROR=1 test-one
	@$(MAKE) --no-print-directory WERROR=1 SANITIZE=address,undefined test-one

lint:
	@sh tests/lint.sh

check-deps:
	@sh tests/check_deps.sh

# The daemon against an echo server (issue 5) and a 1,000,000-row screen
# against a raw SQLite import (issue 6) need the disk the data dir lives
# on: set TMPDIR to it (default /tmp).
bench: $(BENCH_BIN) $(BENCH_AUDIT_BIN) $(BIN)
	./$(BENCH_BIN) rules
	./$(BENCH_AUDIT_BIN)
	sh tests/bench/bench_http.sh $(BIN)
	sh tests/bench/bench_screen.sh $(BIN)

fuzz:
	@sh tests/fuzz/run_fuzz.sh

# valgrind and the sanitizers do not mix: the release build only.
valgrind: $(BIN)
ifdef SANITIZE
	@echo "make valgrind: not with SANITIZE (use the plain build)" >&2; exit 2
endif
	@sh tests/valgrind.sh $(BIN)

# ---- install ---------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the rules and
# catalog, openapi.yaml, man pages, the default configuration (never
# overwritten: an existing one is kept), the systemd unit, sysusers.d and
# tmpfiles.d files.  Paths inside the configuration and the unit follow
# DATADIR, BINDIR and SYSCONFDIR.  The data dir is not created here: the
# tmpfiles.d file and the unit's StateDirectory= make /var/lib/tiergate.
CONF := $(DESTDIR)$(SYSCONFDIR)/tiergate/tiergate.yaml
# The configuration and unit as installed, with this install's paths.
INSTALLED_CONF = sed -e 's|^\(  - \)/usr/share/tiergate/rules$$|\1$(DATADIR)/rules|' \
	packaging/tiergate.yaml
INSTALLED_UNIT = sed -e 's|/usr/bin/tiergate |$(BINDIR)/tiergate |' \
	-e 's| /etc/tiergate/tiergate.yaml | $(SYSCONFDIR)/tiergate/tiergate.yaml |' \
	packaging/systemd/tiergate.service

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/rules
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/tiergate
	install -m 0644 rules/*.yaml $(DESTDIR)$(DATADIR)/rules/
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 docs/tiergate.1 $(DESTDIR)$(MANDIR)/man1/
	for m in docs/*.5; do [ -f "$$m" ] && \
	    install -m 0644 "$$m" $(DESTDIR)$(MANDIR)/man5/ || true; done
	[ -f docs/openapi.yaml ] && install -m 0644 docs/openapi.yaml \
	    $(DESTDIR)$(DATADIR)/ || true
	install -d $(DESTDIR)$(SYSCONFDIR)/tiergate
	if [ -e $(CONF) ]; then \
	    echo "install: keeping the existing $(CONF)"; \
	else \
	    $(INSTALLED_CONF) > $(CONF).tmp && chmod 0644 $(CONF).tmp && \
	    mv $(CONF).tmp $(CONF); \
	fi
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(TMPFILESDIR)
	$(INSTALLED_UNIT) > $(DESTDIR)$(SYSTEMDUNITDIR)/tiergate.service.tmp
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/tiergate.service.tmp
	mv $(DESTDIR)$(SYSTEMDUNITDIR)/tiergate.service.tmp \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/tiergate.service
	install -m 0644 packaging/systemd/tiergate.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/tiergate.conf
	install -m 0644 packaging/systemd/tiergate.tmpfiles \
	    $(DESTDIR)$(TMPFILESDIR)/tiergate.conf

# make uninstall: removes what install put there, with the same variables.
# The configuration goes only if it is unchanged; the data dir
# (/var/lib/tiergate: the audit log and signing key) and the tiergate user
# are never touched.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tiergate
	for f in rules/*.yaml; do rm -f "$(DESTDIR)$(DATADIR)/$$f"; done
	rm -f $(DESTDIR)$(DATADIR)/openapi.yaml
	-rmdir $(DESTDIR)$(DATADIR)/rules $(DESTDIR)$(DATADIR) 2>/dev/null
	rm -f $(DESTDIR)$(MANDIR)/man1/tiergate.1
	for m in docs/*.5; do rm -f "$(DESTDIR)$(MANDIR)/man5/$${m#docs/}"; done
	if [ -f $(CONF) ]; then \
	    if $(INSTALLED_CONF) | cmp -s - $(CONF); then rm -f $(CONF); \
	    else echo "uninstall: keeping the edited $(CONF)"; fi; \
	fi
	-rmdir $(DESTDIR)$(SYSCONFDIR)/tiergate 2>/dev/null
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/tiergate.service \
	    $(DESTDIR)$(SYSUSERSDIR)/tiergate.conf \
	    $(DESTDIR)$(TMPFILESDIR)/tiergate.conf

# ---- release ---------------------------------------------------------
# The files of a release: in a git checkout, every tracked file plus the
# untracked ones .gitignore does not exclude (what `make` would build
# from); elsewhere (an unpacked tarball), everything but build/ and var/.
# NUL-separated, for tar --null -T -.
SOURCE_FILES = if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	    git ls-files -z --cached --others --exclude-standard; \
	else \
	    find . \( -path ./build -o -path ./var -o -path ./.git \) -prune \
	        -o -type f -print0 | sed -z 's|^\./||'; \
	fi

# make dist: build/tiergate-VERSION.tar.gz, the tree under tiergate-VERSION/
# (owner 0, files sorted, mtime of the last commit).  Unpacked, it builds
# with `make` alone.
dist:
	@set -e; \
	[ -n "$(VERSION)" ] || { echo "make dist: no version in main.c" >&2; exit 1; }; \
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && \
	    [ -n "$$(git status --porcelain)" ]; then \
	    echo "make dist: warning: the tree has uncommitted changes;" \
	        "they are in the tarball" >&2; \
	fi; \
	mtime=$$(git log -1 --format=%ct 2>/dev/null || date +%s); \
	mkdir -p build; \
	{ $(SOURCE_FILES); } | tar --null -T - --ignore-failed-read \
	    --sort=name --owner=0 --group=0 --numeric-owner \
	    --mtime="@$$mtime" --transform 's|^|tiergate-$(VERSION)/|' \
	    -cf - | gzip -n9 > build/tiergate-$(VERSION).tar.gz.tmp; \
	mv build/tiergate-$(VERSION).tar.gz.tmp build/tiergate-$(VERSION).tar.gz; \
	echo "build/tiergate-$(VERSION).tar.gz"

# make deb: build/tiergate_VERSION_ARCH.deb.  dpkg-buildpackage runs in a
# throwaway copy of the tree (packaging/debian/ becomes its debian/), so
# the checkout stays clean.  Needs dpkg-dev and debhelper, and the
# Build-Depends of packaging/debian/control (`dpkg-checkbuilddeps` names
# any that are missing).
deb:
	@set -e; \
	for t in dpkg-buildpackage dh; do \
	    command -v $$t >/dev/null 2>&1 || { echo "make deb: '$$t' not" \
	        "found; apt-get install dpkg-dev debhelper" >&2; exit 1; }; \
	done; \
	v=$$(dpkg-parsechangelog -l packaging/debian/changelog -S Version); \
	[ "$$v" = "$(VERSION)" ] || { echo "make deb: packaging/debian/changelog" \
	    "is at $$v, main.c at $(VERSION); add a changelog entry" >&2; \
	    exit 1; }; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	src=$$tmp/tiergate-$(VERSION); mkdir "$$src"; \
	{ $(SOURCE_FILES); } | tar --null -T - --ignore-failed-read -cf - | \
	    tar -xf - -C "$$src"; \
	rm -rf "$$src/debian"; cp -R packaging/debian "$$src/debian"; \
	(cd "$$src" && dpkg-buildpackage -b -us -uc); \
	mkdir -p build; \
	cp "$$tmp"/tiergate_$(VERSION)_*.deb build/; \
	ls build/tiergate_$(VERSION)_*.deb

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
