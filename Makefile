# cgstat — build, test and run.
#   make            build the daemon, the client and the BPF objects
#   make test       unit + integration tests (root for integration; CI=true never skips)
#   make run        build and run cgstatd in the foreground with default settings
#   make bench      benchmarks (ratios against baselines measured in the same run)
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
.SECONDARY:
.SUFFIXES:

SANITIZE ?=
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Werror=undef -Wshadow -Wno-unused-parameter \
	  -D_GNU_SOURCE -I$(OUTPUT) -Ibpf -Iuser -Icgroup $(SANITIZE)
override LDFLAGS += $(SANITIZE)
LIBS := -lbpf -lelf -lz -levent -lm
# Tests read JSON with a real parser (jansson), only they link it for now.
TEST_LIBS := -ljansson
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror=undef -Ivmlinux/$(ARCH) -Ibpf

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

MAINS := user/cgstatd.c user/cgstat.c
LIB_SRCS := $(filter-out $(MAINS),$(wildcard user/*.c cgroup/*.c))
LIB_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(LIB_SRCS))
LIB := $(OUTPUT)/libcgstat.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(patsubst tests/integration/%.c,$(OUTPUT)/tests/%,$(INTEG_SRCS))
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUTPUT)/tests/%,$(BENCH_SRCS))
TEST_HELPERS := $(filter-out $(INTEG_SRCS) $(BENCH_SRCS),$(wildcard tests/integration/*.c tests/bench/*.c))
TEST_HELPER_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(TEST_HELPERS))

BINS := $(OUTPUT)/cgstatd $(OUTPUT)/cgstat

.PHONY: all deps test unit integration bench run vmlinux clean format lint asan valgrind stress

all: $(BINS)

deps:
	$(Q)bash scripts/deps.sh

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/cgroup $(OUTPUT)/tests $(OUTPUT)/tests/integration $(OUTPUT)/tests/bench:
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c bpf/cgstat.h $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/user/%.o: user/%.c $(wildcard user/*.h bpf/cgstat.h cgroup/*.h) $(SKELS) | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/cgroup/%.o: cgroup/%.c $(wildcard cgroup/*.h) | $(OUTPUT)/cgroup
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/cgstatd: $(OUTPUT)/user/cgstatd.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

$(OUTPUT)/cgstat: $(OUTPUT)/user/cgstat.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

$(OUTPUT)/tests/integration/%.o: tests/integration/%.c $(wildcard tests/integration/*.h user/*.h cgroup/*.h) $(SKELS) | $(OUTPUT)/tests/integration
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/integration -c $< -o $@

$(OUTPUT)/tests/bench/%.o: tests/bench/%.c $(wildcard tests/integration/*.h user/*.h cgroup/*.h) $(SKELS) | $(OUTPUT)/tests/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/integration -c $< -o $@

$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(LIB) $(wildcard user/*.h cgroup/*.h) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LIBS) $(TEST_LIBS) -lcmocka -o $@

$(OUTPUT)/tests/test_%: $(OUTPUT)/tests/integration/test_%.o $(TEST_HELPER_OBJS) $(LIB) | $(OUTPUT)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) $(TEST_LIBS) -lpthread -o $@

$(OUTPUT)/tests/bench_%: $(OUTPUT)/tests/bench/bench_%.o $(TEST_HELPER_OBJS) $(LIB) | $(OUTPUT)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) $(TEST_LIBS) -lpthread -o $@

# The README's test command. Unit tests need no privileges; integration tests
# need root and BPF and, under CI=true, fail rather than skip without them.
test: deps all $(UNIT_BINS) $(INTEG_BINS)
	$(Q)OUTPUT=$(OUTPUT) bash tests/run.sh $(UNIT_BINS) -- $(INTEG_BINS) -- $(wildcard tests/integration/*.sh)

unit: $(UNIT_BINS)
	$(Q)OUTPUT=$(OUTPUT) bash tests/run.sh $(UNIT_BINS) -- --

integration: all $(INTEG_BINS)
	$(Q)OUTPUT=$(OUTPUT) bash tests/run.sh -- $(INTEG_BINS) -- $(wildcard tests/integration/*.sh)

# Benches run against this build's daemon and write their JSON here
# (bench_lifecycle.json); --bench adds libbpf-tools (exitsnoop, a comparison).
bench: deps all $(BENCH_BINS)
	$(Q)bash scripts/deps.sh --bench
	$(Q)for b in $(BENCH_BINS); do echo "== $$b"; \
		CGSTATD=$${CGSTATD:-$(OUTPUT)/cgstatd} BENCH_OUT=$(OUTPUT) $$b || exit 1; done

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
	$(Q)clang-format -i $(wildcard bpf/*.c bpf/*.h user/*.c user/*.h cgroup/*.c cgroup/*.h tests/*/*.c tests/*/*.h)

lint: $(SKELS)
	$(Q)for t in cppcheck clang-tidy; do command -v $$t >/dev/null || \
		{ echo "lint: $$t is not installed (apt-get install cppcheck clang-tidy)" >&2; exit 1; }; done
	$(Q)cppcheck -q --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem --include=scripts/cppcheck-macros.h -I$(OUTPUT) -Ibpf -Iuser -Icgroup user cgroup
	$(Q)out=$$(clang-tidy -quiet $(LIB_SRCS) $(MAINS) -- $(CFLAGS) 2>/dev/null); rc=$$?; \
		if printf '%s\n' "$$out" | grep -E 'warning:|error:'; then exit 1; fi; \
		[ $$rc -eq 0 ] || { echo "lint: clang-tidy failed (exit $$rc)" >&2; exit 1; }

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)
