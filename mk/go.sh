#!/bin/sh
# The go command for this repository: `make` runs every go command through
# this script (GO in the Makefile), so that a Go installed by `make deps`
# after make has started is found, and a machine whose go is older than
# go.mod's `go` line still builds.
#
#   mk/go.sh ARGS...   runs the chosen go with ARGS
#   mk/go.sh --which   prints the chosen go; exit 0 when it is new enough
#                      itself, 3 when it will fetch go.mod's toolchain,
#                      1 when there is no usable go (run `make deps`)
#
# Candidates, in this order: go on PATH, /usr/local/go/bin/go (the upstream
# tarball), /usr/lib/go-1.N/bin/go (Debian's golang-1.N-go, newest first).
# The first one at least as new as go.mod runs as it is. Otherwise the newest
# go >= 1.21 runs with GOTOOLCHAIN=auto (unless GOTOOLCHAIN is set): it
# fetches the toolchain go.mod names through the Go module proxy into the
# module cache, once, and runs it. Go 1.19 (Debian 12's golang-go) cannot.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
want=$(sed -n 's/^go \([0-9][0-9.]*\).*/\1/p' "$top/go.mod")

# num turns 1.26.8 (or go1.23rc1) into a number that sorts like the version.
num() {
	echo "$1" | sed -E 's/^go//; s/(rc|beta).*//' |
		awk -F. '{ printf "%d\n", ($1 * 1000000) + ($2 * 1000) + $3 }'
}

# version prints the version of a go binary itself: outside any module and
# with GOTOOLCHAIN=local, so that asking never switches or downloads.
version() {
	(cd / && GOTOOLCHAIN=local "$1" version 2>/dev/null) |
		sed -nE 's/^go version (devel )?go([0-9][0-9.a-z]*).*/\2/p'
}

candidates() {
	# Tests give their own list (test/packaging/gopick_test.go).
	if [ -n "${PAM_SMS_GO_CANDIDATES:-}" ]; then
		echo "$PAM_SMS_GO_CANDIDATES"
		return
	fi
	command -v go 2>/dev/null || true
	echo /usr/local/go/bin/go
	ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -t. -k2,2nr || true
}

need=$(num "$want")
switcher=1021000 # go 1.21: the first go command that fetches toolchains
best="" best_n=0
for g in $(candidates); do
	[ -x "$g" ] || continue
	v=$(version "$g")
	[ -n "$v" ] || continue
	n=$(num "$v")
	if [ "$n" -ge "$need" ]; then
		best=$g best_n=$n
		break
	fi
	if [ "$n" -ge "$switcher" ] && [ "$n" -gt "$best_n" ]; then
		best=$g best_n=$n
	fi
done

if [ -z "$best" ]; then
	echo "mk/go.sh: no go >= 1.21 found (go.mod needs go $want); run \`make deps\` as root to install one" >&2
	exit 1
fi
if [ "${1:-}" = --which ]; then
	echo "$best"
	[ "$best_n" -ge "$need" ] && exit 0
	exit 3
fi
if [ "$best_n" -lt "$need" ] && [ -z "${GOTOOLCHAIN:-}" ]; then
	# Distribution builds may default to GOTOOLCHAIN=local in their go.env.
	GOTOOLCHAIN=auto
	export GOTOOLCHAIN
fi
exec "$best" "$@"
