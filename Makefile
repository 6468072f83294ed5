# popbridge — plain GNU make.
#
#   make                 build ./popbridge
#   make check           install missing packages, build, run every test suite
#   make sanitize        the same suites under ASan+UBSan (leaks included)
#   make demo            a throw-away Dovecot with sample mail (and popbridge)
#   make fuzz            run the fuzz targets for a bounded time (clang)
#   make bench           benchmarks, printed as ratios against a reference
#   make load            load: 2,000 sessions, 10,000 idle connections (not in check)
#   make install PREFIX=/usr/local DESTDIR=
#   make check-MODULE    one suite: harness pop3 smtp imap state bridge interop
#
# B= names the build directory (default build/), so parallel builds and the
# sanitizer build never share objects.

B        ?= build
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
DATADIR  ?= $(PREFIX)/share/popbridge
DOCDIR   ?= $(PREFIX)/share/doc/popbridge
PKGS     := openssl libxml-2.0 sqlite3 libmicrohttpd libcurl jansson
CFLAGS   ?= -O2 -g
LDFLAGS  ?=
FUZZ_SECONDS ?= 60

STD_FLAGS := -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -pthread

# pkg-config runs once, and only when something is compiled, so `make deps`
# can install the libraries before anything asks for their flags.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)
CHECK_CFLAGS = $(eval CHECK_CFLAGS := $$(shell pkg-config --cflags check))$(CHECK_CFLAGS)
CHECK_LIBS   = $(eval CHECK_LIBS := $$(shell pkg-config --libs check))$(CHECK_LIBS)

ALL_CFLAGS = $(STD_FLAGS) $(PKG_CFLAGS) $(CFLAGS)

MODULES := pop3 smtp imap state bridge
# Test suites and the modules each links, in link order.
SUITES  := harness pop3 smtp imap state bridge
harness_LIBS :=
pop3_LIBS    := pop3
smtp_LIBS    := smtp pop3
imap_LIBS    := imap
state_LIBS   := state
bridge_LIBS  := bridge state smtp imap pop3
# Exported names: check-MODULE first checks that every external symbol of
# libMODULE.a starts with one of MODULE_EXPORTS (tests/lib/check_exports.sh);
# a module without MODULE_EXPORTS is not checked.
pop3_EXPORTS  := pop3_
smtp_EXPORTS  := smtp_
imap_EXPORTS  := imap_
state_EXPORTS := state_
bridge_EXPORTS := base_ config_ guard_ managed_ oauth2_ pool_ maildrop_ submit_ front_ serve_ migrate_ route_ cmd_

.PHONY: all check check-all check-layout sanitize demo fuzz bench install clean deps \
        $(addprefix check-,$(SUITES) interop) load

all: popbridge

# ---- modules: every .c in a module directory goes into its library ----------

# A stale build directory must not make a different binary than a clean one:
# - an archive is rebuilt when its list of members changes, not only when a
#   member is newer (a source deleted or moved by a merge would otherwise stay
#   in the archive, and its old definitions could win at link time);
# - every object is rebuilt when the compiler or its flags change;
# - headers: -MMD -MP (the .d files are included at the end).
# $(B)/NAME.list and $(B)/.cflags are rewritten only when their text changes.
define text_stamp
	@mkdir -p $(@D)
	@printf '%s\n' $(1) | cmp -s - $@ || printf '%s\n' $(1) > $@
endef
.PHONY: FORCE
$(B)/.cflags: FORCE
	$(call text_stamp,'$(CC) $(STD_FLAGS) $(CFLAGS)')

define module_rules
$(1)_SRC := $$(filter-out bridge/main.c,$$(wildcard $(1)/*.c $(1)/*/*.c))
$(1)_OBJ := $$(patsubst %.c,$$(B)/%.o,$$($(1)_SRC))
$$(B)/lib$(1).list: FORCE
	$$(call text_stamp,$$($(1)_OBJ))
$$(B)/lib$(1).a: $$($(1)_OBJ) $$(B)/lib$(1).list
	@mkdir -p $$(@D)
	@rm -f $$@
	$$(AR) rcs $$@ $$($(1)_OBJ)
