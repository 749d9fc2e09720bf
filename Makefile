# relaymail - see README.md. `make` builds ./sendmail and ./mailq here.

CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr
DESTDIR  ?=
SBINDIR  ?= $(PREFIX)/sbin
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= /lib/systemd/system
PKGLIBDIR ?= $(PREFIX)/lib/relaymail
PYTHON   ?= /usr/bin/python3

WARN     = -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla
HARDEN   = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS  ?= -O2 -g
ALL_CFLAGS = $(WARN) $(HARDEN) -D_GNU_SOURCE -I/usr/include/iniparser -Isrc $(CFLAGS) $(SANFLAGS)
LDFLAGS ?=
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS) $(SANFLAGS)
PROG_LIBS = -liniparser

ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HARDEN   = -fstack-protector-strong -fPIE
endif

SRCS     := $(wildcard src/*.c)
# each object's header dependencies, written to its .d file as it is compiled
DEPFLAGS  = -MMD -MP
# the OpenSSL half (src/tlslib.h): relaymail-tls.so, which the program opens
# on first use from a path fixed here (the build tree's for ./sendmail,
# PKGLIBDIR's for the installed copy); the program forwards to it (tlslib.c)
# and exports to it the helpers listed in src/tlslib.dynamic
TLSLIB_MODS := tls tlssess crypto tlslib_table
PROG_LDFLAGS = $(ALL_LDFLAGS) -Wl,--dynamic-list=src/tlslib.dynamic
TLSLIB      := $(BUILD)/relaymail-tls.so
TLSLIB_OBJS := $(patsubst %,$(BUILD)/pic/%.o,$(TLSLIB_MODS))

# One library, two archives. $(LIB) holds every module but main.c, the
# forwarders (tlslib.c: built twice, for the build tree's and PKGLIBDIR's
# relaymail-tls.so, so the program links its copy by name) and the OpenSSL
# half; $(TLS_LIB) holds that half's tls.c, tlssess.c and crypto.c, built
# like the rest. The program is main.o + tlslib.o + $(LIB); a unit test is
# its own file + $(LIB) + $(TLS_LIB) in one group (the linker takes only
# the members it needs, so a test of tls, crypto, io or smtp gets the real
# tls.o and crypto.o, one of conf or queue neither), with OpenSSL
# --as-needed: it is recorded only for a test that took an OpenSSL member.
# The fuzz targets link their own file + $(FUZZ_LIB), the same modules and
# the OpenSSL half built with the fuzzer's instrumentation.
LIB_MODS := $(filter-out main tlslib $(TLSLIB_MODS),$(patsubst src/%.c,%,$(SRCS)))
LIB      := $(BUILD)/librelaymail.a
TLS_LIB  := $(BUILD)/librelaymail-tls.a
LIB_OBJS := $(patsubst %,$(BUILD)/%.o,$(LIB_MODS))
TLS_OBJS := $(patsubst %,$(BUILD)/%.o,tls tlssess crypto)
TEST_LIBS = -Wl,--start-group $(LIB) $(TLS_LIB) -Wl,--end-group -liniparser \
	-Wl,--as-needed -lssl -lcrypto -Wl,--no-as-needed -lcmocka

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(patsubst %,$(BUILD)/tests/%,$(UNIT_TESTS))

.PHONY: all deps check unit blackbox sanitize clang demo install clean fuzz

all: sendmail mailq $(TLSLIB)

ifeq ($(BUILD),build)
sendmail: $(BUILD)/sendmail
	cp $< $@
mailq: sendmail
	ln -sf sendmail $@
endif

$(BUILD)/sendmail: $(BUILD)/main.o $(BUILD)/tlslib.o $(LIB) src/tlslib.dynamic | $(TLSLIB)
	$(CC) $(PROG_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(PROG_LIBS)

# the copy `make install` installs: the same, opening PKGLIBDIR's library
$(BUILD)/sendmail-installed: $(BUILD)/main.o $(BUILD)/tlslib-installed.o $(LIB) src/tlslib.dynamic | $(TLSLIB)
	$(CC) $(PROG_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(PROG_LIBS)

$(BUILD)/tlslib.o: ALL_CFLAGS += -DRELAYMAIL_TLS_LIB='"$(abspath $(TLSLIB))"'
$(BUILD)/tlslib-installed.o: src/tlslib.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -DRELAYMAIL_TLS_LIB='"$(PKGLIBDIR)/relaymail-tls.so"' -c -o $@ $<

# exports its table only (src/tlslib.map); everything else binds inside it
$(TLSLIB): $(TLSLIB_OBJS) src/tlslib.map
	$(CC) -shared -Wl,-z,relro,-z,now -Wl,--version-script=src/tlslib.map $(LDFLAGS) \
		$(SANFLAGS) -o $@ $(TLSLIB_OBJS) -lssl -lcrypto

$(LIB): $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(TLS_LIB): $(TLS_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/pic/%.o: src/%.c | $(BUILD)/pic
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -fPIC -c -o $@ $<

$(BUILD) $(BUILD)/tests $(BUILD)/pic build/fuzz/obj:
	mkdir -p $@

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB) $(TLS_LIB) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(ALL_LDFLAGS) -o $@ $< $(TEST_LIBS)

# test_io looks at an io's memory as it is freed (test_close_wipes)
$(BUILD)/tests/test_io: ALL_LDFLAGS += -Wl,--wrap=free

# fuzz targets: tests/fuzz/fuzz_NAME.c links with $(FUZZ_LIB)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS = -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I/usr/include/iniparser -Isrc -g -O1
FUZZ_SAN  = address,undefined
FUZZ_LIB  := build/fuzz/librelaymail.a
FUZZ_OBJS := $(patsubst %,build/fuzz/obj/%.o,$(LIB_MODS) tls tlssess crypto)

build/fuzz/obj/%.o: src/%.c | build/fuzz/obj
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< $(FUZZ_LIB) \
		-liniparser -lssl -lcrypto

-include $(wildcard $(BUILD)/*.d $(BUILD)/pic/*.d $(BUILD)/tests/*.d build/fuzz/*.d build/fuzz/obj/*.d)

# each target for FUZZ_SECONDS from its seed corpus; crashes are kept in build/fuzz/
fuzz: $(addprefix build/fuzz/,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
		n=$${t#fuzz_}; mkdir -p build/fuzz/corpus-$$n; \
		if [ -n "$$(ls tests/fuzz/regressions/$$n 2>/dev/null)" ]; then \
			./build/fuzz/$$t tests/fuzz/regressions/$$n/* > build/fuzz/$$t-regressions.log 2>&1 || \
			{ tail -n 30 build/fuzz/$$t-regressions.log; exit 1; }; fi; \
		echo "== $$t ($(FUZZ_SECONDS) s)"; \
		if ./build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/$$t- \
			build/fuzz/corpus-$$n tests/fuzz/corpus/$$n > build/fuzz/$$t.log 2>&1; \
		then tail -n 1 build/fuzz/$$t.log; \
		else tail -n 30 build/fuzz/$$t.log; exit 1; fi; \
	done

deps:
	@sh tests/deps.sh

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; ./$$t; done

blackbox: all
	$(PYTHON) -m pytest -q tests/blackbox

# gcc build plus tests, clang build, then everything again under ASan+UBSan
check: deps
	$(MAKE) all unit
	$(MAKE) blackbox
	$(MAKE) interop
	$(MAKE) package-check
	$(MAKE) bench-smoke
	$(MAKE) clang
	$(MAKE) sanitize
	$(MAKE) fuzz FUZZ_SECONDS=20
	$(MAKE) analyze
	$(MAKE) valgrind

clang:
	$(MAKE) CC=clang BUILD=build/clang build/clang/sendmail

sanitize:
	$(MAKE) CC=clang BUILD=build/san SAN=1 CFLAGS="-O1 -g" build/san/sendmail
	$(MAKE) CC=clang BUILD=build/san SAN=1 CFLAGS="-O1 -g" unit
	RELAYMAIL_SENDMAIL=$(CURDIR)/build/san/sendmail $(PYTHON) -m pytest -q tests/blackbox

demo: deps all
	$(PYTHON) tests/demo.py

install: all $(BUILD)/sendmail-installed
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)/usr/lib $(DESTDIR)$(PKGLIBDIR)
	install -m 0644 $(TLSLIB) $(DESTDIR)$(PKGLIBDIR)/relaymail-tls.so
	ln -sf $(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/mailq
	ln -sf $(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/newaliases
	ln -sf $(SBINDIR)/sendmail $(DESTDIR)/usr/lib/sendmail
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 man/sendmail.8 $(DESTDIR)$(MANDIR)/man8/sendmail.8
	install -m 0644 man/relaymail.conf.5 $(DESTDIR)$(MANDIR)/man5/relaymail.conf.5
	install -d -m 0755 $(DESTDIR)/etc
	install -d $(DESTDIR)$(UNITDIR)
	install -m 0644 config/relaymail-queue.service config/relaymail-queue.timer \
		config/relaymail-runner.service config/relaymail-queue.path $(DESTDIR)$(UNITDIR)/
	@# privileges (INSTALL, "Privileges"): set-group-id relaymail, config and spool in that group
	@set -e; spool=$(DESTDIR)/var/spool/relaymail; conf=$(DESTDIR)/etc/relaymail.conf; \
	if [ -z "$(DESTDIR)" ]; then \
		getent group relaymail >/dev/null || { echo "groupadd --system relaymail"; groupadd --system relaymail; }; \
		echo "install sendmail -> $(SBINDIR)/sendmail (root:relaymail 2755)"; \
		install -m 2755 -o root -g relaymail $(BUILD)/sendmail-installed $(SBINDIR)/sendmail; \
		if [ -e $$conf ]; then \
			[ "$$(stat -c %G:%a $$conf)" = relaymail:640 ] || echo "note: $$conf kept as it is;" \
				"users can submit only once it is root:relaymail 0640 (chgrp relaymail $$conf; chmod 0640 $$conf)"; \
		else install -m 0640 -o root -g relaymail config/relaymail.conf $$conf; fi; \
		for d in $$spool $$spool/tmp $$spool/q $$spool/s $$spool/failed $$spool/run; do \
			install -d -m 0770 -o root -g relaymail $$d; done; \
	else \
		install -m 0755 $(BUILD)/sendmail-installed $(DESTDIR)$(SBINDIR)/sendmail; \
		[ -e $$conf ] || install -m 0640 config/relaymail.conf $$conf; \
		for d in $$spool $$spool/tmp $$spool/q $$spool/s $$spool/failed $$spool/run; do install -d -m 0770 $$d; done; \
		echo "DESTDIR install: no group was created and no file was given to it. On the target system"; \
		echo "(e.g. in the package's postinst), as root:"; \
		echo "  getent group relaymail >/dev/null || groupadd --system relaymail"; \
		echo "  chown root:relaymail $(SBINDIR)/sendmail && chmod 2755 $(SBINDIR)/sendmail"; \
		echo "  chown root:relaymail /etc/relaymail.conf && chmod 0640 /etc/relaymail.conf"; \
		echo "  for d in /var/spool/relaymail /var/spool/relaymail/tmp /var/spool/relaymail/q \\"; \
		echo "      /var/spool/relaymail/s /var/spool/relaymail/failed /var/spool/relaymail/run; do"; \
		echo "    chown root:relaymail \$$d && chmod 0770 \$$d; done"; \
	fi

clean:
	rm -rf build sendmail mailq

# relaymail against a real Postfix smarthost (private instance on 127.0.0.1;
# needs root; installs tests/deps/interop.list when missing)
.PHONY: interop
interop: all
	/usr/bin/python3 -m pytest -q tests/interop

# benchmark against msmtp (bench/run.py): measures and reports, never a test;
# results in bench/results/. bench-smoke: the harness once at tiny sizes.
.PHONY: bench bench-smoke
bench: all $(BUILD)/openssl-floor
	$(PYTHON) bench/run.py --floor $(BUILD)/openssl-floor

bench-smoke: all $(BUILD)/openssl-floor
	$(PYTHON) bench/run.py --quick --floor $(BUILD)/openssl-floor --out $(BUILD)/bench-smoke

# what OpenSSL alone costs a client (bench/openssl_floor.c), run beside W1
$(BUILD)/openssl-floor: bench/openssl_floor.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -lssl -lcrypto

# static analysis with the checked-in configuration (.clang-tidy,
# tests/cppcheck-suppressions.txt) and the module graph of src/README;
# fails on any finding
.PHONY: analyze valgrind
ANALYZE_CFLAGS = -std=c11 -D_GNU_SOURCE -I/usr/include/iniparser -Isrc \
	-DRELAYMAIL_TLS_LIB='"/usr/lib/relaymail/relaymail-tls.so"'
# the module graph: every call between the objects must be one src/README allows
GRAPH_OBJS = $(BUILD)/main.o $(BUILD)/tlslib.o $(LIB_OBJS) $(TLS_OBJS) $(BUILD)/pic/tlslib_table.o
analyze: $(GRAPH_OBJS)
	@rc=0; \
	sh tests/module_graph.sh check src/README $(GRAPH_OBJS) || rc=1; \
	cppcheck --quiet --enable=warning,portability,performance --std=c11 --inline-suppr \
		-D_GNU_SOURCE -DRELAYMAIL_TLS_LIB='"/usr/lib/relaymail/relaymail-tls.so"' \
		-Isrc --suppressions-list=tests/cppcheck-suppressions.txt \
		--error-exitcode=1 --template='{file}:{line}: {severity}: {message} [{id}]' \
		src/*.c || rc=1; \
	clang-tidy --quiet src/*.c -- $(ANALYZE_CFLAGS) || rc=1; \
	if command -v systemd-analyze >/dev/null && [ -x sendmail ]; then \
		u=$$(mktemp -d); for f in config/*.service config/*.timer config/*.path; do \
			sed 's#/usr/sbin/sendmail#$(CURDIR)/sendmail#' $$f > $$u/$${f#config/}; done; \
		systemd-analyze verify --man=no $$u/* || rc=1; rm -rf $$u; fi; \
	exit $$rc

# unit tests and black-box tests with the binaries under valgrind
valgrind: all $(UNIT_BINS)
	sh tests/valgrind.sh

# Debian package (debian/): built with dpkg-buildpackage in a copy of the tree
# under build/deb/, checked by lintian (no error, no warning); the result is
# build/relaymail_VERSION_ARCH.deb. package-check installs it in a clean
# Debian 12 root (tests/package/check.sh; the root is cached under build/package/).
.PHONY: deb package-check
VERSION  = $(shell sed -n 's/^\#define RELAYMAIL_VERSION "\(.*\)"$$/\1/p' src/sendmail.c)
DEB_ARCH = $(shell dpkg-architecture -qDEB_HOST_ARCH)
DEB      = build/relaymail_$(VERSION)_$(DEB_ARCH).deb
deb:
	rm -rf build/deb && mkdir -p build/deb/relaymail-$(VERSION)
	tar -c --exclude=./build --exclude=./.git --exclude=./sendmail --exclude=./mailq . | \
		tar -x -C build/deb/relaymail-$(VERSION)
	cd build/deb/relaymail-$(VERSION) && dpkg-buildpackage -us -uc -b > ../build.log 2>&1 || \
		{ tail -n 40 ../build.log; exit 1; }
	cp build/deb/relaymail_$(VERSION)_$(DEB_ARCH).deb $(DEB)
	lintian --fail-on error,warning $(DEB)
	@echo "deb: $(DEB)"

package-check: deb
	sh tests/package/check.sh $(DEB)
