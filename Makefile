# tiergate: one non-recursive GNU Makefile (house-style.md).
#
#   make            build build/tiergate
#   make run        decide the example queries (later: start the daemon)
#   make test       -Werror build, unit tests, rule cases, fuzz corpus
#                   replay, then the same again under ASan+UBSan
#   make bench      benchmarks (figures, not timed tests)
#   make fuzz       libFuzzer targets (clang)
#   make install    PREFIX=/usr/local DESTDIR=
#
# Variables: SANITIZE=address,undefined builds into build/san/.

.DEFAULT_GOAL := all
SHELL := /bin/sh

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/tiergate
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := yaml-0.1 libcrypto jansson sqlite3 libmicrohttpd cmocka

# Install missing Debian packages before anything else, but only when
# pkg-config (or libcsv's header, which has no .pc file) says one is missing.
ifeq ($(filter deps clean distclean,$(MAKECMDGOALS)),)
DEPS_OK := $(shell $(PKG_CONFIG) --exists $(PKGS) 2>/dev/null && \
	test -f /usr/include/csv.h && command -v clang >/dev/null && echo yes)
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

.SECONDARY:
.PHONY: all run test test-one bench fuzz lint check-deps install clean deps
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
test-one: $(BIN) $(UNIT_BIN) $(CASES_BIN) $(REPLAY_BIN)
	@sh tests/run_all.sh "$(B)"

test:
	@$(MAKE) --no-print-directory WERROR=1 lint check-deps
	@$(MAKE) --no-print-directory WERROR=1 test-one
	@$(MAKE) --no-print-directory WERROR=1 SANITIZE=address,undefined test-one

lint:
	@sh tests/lint.sh

check-deps:
	@sh tests/check_deps.sh

bench: $(BENCH_BIN) $(BENCH_AUDIT_BIN) $(BIN)
	./$(BENCH_BIN) rules
	./$(BENCH_AUDIT_BIN)

fuzz:
	@sh tests/fuzz/run_fuzz.sh

# ---- install ---------------------------------------------------------
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

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