endef
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))

$(B)/%.o: %.c $(B)/.cflags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/%.o: tests/%.c $(B)/.cflags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c -o $@ $<

MOD_LIBS = $(foreach m,$(1),$(B)/lib$(m).a)

$(B)/popbridge: $(B)/bridge/main.o $(call MOD_LIBS,bridge state smtp imap pop3)
	$(CC) $(CFLAGS) $(LDFLAGS) -pthread -o $@ $^ $(PKG_LIBS)

# Always copied: ./popbridge may come from another build directory (B=).
.PHONY: popbridge
popbridge: $(B)/popbridge
	cp $< $@

# ---- tests -------------------------------------------------------------------
# tests/lib/*.c is the shared test library (Dovecot harness, message
# generator, helpers); tests/SUITE/check_*.c are Check programs.

TESTLIB_SRC := $(wildcard tests/lib/*.c)
TESTLIB_OBJ := $(patsubst %.c,$(B)/%.o,$(TESTLIB_SRC))
$(B)/libtestlib.list: FORCE
	$(call text_stamp,$(TESTLIB_OBJ))
$(B)/libtestlib.a: $(TESTLIB_OBJ) $(B)/libtestlib.list
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $(TESTLIB_OBJ)

define suite_rules
$(1)_TESTS := $$(patsubst tests/$(1)/%.c,$$(B)/tests/$(1)/%,$$(wildcard tests/$(1)/check_*.c))
$$(B)/tests/$(1)/check_%: $$(B)/tests/$(1)/check_%.o $$(B)/libtestlib.a $$(call MOD_LIBS,$$($(1)_LIBS))
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -pthread -o $$@ $$< $$(B)/libtestlib.a \
		$$(call MOD_LIBS,$$($(1)_LIBS)) $$(CHECK_LIBS) $$(PKG_LIBS)
check-$(1): $$($(1)_TESTS) $$(B)/popbridge $$(if $$($(1)_EXPORTS),$$(B)/lib$(1).a)
	$$(if $$($(1)_EXPORTS),@sh tests/lib/check_exports.sh $$(B)/lib$(1).a $$($(1)_EXPORTS))
	@set -e; for t in $$($(1)_TESTS); do \
		echo "== $$$$t"; \
		POPBRIDGE_BIN=$$(abspath $$(B)/popbridge) POPBRIDGE_SRC=$$(CURDIR) $$$$t; \
	done
endef
$(foreach s,$(SUITES),$(eval $(call suite_rules,$(s))))

# Interoperability tests: scripts that drive real POP3 clients.
INTEROP := $(wildcard tests/interop/test_*.sh tests/interop/test_*.py)
check-interop: $(B)/popbridge $(B)/tests/harness/pbtest
	@set -e; for t in $(INTEROP); do \
		echo "== $$t"; \
		POPBRIDGE_BIN=$(abspath $(B)/popbridge) POPBRIDGE_SRC=$(CURDIR) \
		PBTEST=$(abspath $(B)/tests/harness/pbtest) $$t; \
	done

# pbtest: the harness as a command (start a private Dovecot, fill mailboxes),
# for shell and Python tests and for `make demo`.
$(B)/tests/harness/pbtest: $(B)/tests/harness/pbtest.o $(B)/libtestlib.a
	$(CC) $(CFLAGS) $(LDFLAGS) -pthread -o $@ $^ $(PKG_LIBS)
# check_harness also runs tests/harness/test_pbtest.py against it.
check-harness: $(B)/tests/harness/pbtest

# The layout rules of SPEC §1 and docs/DESIGN.md (rooms, one-way includes, no SQL
# outside state/).
check-layout:
	@sh tests/lib/check_rooms.sh

check-all: check-layout $(addprefix check-,$(SUITES)) check-interop
	@echo "check: all suites passed"

check: deps
	@$(MAKE) --no-print-directory check-all

SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=all
sanitize: deps
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 $(MAKE) --no-print-directory B=build/sanitize CFLAGS="$(SAN_FLAGS)" \
		LDFLAGS="-fsanitize=address,undefined" POPBRIDGE_SANITIZE=1 check-all

deps:
	@sh contrib/deps.sh

demo: deps
	@$(MAKE) --no-print-directory popbridge $(B)/tests/harness/pbtest
	@sh contrib/demo.sh $(abspath $(B)/tests/harness/pbtest) $(CURDIR)/popbridge

# ---- fuzzing (clang, libFuzzer) ------------------------------------------------
FUZZ_B := build/fuzz
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz: deps
	@$(MAKE) --no-print-directory CC=clang B=$(FUZZ_B) \
		CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
		$(patsubst %,$(FUZZ_B)/fuzz/%,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_B)/corpus/$$t; \
		echo "== $$t ($(FUZZ_SECONDS)s)"; \
		$(FUZZ_B)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) \
			$(FUZZ_B)/corpus/$$t tests/fuzz/seeds/$$t \
			$$(test -d tests/fuzz/corpus/$$t && echo tests/fuzz/corpus/$$t); \
	done

$(FUZZ_B)/fuzz/fuzz_pop3: tests/fuzz/fuzz_pop3.c $(FUZZ_B)/libpop3.a
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)
$(FUZZ_B)/fuzz/fuzz_smtp: tests/fuzz/fuzz_smtp.c $(FUZZ_B)/libsmtp.a $(FUZZ_B)/libpop3.a
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)
$(FUZZ_B)/fuzz/fuzz_imap_parser: tests/fuzz/fuzz_imap_parser.c $(FUZZ_B)/libimap.a
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)
$(FUZZ_B)/fuzz/fuzz_pop3client: tests/fuzz/fuzz_pop3client.c $(FUZZ_B)/libbridge.a \
		$(FUZZ_B)/libpop3.a
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)
$(FUZZ_B)/fuzz/fuzz_proxy: tests/fuzz/fuzz_proxy.c $(FUZZ_B)/libbridge.a
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)
$(FUZZ_B)/fuzz/fuzz_front_parse: tests/fuzz/fuzz_front_parse.c $(FUZZ_B)/libbridge.a
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)
$(FUZZ_B)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(FUZZ_B)/libbridge.a \
		$(FUZZ_B)/libstate.a
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)
$(FUZZ_B)/fuzz/fuzz_oauth2_token: tests/fuzz/fuzz_oauth2_token.c $(FUZZ_B)/libbridge.a
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)
$(FUZZ_B)/fuzz/fuzz_account_file: tests/fuzz/fuzz_account_file.c $(FUZZ_B)/libbridge.a \
		$(FUZZ_B)/libstate.a
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)

bench: popbridge $(B)/tests/harness/pbtest
	@set -e; for t in $(wildcard tests/bench/bench_*.sh tests/bench/bench_*.py); do \
		echo "== $$t"; \
		POPBRIDGE_BIN=$(abspath $(B)/popbridge) POPBRIDGE_SRC=$(CURDIR) \
		PBTEST=$(abspath $(B)/tests/harness/pbtest) $$t; \
	done

# Load (tests/load/load_pop3.py, docs/HACKING.md): thousands of sessions and
# idle connections; minutes of both CPUs, so not part of check. LOAD_ARGS are
# passed on, e.g. LOAD_ARGS="--scale 0.1" or "--phase idle".
load: $(B)/popbridge $(B)/tests/harness/pbtest
	@POPBRIDGE_BIN=$(abspath $(B)/popbridge) POPBRIDGE_SRC=$(CURDIR) \
		PBTEST=$(abspath $(B)/tests/harness/pbtest) python3 tests/load/load_pop3.py $(LOAD_ARGS)

# The binary carries its configuration schema; the schema, the example
# configuration and the systemd unit are installed for the administrator.
install: popbridge
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 popbridge $(DESTDIR)$(BINDIR)/popbridge
	install -m 0644 contrib/popbridge.rng contrib/popbridge.xml \
		contrib/popbridge.service $(DESTDIR)$(DATADIR)/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/

clean:
	rm -rf build popbridge

-include $(shell find $(B) -name '*.d' 2>/dev/null)
