# relaymail - see README.md. `make` builds ./sendmail and ./mailq here.

CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr
DESTDIR  ?=
SBINDIR  ?= $(PREFIX)/sbin
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= /lib/systemd/system
PYTHON   ?= /usr/bin/python3

WARN     = -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla
HARDEN   = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS  ?= -O2 -g
ALL_CFLAGS = $(WARN) $(HARDEN) -D_GNU_SOURCE -I/usr/include/iniparser -Isrc $(CFLAGS) $(SANFLAGS)
LDFLAGS ?=
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS) $(SANFLAGS)
LIBS     = -liniparser -lssl -lcrypto

ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HARDEN   = -fstack-protector-strong -fPIE
endif

SRCS     := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
LIB_OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(LIB_SRCS))

# unit tests: tests/unit/test_NAME.c links with the modules listed here
UNIT_buf      = buf
UNIT_conf     = conf buf
UNIT_secret   = secret conf buf
UNIT_rfc5322  = rfc5322
UNIT_envelope = envelope rfc5322 conf buf
UNIT_message  = message rfc5322 buf
UNIT_crypto   = crypto buf
UNIT_auth     = auth crypto buf
UNIT_smtp     = smtp auth io tls crypto log conf buf
UNIT_queue    = queue envelope rfc5322 conf log buf
UNIT_dsn      = dsn queue envelope rfc5322 smtp auth io tls crypto conf log buf
UNIT_log      = log buf
UNIT_io       = io tls crypto log buf
UNIT_options  = options conf buf
UNIT_mailq    = mailq queue envelope rfc5322 conf log buf
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(patsubst %,$(BUILD)/tests/%,$(UNIT_TESTS))

.PHONY: all deps check unit blackbox sanitize clang demo install clean fuzz

all: sendmail mailq

ifeq ($(BUILD),build)
sendmail: $(BUILD)/sendmail
	cp $< $@
mailq: sendmail
	ln -sf sendmail $@
endif

$(BUILD)/sendmail: $(BUILD)/main.o $(LIB_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

.SECONDEXPANSION:
$(BUILD)/tests/test_%: tests/unit/test_%.c $$(addprefix $(BUILD)/,$$(addsuffix .o,$$(UNIT_$$*))) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

# fuzz targets: tests/fuzz/fuzz_NAME.c links with the modules listed here
FUZZ_rfc5322 = rfc5322
FUZZ_message = message rfc5322 buf
FUZZ_reply   = smtp auth io tls crypto log conf buf
FUZZ_queue   = queue envelope rfc5322 conf log buf
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
	$(MAKE) clang
	$(MAKE) sanitize
	$(MAKE) fuzz FUZZ_SECONDS=20

clang:
	$(MAKE) CC=clang BUILD=build/clang build/clang/sendmail

sanitize:
	$(MAKE) CC=clang BUILD=build/san SAN=1 CFLAGS="-O1 -g" build/san/sendmail
	$(MAKE) CC=clang BUILD=build/san SAN=1 CFLAGS="-O1 -g" unit
	RELAYMAIL_SENDMAIL=$(CURDIR)/build/san/sendmail $(PYTHON) -m pytest -q tests/blackbox

demo: deps all
	$(PYTHON) tests/demo.py

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)/usr/lib
	install -m 0755 sendmail $(DESTDIR)$(SBINDIR)/sendmail
	ln -sf $(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/mailq
	ln -sf $(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/newaliases
	ln -sf $(SBINDIR)/sendmail $(DESTDIR)/usr/lib/sendmail
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 man/sendmail.8 $(DESTDIR)$(MANDIR)/man8/sendmail.8
	install -m 0644 man/relaymail.conf.5 $(DESTDIR)$(MANDIR)/man5/relaymail.conf.5
	install -d -m 0755 $(DESTDIR)/etc
	test -e $(DESTDIR)/etc/relaymail.conf || install -m 0600 config/relaymail.conf $(DESTDIR)/etc/relaymail.conf
	install -d -m 0700 $(DESTDIR)/var/spool/relaymail
	install -d $(DESTDIR)$(UNITDIR)
	install -m 0644 config/relaymail-queue.service config/relaymail-queue.timer $(DESTDIR)$(UNITDIR)/

clean:
	rm -rf build sendmail mailq
