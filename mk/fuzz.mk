# `make fuzz-short`, run by `make test`: each fuzz target for a fixed number
# of executions (a few seconds each on 2 cores), starting from its committed
# corpus (testdata/fuzz/NAME/ in its package). A count, not a -fuzztime
# duration: with a duration, go1.26's fuzz coordinator can report "context
# deadline exceeded" as a failure when a starved worker misses the deadline
# (go.dev/issue/75804, fixed in Go 1.27), which failed make test on a loaded
# machine with no crasher. FUZZ_TIME=30s (or 100000x) sets one budget for all.
# go runs one target per invocation. A crasher fails the step, and go writes it
# under testdata/fuzz/NAME/, where every later `go test` repeats it. Standard
# input is not read; -timeout bounds a hang. The first run on an empty Go cache
# also builds the standard library with fuzzing instrumentation, once.

FUZZ_TIME    ?=
FUZZ_TARGETS := conf:FuzzParse:3000x smsclient:FuzzParseNumber:40000x helper:FuzzReadRequest:6000x

.PHONY: fuzz-short

fuzz-short:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$${rest#*:}; \
		budget=$${FUZZ_TIME:-$$budget}; \
		echo "$(GO) test -run='^\$$' -fuzz='^$$name\$$' -fuzztime=$$budget ./$$pkg/"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$$budget -fuzzminimizetime=10s -timeout=5m ./$$pkg/ </dev/null || exit 1; \
	done
