# mcpwarden build. `make` builds everything into build/; `make asan` builds
# the same with ASan+UBSan into build-asan/, which `make test` uses.

BUILD ?= build
SAN ?=
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

PKGS := libbpf jansson yaml-0.1 libpq libcrypto libhs libpcre2-8
# CFLAGS is the user's (optimisation, debug); MW_CFLAGS always applies.
CFLAGS ?= -O2 -g
MW_CPPFLAGS := -Iinclude -Iuser -I$(BUILD)/bpf -D_GNU_SOURCE \
	$(shell pkg-config --cflags $(PKGS))
MW_CFLAGS := -std=c17 -Wall -Wextra -Werror -fno-strict-aliasing -pthread
MW_LDFLAGS := -pthread
LDLIBS += $(shell pkg-config --libs $(PKGS)) -lhttp_parser -lelf -lz

ifeq ($(SAN),1)
MW_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
MW_LDFLAGS += -fsanitize=address,undefined
endif
COMPILE = $(CC) $(MW_CPPFLAGS) $(CPPFLAGS) $(MW_CFLAGS) $(CFLAGS)
LINK = $(COMPILE) $(MW_LDFLAGS) $(LDFLAGS)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/*.h) $(wildcard include/*.h)

DAEMON_MAIN := user/mcpwardend.c
CLI_MAIN := user/mcpwarden.c
LIB_SRCS := $(filter-out $(DAEMON_MAIN) $(CLI_MAIN),$(wildcard user/*.c))
LIB_OBJS := $(patsubst user/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
USER_HDRS := $(wildcard user/*.h) $(wildcard include/*.h)

UNIT_SRCS := $(wildcard tests/unit/*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)

# Keep the objects the skeletons are made from (make would delete them as
# intermediate files, and rebuild everything next time).
.SECONDARY: $(BPF_OBJS)

.PHONY: all asan test unit integration demo bench bench-instructions bench-policy bench-audit bench-mask bench-hostile bench-spool fuzz fuzz-smoke install clean deps format

all: $(BUILD)/mcpwardend $(BUILD)/mcpwarden

asan:
	$(MAKE) BUILD=build-asan SAN=1 CFLAGS="-O1 -g"

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)/bpf
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux -Iinclude \
		-Wall -Werror -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name mw_$(subst .skel.h,,$(notdir $@))_bpf > $@.tmp
	mv $@.tmp $@

$(BUILD)/obj/%.o: user/%.c $(USER_HDRS) $(BPF_SKELS) | $(BUILD)/obj
	$(COMPILE) -c $< -o $@

$(BUILD)/lib.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/mcpwardend: $(DAEMON_MAIN) $(BUILD)/lib.a $(USER_HDRS) $(BPF_SKELS)
	$(LINK) $< $(BUILD)/lib.a $(LDLIBS) -o $@

$(BUILD)/mcpwarden: $(CLI_MAIN) $(BUILD)/lib.a $(USER_HDRS) $(BPF_SKELS)
	$(LINK) $< $(BUILD)/lib.a $(LDLIBS) -o $@

$(BUILD)/unit_tests: $(UNIT_SRCS) $(BUILD)/lib.a $(USER_HDRS)
	$(LINK) $(UNIT_SRCS) $(BUILD)/lib.a $(LDLIBS) -lcriterion -o $@

$(BUILD)/bpf $(BUILD)/obj:
	mkdir -p $@

deps:
	scripts/deps.sh

# The README's test command: unit tests and integration tests with real eBPF,
# PostgreSQL and MCP peers, against the sanitizer build.
test: deps
	$(MAKE) asan
	$(MAKE) BUILD=build-asan SAN=1 CFLAGS="-O1 -g" build-asan/unit_tests
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp build-asan/unit_tests --jobs 2
	$(MAKE) -j2 fuzz-smoke
	tests/integration/run.sh build-asan

unit: asan
	$(MAKE) BUILD=build-asan SAN=1 CFLAGS="-O1 -g" build-asan/unit_tests
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp build-asan/unit_tests

integration: asan
	tests/integration/run.sh build-asan

demo: deps all
	scripts/demo.sh

bench: deps all
	bench/run.sh

# Instructions per request under callgrind (bench/instructions.sh): counts
# that this VM's noise does not move, to compare two builds.
bench-instructions: deps all
	bench/instructions.sh $(BUILD)

# Policy decision time with 1,000 rules (bench/policy_bench.c); not part of
# `make test` either.
bench-policy: $(BUILD)/policy_bench
	$(BUILD)/policy_bench 1000 200000

$(BUILD)/policy_bench: bench/policy_bench.c $(BUILD)/lib.a $(USER_HDRS)
	$(LINK) $< $(BUILD)/lib.a $(LDLIBS) -o $@

# Masking speed, fast path and rewrite (bench/mask_bench.c); not part of
# `make test`.
bench-mask: $(BUILD)/mask_bench
	$(BUILD)/mask_bench 5

$(BUILD)/mask_bench: bench/mask_bench.c $(BUILD)/lib.a $(USER_HDRS)
	$(LINK) $< $(BUILD)/lib.a $(LDLIBS) -o $@

# What hostile inputs within the bounds cost the proxy's loop, at two
# sizes each (bench/hostile_bench.c); not part of `make test`.
bench-hostile: $(BUILD)/hostile_bench
	$(BUILD)/hostile_bench 5

$(BUILD)/hostile_bench: bench/hostile_bench.c $(BUILD)/lib.a $(USER_HDRS)
	$(LINK) $< $(BUILD)/lib.a $(LDLIBS) -o $@

# Audit ingest and verify speed into the embedded PostgreSQL
# (bench/audit_bench.c); as root, not part of `make test`.
bench-audit: deps $(BUILD)/audit_bench $(BUILD)/mcpwarden
	$(BUILD)/audit_bench 300000 3

$(BUILD)/audit_bench: bench/audit_bench.c $(BUILD)/lib.a $(USER_HDRS)
	$(LINK) -DBENCH_BUILD='"$(abspath $(BUILD))"' $< $(BUILD)/lib.a \
		$(LDLIBS) -o $@

# The spool's flush against a growing file's (bench/spool_bench.c), on the
# disk under /var/tmp; not part of `make test`.
bench-spool: $(BUILD)/spool_bench
	$(BUILD)/spool_bench /var/tmp 3000

$(BUILD)/spool_bench: bench/spool_bench.c $(BUILD)/lib.a $(USER_HDRS)
	$(LINK) $< $(BUILD)/lib.a $(LDLIBS) -o $@

# libFuzzer targets, one per parser: build/fuzz/<name>, linked with the
# parsers only (no eBPF, no database).
FUZZ_LIB := user/http.c user/buf.c user/sse.c user/jsonrpc.c user/log.c \
	user/config.c user/yaml_util.c user/policy.c user/policy_load.c \
	user/policy_index.c user/glob.c user/jsonptr.c user/mcp.c user/digest.c \
	user/chain.c user/sign.c user/pgcopy.c user/verify.c
FUZZ_LIB += user/spool.c user/replay.c user/evidence.c user/mask.c user/detect.c \
	user/mask_load.c user/json_text.c user/json_parse.c user/utf8.c \
	user/atomic_file.c user/fdio.c user/private_dir.c user/intents.c \
	user/pins.c user/cgroup.c
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
fuzz: $(FUZZ_BINS)

build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB) $(USER_HDRS) $(wildcard tests/fuzz/*.h)
	@mkdir -p build/fuzz
	$(CLANG) $(MW_CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined \
		$< $(FUZZ_LIB) -ljansson -lyaml -lhttp_parser -lpq \
		-lcrypto -lhs -lpcre2-8 -o $@

# Part of the tests: every fuzz target builds and runs 5,000 inputs, its
# committed corpus first, so that a target that no longer links or trips
# at once fails here rather than in the next fuzzing campaign.
fuzz-smoke: fuzz
	for t in $(FUZZ_BINS); do \
		c=tests/fuzz/corpus/$$(basename $$t | sed 's/^fuzz_//'); \
		w=$$(mktemp -d); \
		$$t -seed=1 -runs=5000 $$w $$(test -d $$c && echo $$c) \
			>$$w.log 2>&1 || { tail -40 $$w.log; exit 1; }; \
		echo "$$t: 5000 inputs"; \
		rm -rf $$w $$w.log; \
	done

# DESTDIR stages the files (packaging); the user is created on the host.
install: all
	install -D -m 0755 $(BUILD)/mcpwardend $(DESTDIR)/usr/local/sbin/mcpwardend
	install -D -m 0755 $(BUILD)/mcpwarden $(DESTDIR)/usr/local/sbin/mcpwarden
	install -D -m 0644 scripts/mcpwardend.service \
		$(DESTDIR)/etc/systemd/system/mcpwardend.service
	install -D -m 0644 README.md $(DESTDIR)/usr/local/share/doc/mcpwarden/README.md
	test -e $(DESTDIR)/etc/mcpwarden/mcpwarden.yaml || \
		install -D -m 0600 policy/mcpwarden.yaml $(DESTDIR)/etc/mcpwarden/mcpwarden.yaml
	test -n "$(DESTDIR)" || getent passwd mcpwarden >/dev/null || \
		useradd --system --no-create-home --shell /usr/sbin/nologin mcpwarden

format:
	clang-format -i $$(git ls-files 'bpf/*.c' 'bpf/*.h' 'user/*.c' 'user/*.h' 'include/*.h' 'tests/*.c' 'tests/**/*.c')

clean:
	rm -rf build build-asan
