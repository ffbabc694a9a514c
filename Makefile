# pam_sms: SMS one-time code as a second PAM factor.
# `make demo` and `make test` do all set-up on a fresh Debian 12 machine (as root).

# mk/go.sh runs the go that can build go.mod (found at each call, so that a
# go installed by `make deps` is used): go on PATH, /usr/local/go, or
# Debian's /usr/lib/go-1.N, fetching go.mod's toolchain when it is older.
GO      ?= $(CURDIR)/mk/go.sh
CC      ?= gcc
BUILD   := build
VERSION ?= $(shell git describe --tags --always 2>/dev/null | sed 's/^v//' || echo 0.0.0)

# Hardening as dpkg-buildflags prints it with hardening=+all.
MOD_CFLAGS  := -std=c99 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -fPIC \
               -fstack-protector-strong -fstack-clash-protection -Wformat -Werror=format-security \
               -D_FORTIFY_SOURCE=2
MOD_LDFLAGS := -shared -Wl,-z,relro,-z,now -Wl,--version-script=pam_sms/pam_sms.map \
               -Wl,-soname,pam_sms.so -lpam
GO_LDFLAGS  := -s -w -linkmode=external -extldflags=-Wl,-z,relro,-z,now
# cgo (NSS for users and groups) compiled with the same hardening as the module.
# GO_CFLAGS_EXTRA: mk/release.sh adds -D_GNU_SOURCE (glibc before 2.34 declares
# RTLD_NEXT, which the Go pam module uses, only with it).
GO_CFLAGS   := -O2 -g -fstack-protector-strong -fstack-clash-protection -D_FORTIFY_SOURCE=2 $(GO_CFLAGS_EXTRA)
GO_BUILD    := CGO_ENABLED=1 CGO_CFLAGS='$(GO_CFLAGS)' $(GO) build -trimpath -buildmode=pie -ldflags '$(GO_LDFLAGS)'

.PHONY: all build deps deps-demo test test-unit test-integration demo clean FORCE

all: build

build: $(BUILD)/pam_sms.so $(BUILD)/pam-sms-helper $(BUILD)/pam-sms

# Binaries are written under a temporary name and renamed, so that a rebuild
# never rewrites a file a running login or test is executing.
$(BUILD)/pam_sms.so: pam_sms/pam_sms.c pam_sms/pam_sms.map
	@mkdir -p $(BUILD)
	$(CC) $(MOD_CFLAGS) -o $@.tmp pam_sms/pam_sms.c $(MOD_LDFLAGS)
	strip --strip-unneeded --remove-section=.comment $@.tmp
	mv -f $@.tmp $@

$(BUILD)/pam-sms-helper: FORCE
	@mkdir -p $(BUILD)
	$(GO_BUILD) -o $@.tmp ./helper
	objcopy --remove-section=.comment $@.tmp
	mv -f $@.tmp $@

$(BUILD)/pam-sms: FORCE
	@mkdir -p $(BUILD)
	$(GO_BUILD) -o $@.tmp ./cmd/pam-sms
	objcopy --remove-section=.comment $@.tmp
	mv -f $@.tmp $@

# Installs what a fresh machine lacks (Debian packages, and Go when no go can
# build go.mod); a no-op when all is there. deps: everything make test needs;
# deps-demo: only what make demo needs (gcc, libpam0g-dev, Go).
deps:
	sh test/deps.sh

deps-demo:
	sh test/deps.sh --demo

test: deps build
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	PAM_SMS_BUILD=$(CURDIR)/$(BUILD) $(GO) test -race -count=1 -timeout 70m ./...
	$(MAKE) --no-print-directory fuzz-short # mk/fuzz.mk

demo: deps-demo build
	$(BUILD)/pam-sms demo --module $(CURDIR)/$(BUILD)/pam_sms.so --helper $(CURDIR)/$(BUILD)/pam-sms-helper

clean:
	rm -rf $(BUILD)

FORCE:

-include mk/*.mk
