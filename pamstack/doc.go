// Package pamstack reads Linux-PAM service files and replays libpam's stack
// logic (pam_handlers.c and pam_dispatch.c of Linux-PAM 1.5) on the auth
// stack, so that pam-sms doctor and pam-sms enable can tell whether
// pam_sms.so really runs after the password and cannot be skipped when it
// fails (notes/anchors.md §3.1, §3.2; notes/packaging.md §4).
//
// A [Reader] parses the files of one directory as libpam does: comments,
// continued lines, bracketed controls, @include, include and substack.
// [Reader.AuthStack] flattens a service into the [Handler] list libpam
// builds, with broken lines installed as "must fail" the way libpam does.
// [CheckStack] and [CheckHandler] simulate logins over that list (right
// password and code; wrong password; each error pam_sms returns) and
// report each pam_sms.so line as an [Item]: OK, WARN or FAIL with the fix.
package pamstack
