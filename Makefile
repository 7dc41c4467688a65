# cgstat — build, test and run.
#   make            build the daemon, the client and the BPF objects
#   make test       unit + integration tests (root for integration; CI=true never skips)
#   make run        build and run cgstatd in the foreground with default settings
#   make bench      benchmarks (ratios against baselines measured in the same run)
#   make layers     fail if a daemon object calls into a higher layer (scripts/layers.txt)
#   V=1             show commands

OUTPUT ?= build
ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/')
VMLINUX := vmlinux/$(ARCH)/vmlinux.h
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SUFFIXES:

# The parts of user/, each in its sub-folder once it has moved there (files still flat in
# user/ build as before, as part of the daemon side):
#   user/lib/     shared by the daemon and the client: clock, duration, log, json, backoff
#   user/daemon/  the daemon;  user/client/  the client library;  user/cli/  the CLI
# Every sub-folder is on the include path, so a file moves without touching its includers.
USER_DIRS := user $(patsubst %/,%,$(wildcard user/*/))
INCLUDES := -I$(OUTPUT) -Ibpf $(addprefix -I,$(USER_DIRS)) -Icgroup

SANITIZE ?=
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Werror=undef -Wshadow -Wno-unused-parameter \
	  -D_GNU_SOURCE $(INCLUDES) $(SANITIZE)
override LDFLAGS += $(SANITIZE)
# Each object records the headers it really includes in its .d file (read back below).
DEPFLAGS := -MMD -MP
# libevent's core only (the event loop, buffers, the listener): HTTP is our own, on
# libhttp-parser (user/daemon/http_*.c). Benches link evhttp too, for its floor
# (tests/bench/benchfloor.c, a test helper: the integration tests link it as well).
LIBS := -lbpf -lelf -lz -levent_core -lhttp_parser -lm
BENCH_LIBS := -levent_extra
# The client library: HTTP over the unix socket with libcurl, JSON with jansson.
CLIENT_LDLIBS := -lcurl -ljansson
# Tests read JSON with a real parser (jansson); the client's unit tests link the client.
TEST_LIBS := $(CLIENT_LDLIBS)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror=undef -Ivmlinux/$(ARCH) -Ibpf

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
# Generated BPF objects and skeletons are kept; nothing else is "secondary" (a missing
# object must be rebuilt, not skipped, e.g. after a source moves to another folder).
.SECONDARY: $(BPF_OBJS) $(SKELS)

objs = $(patsubst %.c,$(OUTPUT)/%.o,$(1))

# Programs: the daemon's main, and the CLI (all of user/cli/ once it exists).
DAEMON_MAIN := $(firstword $(wildcard user/daemon/cgstatd.c) user/cgstatd.c)
CLI_SRCS := $(or $(wildcard user/cli/*.c),user/cgstat.c)
MAINS := $(DAEMON_MAIN) $(CLI_SRCS)

# Libraries, one per part. Archives: a program pulls in only the objects it uses.
#   libcgcommon.a  user/lib/ and cgroup/ (shared by the daemon and the client)
#   libcgstat.a    the daemon side: user/daemon/ and whatever is still flat in user/
#   libcgclient.a  user/client/ (once it exists)
#   libcgtest.a    tests/lib/: fakes and cgroup helpers, linked only into tests and benches
COMMON_SRCS := $(wildcard user/lib/*.c cgroup/*.c)
LIB_SRCS := $(filter-out $(MAINS),$(wildcard user/*.c user/daemon/*.c))
CLIENT_SRCS := $(wildcard user/client/*.c)
PRODUCT_SRCS := $(COMMON_SRCS) $(LIB_SRCS) $(CLIENT_SRCS) $(MAINS)
COMMON_OBJS := $(call objs,$(COMMON_SRCS))
LIB_OBJS := $(call objs,$(LIB_SRCS))
CLIENT_OBJS := $(call objs,$(CLIENT_SRCS))
COMMON_LIB := $(OUTPUT)/libcgcommon.a
LIB := $(OUTPUT)/libcgstat.a
CLIENT_LIB := $(if $(CLIENT_SRCS),$(OUTPUT)/libcgclient.a)
PRODUCT_LIBS := $(LIB) $(CLIENT_LIB) $(COMMON_LIB)
DAEMON_OBJS := $(call objs,$(DAEMON_MAIN))
DAEMON_LIBS := $(LIB) $(COMMON_LIB)
CLI_OBJS := $(call objs,$(CLI_SRCS))
# The CLI links the client library and the common one only, never the daemon's.
CLI_LIBS := $(CLIENT_LIB) $(COMMON_LIB)
# Archives are searched as a group, so that a file part-way through a move (a part's archive
# calling one still flat in user/) links; scripts/layers.txt, not the link order, says who may
# call whom (make layers).
group = -Wl,--start-group $(1) -Wl,--end-group

TESTLIB_SRCS := $(wildcard tests/lib/*.c)
TESTLIB := $(OUTPUT)/libcgtest.a
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(patsubst tests/integration/%.c,$(OUTPUT)/tests/%,$(INTEG_SRCS))
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUTPUT)/tests/%,$(BENCH_SRCS))
TEST_HELPERS := $(filter-out $(INTEG_SRCS) $(BENCH_SRCS),$(wildcard tests/integration/*.c tests/bench/*.c))
TEST_HELPER_OBJS := $(call objs,$(TEST_HELPERS))

ALL_OBJS := $(call objs,$(PRODUCT_SRCS) $(TESTLIB_SRCS) $(UNIT_SRCS) $(INTEG_SRCS) $(BENCH_SRCS) $(TEST_HELPERS))

BINS := $(OUTPUT)/cgstatd $(OUTPUT)/cgstat

.PHONY: all deps test unit integration bench run vmlinux clean format lint layers asan valgrind stress FORCE \
	install uninstall

all: $(BINS)

deps:
	$(Q)bash scripts/deps.sh

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# One rule for every C object. The skeletons are generated first (order-only): on a first
# build there is no .d file yet to say who includes them.
$(OUTPUT)/tests/%.o: TEST_INC := -Itests/lib
$(OUTPUT)/tests/integration/%.o $(OUTPUT)/tests/bench/%.o: INTEG_INC := -Itests/integration
$(OUTPUT)/%.o: %.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(TEST_INC) $(INTEG_INC) $(DEPFLAGS) -c $< -o $@

# Each archive also depends on the list of its members (written only when it changes), so
# that it is rebuilt when a file moves out of its part or is deleted, not only when a member
# is newer: a stale member left in an archive could be linked instead of the moved file.
$(COMMON_LIB): $(COMMON_OBJS) $(OUTPUT)/libcgcommon.members
$(LIB): $(LIB_OBJS) $(OUTPUT)/libcgstat.members
$(OUTPUT)/libcgclient.a: $(CLIENT_OBJS) $(OUTPUT)/libcgclient.members
$(TESTLIB): $(call objs,$(TESTLIB_SRCS)) $(OUTPUT)/libcgtest.members
$(OUTPUT)/libcgcommon.members: MEMBERS := $(COMMON_OBJS)
$(OUTPUT)/libcgstat.members: MEMBERS := $(LIB_OBJS)
$(OUTPUT)/libcgclient.members: MEMBERS := $(CLIENT_OBJS)
$(OUTPUT)/libcgtest.members: MEMBERS := $(call objs,$(TESTLIB_SRCS))
$(OUTPUT)/%.members: FORCE
	$(Q)mkdir -p $(@D) && echo '$(MEMBERS)' | cmp -s - $@ || echo '$(MEMBERS)' > $@
$(PRODUCT_LIBS) $(TESTLIB):
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

$(OUTPUT)/cgstatd: $(DAEMON_OBJS) $(DAEMON_LIBS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(DAEMON_OBJS) $(call group,$(DAEMON_LIBS)) $(LIBS) -o $@

$(OUTPUT)/cgstat: $(CLI_OBJS) $(CLI_LIBS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(CLI_OBJS) $(call group,$(CLI_LIBS)) $(CLIENT_LDLIBS) -lm -o $@

$(UNIT_BINS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/unit/%.o $(TESTLIB) $(PRODUCT_LIBS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $< $(call group,$(TESTLIB) $(PRODUCT_LIBS)) $(LIBS) $(TEST_LIBS) -lcmocka -o $@

$(INTEG_BINS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/integration/%.o $(TEST_HELPER_OBJS) $(TESTLIB) $(PRODUCT_LIBS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $< $(TEST_HELPER_OBJS) $(call group,$(TESTLIB) $(PRODUCT_LIBS)) $(LIBS) $(BENCH_LIBS) $(TEST_LIBS) -lpthread -o $@

$(BENCH_BINS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/bench/%.o $(TEST_HELPER_OBJS) $(TESTLIB) $(PRODUCT_LIBS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $< $(TEST_HELPER_OBJS) $(call group,$(TESTLIB) $(PRODUCT_LIBS)) $(LIBS) $(BENCH_LIBS) $(TEST_LIBS) -lpthread -o $@

-include $(ALL_OBJS:.o=.d) $(BPF_OBJS:.o=.d)

# The README's test command. Unit tests need no privileges; integration tests
# need root and BPF and, under CI=true, fail rather than skip without them.
test: deps all layers $(UNIT_BINS) $(INTEG_BINS)
	$(Q)OUTPUT=$(OUTPUT) bash tests/run.sh $(UNIT_BINS) -- $(INTEG_BINS) -- $(wildcard tests/integration/*.sh)

unit: $(UNIT_BINS)
	$(Q)OUTPUT=$(OUTPUT) bash tests/run.sh $(UNIT_BINS) -- --

integration: all $(INTEG_BINS)
	$(Q)OUTPUT=$(OUTPUT) bash tests/run.sh -- $(INTEG_BINS) -- $(wildcard tests/integration/*.sh)

# Benches run against this build's daemon and write their JSON here
# (bench_*.json), then the cost table is printed from it (README's "Cost";
# tests/bench/cost_table.py --readme README.md updates it); --bench adds
# libbpf-tools (exitsnoop, runqlat: comparisons).
bench: deps all $(BENCH_BINS)
	$(Q)bash scripts/deps.sh --bench
	$(Q)for b in $(BENCH_BINS); do echo "== $$b"; \
		CGSTATD=$${CGSTATD:-$(OUTPUT)/cgstatd} BENCH_OUT=$(OUTPUT) $$b || exit 1; done
	$(Q)if command -v python3 >/dev/null; then echo "== cost table ($(OUTPUT)/bench_*.json)"; \
		python3 tests/bench/cost_table.py $(OUTPUT); fi

# The periodic-stream exit test, 500 times in a row: it must never flake.
stress: all $(OUTPUT)/tests/test_streams
	$(Q)start=$$(date +%s); TH_ONLY=stream_ends_on_exit TH_REPEAT=$${REPEAT:-500} $(OUTPUT)/tests/test_streams && echo "stress: $${REPEAT:-500} runs in $$(( $$(date +%s) - start )) s"

run: deps all
	$(OUTPUT)/cgstatd $(CGSTATD_FLAGS)

asan:
	$(Q)CGSTATD=build/asan/cgstatd CGSTAT=build/asan/cgstat $(MAKE) OUTPUT=build/asan \
		SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
		CFLAGS="-O1 -g" test

valgrind: $(UNIT_BINS)
	$(Q)for t in $(UNIT_BINS); do valgrind -q --error-exitcode=1 --leak-check=full $$t >/dev/null || exit 1; done; echo "valgrind: clean"

vmlinux:
	$(Q)mkdir -p vmlinux/$(ARCH)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

format:
	$(Q)clang-format -i $(wildcard bpf/*.c bpf/*.h user/*.c user/*.h user/*/*.c user/*/*.h cgroup/*.c cgroup/*.h tests/*/*.c tests/*/*.h)

# Layers of the daemon, lowest first, in scripts/layers.txt: an object may call only into its
# own layer or lower ones. Reads the symbols of the built objects (nm).
layers: $(DAEMON_OBJS) $(LIB_OBJS) $(COMMON_OBJS)
	$(Q)bash scripts/check-layers.sh scripts/layers.txt $^

lint: $(SKELS)
	$(Q)for t in cppcheck clang-tidy; do command -v $$t >/dev/null || \
		{ echo "lint: $$t is not installed (apt-get install cppcheck clang-tidy)" >&2; exit 1; }; done
	$(Q)cppcheck -q --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem --include=scripts/cppcheck-macros.h $(INCLUDES) user cgroup
	$(Q)out=$$(clang-tidy -quiet $(PRODUCT_SRCS) -- $(CFLAGS) 2>/dev/null); rc=$$?; \
		if printf '%s\n' "$$out" | grep -E 'warning:|error:'; then exit 1; fi; \
		[ $$rc -eq 0 ] || { echo "lint: clang-tidy failed (exit $$rc)" >&2; exit 1; }
	$(Q)$(MAKE) --no-print-directory layers

# Installed as a systemd service (scripts/systemd/, docs/man/; README "Install as a service").
# PREFIX and DESTDIR as usual; systemd reads units, sysusers.d and tmpfiles.d under /usr/local/lib
# too. The configuration (SYSCONFDIR/default/cgstatd) is never overwritten, and uninstall removes it
# only while it is still the shipped default. Everything else is the list below, both ways.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
INSTALLED := $(SBINDIR)/cgstatd $(BINDIR)/cgstat $(UNITDIR)/cgstatd.service \
	$(SYSUSERSDIR)/cgstat.conf $(TMPFILESDIR)/cgstat.conf $(MANDIR)/man8/cgstatd.8 $(MANDIR)/man1/cgstat.1
CONFIG := $(SYSCONFDIR)/default/cgstatd

install: $(BINS)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 $(OUTPUT)/cgstatd $(DESTDIR)$(SBINDIR)/cgstatd
	$(Q)install -D -m 0755 $(OUTPUT)/cgstat $(DESTDIR)$(BINDIR)/cgstat
	$(Q)install -d $(DESTDIR)$(UNITDIR)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		scripts/systemd/cgstatd.service.in > $(DESTDIR)$(UNITDIR)/cgstatd.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/cgstatd.service
	$(Q)install -D -m 0644 scripts/systemd/cgstat.sysusers $(DESTDIR)$(SYSUSERSDIR)/cgstat.conf
	$(Q)install -D -m 0644 scripts/systemd/cgstat.tmpfiles $(DESTDIR)$(TMPFILESDIR)/cgstat.conf
	$(Q)install -D -m 0644 docs/man/cgstatd.8 $(DESTDIR)$(MANDIR)/man8/cgstatd.8
	$(Q)install -D -m 0644 docs/man/cgstat.1 $(DESTDIR)$(MANDIR)/man1/cgstat.1
	$(Q)if [ -e $(DESTDIR)$(CONFIG) ]; then echo "  kept     $(DESTDIR)$(CONFIG) (exists)"; \
	else install -D -m 0644 scripts/systemd/cgstatd.default $(DESTDIR)$(CONFIG); fi
	$(Q)[ -n "$(DESTDIR)" ] || echo "then: systemd-sysusers; systemd-tmpfiles --create cgstat.conf;" \
		"systemctl daemon-reload; systemctl enable --now cgstatd"

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	$(Q)if cmp -s scripts/systemd/cgstatd.default $(DESTDIR)$(CONFIG); then rm -f $(DESTDIR)$(CONFIG); \
	elif [ -e $(DESTDIR)$(CONFIG) ]; then echo "  kept     $(DESTDIR)$(CONFIG) (changed)"; fi

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)
