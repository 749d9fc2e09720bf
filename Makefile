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
LIBS     = -liniparser -lssl -lcrypto
PROG_LIBS = -liniparser

ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HARDEN   = -fstack-protector-strong -fPIE
endif

SRCS     := $(wildcard src/*.c)
# the OpenSSL half (src/tlslib.h): relaymail-tls.so, which the program opens
# on first use from a path fixed here (the build tree's for ./sendmail,
# PKGLIBDIR's for the installed copy); the program forwards to it (tlslib.c)
# and exports to it the helpers listed in src/tlslib.dynamic
TLSLIB_MODS := tls tlssess crypto tlslib_table
PROG_LDFLAGS = $(ALL_LDFLAGS) -Wl,--dynamic-list=src/tlslib.dynamic
TLSLIB      := $(BUILD)/relaymail-tls.so
TLSLIB_OBJS := $(patsubst %,$(BUILD)/pic/%.o,$(TLSLIB_MODS))
LIB_SRCS := $(filter-out src/main.c $(patsubst %,src/%.c,tls tlssess crypto tlslib_table),$(SRCS))
LIB_OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(LIB_SRCS))
INSTALLED_OBJS := $(filter-out $(BUILD)/tlslib.o,$(LIB_OBJS)) $(BUILD)/tlslib-installed.o

# unit tests: tests/unit/test_NAME.c links with the modules listed here
UNIT_buf      = buf
UNIT_conf     = conf conf_value conf_check tls tlssess crypto log buf
UNIT_secret   = secret conf conf_value conf_check tls tlssess crypto log buf
UNIT_rfc5322  = rfc5322
UNIT_envelope = envelope rfc5322 conf conf_value conf_check tls tlssess crypto log buf
UNIT_message  = message message_complete rfc5322 buf
UNIT_crypto   = crypto buf
UNIT_auth     = auth crypto buf
UNIT_smtp     = smtp smtp_tx reply auth io tls tlssess crypto log conf conf_value conf_check buf
UNIT_queue    = queue queue_file envelope rfc5322 conf conf_value conf_check tls tlssess crypto log buf
UNIT_dsn      = dsn message message_complete queue queue_file envelope rfc5322 smtp smtp_tx reply auth io tls tlssess crypto conf conf_value conf_check log buf
UNIT_log      = log buf
UNIT_io       = io tls tlssess crypto log buf
UNIT_options  = options conf conf_value conf_check tls tlssess crypto log buf
UNIT_mailq    = mailq queue queue_file envelope rfc5322 conf conf_value conf_check tls tlssess crypto log buf
UNIT_oauth2   = oauth2 oauth2_lib secret crypto buf
UNIT_import   = import_parse import_msmtp import_ssmtp import_nullmailer import_dma import_postfix buf
UNIT_tlssess  = tlssess buf
UNIT_deliver  = deliver dsn message message_complete queue queue_file envelope rfc5322 smtp smtp_tx reply auth io tls tlssess crypto oauth2 oauth2_lib secret tlscache conf conf_value conf_check log buf
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

$(BUILD)/sendmail: $(BUILD)/main.o $(LIB_OBJS) src/tlslib.dynamic | $(TLSLIB)
	$(CC) $(PROG_LDFLAGS) -o $@ $(filter %.o,$^) $(PROG_LIBS)

# the copy `make install` installs: the same, opening PKGLIBDIR's library
$(BUILD)/sendmail-installed: $(BUILD)/main.o $(INSTALLED_OBJS) src/tlslib.dynamic | $(TLSLIB)
	$(CC) $(PROG_LDFLAGS) -o $@ $(filter %.o,$^) $(PROG_LIBS)

$(BUILD)/tlslib.o: ALL_CFLAGS += -DRELAYMAIL_TLS_LIB='"$(abspath $(TLSLIB))"'
$(BUILD)/tlslib-installed.o: src/tlslib.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -DRELAYMAIL_TLS_LIB='"$(PKGLIBDIR)/relaymail-tls.so"' -c -o $@ $<

# exports its table only (src/tlslib.map); everything else binds inside it
$(TLSLIB): $(TLSLIB_OBJS) src/tlslib.map
	$(CC) -shared -Wl,-z,relro,-z,now -Wl,--version-script=src/tlslib.map $(LDFLAGS) \
		$(SANFLAGS) -o $@ $(TLSLIB_OBJS) -lssl -lcrypto

$(BUILD)/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/pic/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/pic
	$(CC) $(ALL_CFLAGS) -fPIC -c -o $@ $<

$(BUILD) $(BUILD)/tests $(BUILD)/pic:
	mkdir -p $@

.SECONDEXPANSION:
$(BUILD)/tests/test_%: tests/unit/test_%.c $$(addprefix $(BUILD)/,$$(addsuffix .o,$$(UNIT_$$*))) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

# fuzz targets: tests/fuzz/fuzz_NAME.c links with the modules listed here
FUZZ_rfc5322 = rfc5322
FUZZ_message = message message_complete rfc5322 buf
FUZZ_reply   = smtp smtp_tx reply auth io tls tlssess crypto log conf conf_value conf_check buf
FUZZ_queue   = queue queue_file envelope rfc5322 conf conf_value conf_check tls tlssess crypto log buf
# fuzz_bs links bs.c, which needs every module but main (only the parser is called),
# with tls.c and crypto.c themselves instead of tlslib.c's forwarders
FUZZ_bs      = $(filter-out main tlslib,$(patsubst src/%.c,%,$(wildcard src/*.c)))
FUZZ_conf    = conf conf_value conf_check tls tlssess crypto log buf
FUZZ_tlssess = tlssess buf
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_FLAGS = -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I/usr/include/iniparser -Isrc -g -O1 \
	-fsanitize=fuzzer,address,undefined

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(addprefix src/,$$(addsuffix .c,$$(FUZZ_$$*)))
	@mkdir -p build/fuzz
	clang $(FUZZ_FLAGS) -o $@ $^ $(LIBS)

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
bench: all
	$(PYTHON) bench/run.py

bench-smoke: all
	$(PYTHON) bench/run.py --quick --out $(BUILD)/bench-smoke

# static analysis with the checked-in configuration (.clang-tidy,
# tests/cppcheck-suppressions.txt); fails on any finding
.PHONY: analyze valgrind
ANALYZE_CFLAGS = -std=c11 -D_GNU_SOURCE -I/usr/include/iniparser -Isrc \
	-DRELAYMAIL_TLS_LIB='"/usr/lib/relaymail/relaymail-tls.so"'
analyze:
	@rc=0; \
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
