# `make fuzz-short`, run by `make test`: each fuzz target for FUZZ_TIME,
# starting from its committed corpus (testdata/fuzz/NAME/ in its package). go
# runs one target per invocation. A crasher fails the step, and go writes it
# under testdata/fuzz/NAME/, where every later `go test` repeats it. Standard
# input is not read. The first run on an empty Go cache also builds the
# standard library with fuzzing instrumentation, once.

FUZZ_TIME    ?= 5s
FUZZ_TARGETS := conf:FuzzParse smsclient:FuzzParseNumber helper:FuzzReadRequest

.PHONY: fuzz-short

fuzz-short:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "$(GO) test -run='^\$$' -fuzz='^$$name\$$' -fuzztime=$(FUZZ_TIME) ./$$pkg/"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZ_TIME) -fuzzminimizetime=10s -timeout=5m ./$$pkg/ </dev/null || exit 1; \
	done
