# `make bench`: measures pam_sms beside pam_permit, pam_exec and a curl
# script, and writes BENCHMARKS.md (issues 6 and 9). Root only; about 5 minutes
# on 2 cores. BENCH_ROWS picks rows (e.g. BENCH_ROWS=2,3); the other rows of
# BENCHMARKS.md keep their figures, and the file says which run each row is
# from. BENCH_ARGS adds flags of test/bench (e.g. BENCH_ARGS=-keep). Nothing
# here is part of `make test`.

BENCH_BUILD := $(BUILD)/bench
BENCH_ROWS  ?= 1,2,3,4,5,6,7,8,9
BENCH_ARGS  ?=

.PHONY: bench

bench: deps build
	# curl for the pam_exec baseline; libpam-modules for pam_permit and pam_exec.
	sh test/deps.sh curl libpam-modules
	@mkdir -p $(BENCH_BUILD)
	$(CC) -std=c99 -O2 -Wall -Wextra -Werror -o $(BENCH_BUILD)/pamclient test/bench/pamclient/pamclient.c -lpam
	$(GO) build -o $(BENCH_BUILD)/pambench ./test/bench
	$(BENCH_BUILD)/pambench -build $(CURDIR)/$(BUILD) -client $(CURDIR)/$(BENCH_BUILD)/pamclient \
		-repo $(CURDIR) -go $(GO) -rows $(BENCH_ROWS) -out $(CURDIR)/BENCHMARKS.md $(BENCH_ARGS)
