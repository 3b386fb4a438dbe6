# recstage - build, test, bench, install.
#
#   make                 build the library and every tool into bin/
#   make check           build and run all tests; ends with "N passed, N failed"
#   make check SANITIZE=1  the same under AddressSanitizer and UBSan
#   make demo            install missing packages, build, run the pipelines on data-samples/
#   make bench           throughput and efficiency figures (not a test)
#   make fuzz FUZZ_SECONDS=60  run each libFuzzer harness (needs clang), see tests/fuzz/run
#   make install DESTDIR=... PREFIX=/usr
#   DEVELOPER=1          warnings are errors

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := openblas libcjson zlib

CFLAGS ?= -O2 -g
# GCC's -O2 leaves loops that need an epilogue scalar (elementwise
# activations, Adam); -fvect-cost-model=dynamic vectorizes them, and float
# results do not change (nothing is reassociated without -ffast-math).
# Only for compilers that know the option (clang vectorizes at -O2).
vec_flag = $(shell $(1) -fvect-cost-model=dynamic -E -x c /dev/null >/dev/null 2>&1 && echo -fvect-cost-model=dynamic)
VECFLAGS := $(call vec_flag,$(CC))
WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wvla
ifeq ($(DEVELOPER),1)
WARNINGS += -Werror
endif
ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
BUILD := build-san
else
SANFLAGS :=
BUILD := build
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ifeq ($(strip $(PKG_LIBS)),)
PKG_LIBS := -lopenblas -lcjson -lz
endif

ALL_CFLAGS := -std=gnu11 $(WARNINGS) $(CFLAGS) $(VECFLAGS) $(SANFLAGS) -Icommon $(PKG_CFLAGS) -pthread -MMD -MP
# libcsv ships no .pc file
LDLIBS := $(PKG_LIBS) -lcsv -lm -pthread
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS)

LIB_SRC := $(wildcard common/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/librecstage.a

TOOL_SRC := $(wildcard tools/*.c)
TOOLS := $(notdir $(TOOL_SRC:.c=))
ifeq ($(SANITIZE),1)
BINDIR_BUILD := $(BUILD)/bin
else
BINDIR_BUILD := bin
endif
TOOL_BIN := $(TOOLS:%=$(BINDIR_BUILD)/%)
# bash completion of every tool, from their --help
COMPLETION := $(BUILD)/completion/recstage

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# fuzz harnesses: replay drivers for make check, fuzzers for make fuzz (clang)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD := build-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 $(WARNINGS) $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Icommon $(PKG_CFLAGS) -pthread -MMD -MP
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

MAN1 := $(wildcard man/man1/*.1)
MAN5 := $(wildcard man/man5/*.5)
MAN7 := $(wildcard man/man7/*.7)

.PHONY: all check bench demo install uninstall clean samples tests-build fuzz
.DELETE_ON_ERROR:
.SECONDARY:

all: $(TOOL_BIN) $(COMPLETION)

$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BINDIR_BUILD)/%: $(BUILD)/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(COMPLETION): scripts/gen-completion $(TOOL_BIN)
	@mkdir -p $(dir $@)
	sh scripts/gen-completion $(TOOL_BIN) > $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/fuzz-replay/%.o: tests/fuzz/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DFUZZ_REPLAY -c -o $@ $<

$(BUILD)/fuzz-replay/%: $(BUILD)/fuzz-replay/%.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(FUZZ_BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/librecstage.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/%: $(FUZZ_BUILD)/tests/fuzz/%.o $(FUZZ_BUILD)/librecstage.a
	$(FUZZ_CC) $(LDFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/librecstage.a $(LDLIBS)

tests-build: $(TOOL_BIN) $(COMPLETION) $(TEST_BIN) $(FUZZ_REPLAY)

check: tests-build
	@BUILD=$(BUILD) BINDIR_BUILD=$(BINDIR_BUILD) SANITIZE=$(SANITIZE) sh tests/run

bench: $(TOOL_BIN) $(BENCH_BIN)
	@BUILD=$(BUILD) sh bench/run

fuzz: $(FUZZ_BIN) $(BINDIR_BUILD)/rec-cat
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run $(FUZZ_BIN:$(FUZZ_BUILD)/%=%)

demo:
	@sh scripts/install-deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo

samples: $(TOOL_BIN)
	@sh scripts/make-samples

install: $(TOOL_BIN) $(COMPLETION)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(COMPLETIONDIR)
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(BINDIR)/
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(MAN5),install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/)
	$(if $(MAN7),install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/)
	install -m 644 $(COMPLETION) $(DESTDIR)$(COMPLETIONDIR)/recstage
	for t in $(TOOLS); do ln -sf recstage $(DESTDIR)$(COMPLETIONDIR)/$$t || exit 1; done

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(MAN1:man/%=$(DESTDIR)$(MANDIR)/%) $(MAN5:man/%=$(DESTDIR)$(MANDIR)/%) $(MAN7:man/%=$(DESTDIR)$(MANDIR)/%)
	rm -f $(TOOLS:%=$(DESTDIR)$(COMPLETIONDIR)/%) $(DESTDIR)$(COMPLETIONDIR)/recstage

clean:
	rm -rf build build-san build-fuzz bin

-include $(LIB_OBJ:.o=.d) $(TOOL_SRC:%.c=$(BUILD)/%.d) $(TEST_SRC:%.c=$(BUILD)/%.d) $(BENCH_SRC:%.c=$(BUILD)/%.d)
-include $(FUZZ_REPLAY:%=%.d) $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/%.d)
