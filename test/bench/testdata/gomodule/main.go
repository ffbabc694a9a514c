// Command pam_go is a trivial PAM module written in Go, built by `make bench`
// with -buildmode=c-shared in a temporary directory, only to compare the
// memory a Go runtime adds to the login process with what pam_sms.so adds.
// It is never shipped (and a Go runtime in sshd is what SPEC section 2 rules
// out). It lives under testdata so that the go tool ignores it.
package main

/*
#include <security/pam_appl.h>
*/
import "C"

//export pam_sm_authenticate
func pam_sm_authenticate(pamh *C.pam_handle_t, flags, argc C.int, argv **C.char) C.int {
	return C.PAM_SUCCESS
}

//export pam_sm_setcred
func pam_sm_setcred(pamh *C.pam_handle_t, flags, argc C.int, argv **C.char) C.int {
	return C.PAM_SUCCESS
}

func main() {}
