package main

import (
	"slices"
	"strings"

	"github.com/pam-sms/pam_sms/pamstack"
)

// The checklist doctor prints is the one package pamstack reports the PAM
// stacks in.
type item = pamstack.Item

const (
	statusOK   = pamstack.StatusOK
	statusWarn = pamstack.StatusWarn
	statusFail = pamstack.StatusFail
)

// findings collects the problems of one checked thing.
type findings struct {
	fails, warns, fixes []string
}

func (f *findings) fail(msg string, fixes ...string) { f.fails = append(f.fails, msg); f.fix(fixes...) }
func (f *findings) warn(msg string, fixes ...string) { f.warns = append(f.warns, msg); f.fix(fixes...) }

// fix adds fixes, each once, in order.
func (f *findings) fix(fixes ...string) {
	for _, fix := range fixes {
		if fix != "" && !slices.Contains(f.fixes, fix) {
			f.fixes = append(f.fixes, fix)
		}
	}
}

// item turns the findings into one checklist line; okMsg when there are none.
func (f *findings) item(check, okMsg string) item {
	it := item{Status: statusOK, Check: check, Message: okMsg}
	switch {
	case len(f.fails) > 0:
		it.Status, it.Message = statusFail, strings.Join(append(f.fails, f.warns...), "; ")
	case len(f.warns) > 0:
		it.Status, it.Message = statusWarn, strings.Join(f.warns, "; ")
	}
	if it.Status != statusOK {
		it.Fix = strings.Join(f.fixes, "; ")
	}
	return it
}
