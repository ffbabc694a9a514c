package main

import (
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

// findings is the doctor's checklist builder, shared with the stack checks.
type findings = pamstack.Findings
