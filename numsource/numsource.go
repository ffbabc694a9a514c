// Package numsource finds the mobile number of a user who must enter a code,
// in the sources of SPEC section 7, in order: [numbers] in the config, then
// each file of policy.numbers_files, then the directory ([directory],
// Directory); the first source that has the user wins.
//
// It is the step between policy's two halves: policy.Exemption decides
// without any number, and only for an enforced user does the helper ask the
// sources, so a login that needs no number never opens a numbers file.
// policy.Decide stays pure (no I/O); the lookup happens around it.
package numsource

import (
	"context"
	"strings"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/smsclient"
)

// Source is one place numbers come from.
type Source interface {
	// Name says which source it is, for logs and pam-sms numbers:
	// "[numbers]", a numbers file's path.
	Name() string
	// Lookup returns the user's entry and true when the source has one, or
	// false when it has none, so the next source is asked. An entry whose
	// value is not a valid number counts as had (Entry.Problem says why):
	// the user then has no number, and no later source is asked, since a
	// later one may hold an outdated number. An error means the source could
	// not be used (a missing or unsafe file): the chain stops there and the
	// login is denied, as for a broken config.
	Lookup(ctx context.Context, user string) (Entry, bool, error)
}

// Entry is what a source holds for a user.
type Entry struct {
	Number  smsclient.Number // valid unless Problem is set
	Where   string           // where exactly, e.g. "/etc/security/pam_sms.numbers line 12"
	Problem string           // why the value is not a usable number; "" when Number is valid
}

// Result is the answer of the sources for one user.
type Result struct {
	Entry
	Found  bool     // a source has an entry for the user (valid or not)
	Source string   // Name of that source
	Asked  []string // Names of the sources asked, in order
}

// OK reports whether a valid number was found.
func (r Result) OK() bool { return r.Found && r.Problem == "" && r.Number.IsValid() }

// Why says why there is no number, for the log and pam-sms explain; "" when
// there is one. It never holds the number.
func (r Result) Why() string {
	switch {
	case r.OK():
		return ""
	case r.Found:
		return "invalid number in " + r.Where + ": " + r.Problem
	case len(r.Asked) == 0:
		return "no number source"
	}
	return "no number in " + orList(r.Asked)
}

// Sources lists the sources of cfg in the order they are asked: [numbers],
// then the numbers files, then [directory]. Nothing is opened here.
func Sources(cfg *conf.Config) []Source {
	srcs := make([]Source, 0, 1+len(cfg.Policy.NumbersFiles))
	srcs = append(srcs, Config{cfg})
	for _, path := range cfg.Policy.NumbersFiles {
		srcs = append(srcs, File{Path: path})
	}
	if cfg.Directory != nil {
		srcs = append(srcs, Directory{Dir: cfg.Directory, Path: cfg.Path, StateDir: cfg.Limits.StateDir})
	}
	return srcs
}

// Lookup asks srcs in order and returns the first that has the user. The
// error of a source that could not be used names it; no later source is
// asked then, so that which number is used never depends on a broken file.
func Lookup(ctx context.Context, srcs []Source, user string) (Result, error) {
	var r Result
	for _, src := range srcs {
		r.Asked = append(r.Asked, src.Name())
		e, ok, err := src.Lookup(ctx, user)
		if err != nil {
			return r, err
		}
		if ok {
			r.Entry, r.Found, r.Source = e, true, src.Name()
			return r, nil
		}
	}
	return r, nil
}

// Chain is the lookup the helper and pam-sms explain run for cfg.
func Chain(cfg *conf.Config) func(context.Context, string) (Result, error) {
	srcs := Sources(cfg)
	return func(ctx context.Context, user string) (Result, error) { return Lookup(ctx, srcs, user) }
}

// Config is the first source: [numbers] in the config, validated by conf
// when the config was read.
type Config struct{ Cfg *conf.Config }

// Name implements Source.
func (Config) Name() string { return "[numbers]" }

// Lookup implements Source.
func (c Config) Lookup(_ context.Context, user string) (Entry, bool, error) {
	n, ok := c.Cfg.Numbers[user]
	if !ok {
		return Entry{}, false, nil
	}
	e := Entry{Number: n, Where: "[numbers] in " + c.Cfg.Path}
	if !n.IsValid() {
		e.Problem = "not a valid mobile number"
	}
	return e, true, nil
}

// parseNumber validates a number read from a source exactly as conf does for
// [numbers]; the problem never repeats the value.
func parseNumber(v string) (smsclient.Number, string) {
	n, err := smsclient.ParseNumber(v)
	if err != nil {
		return smsclient.Number{}, conf.NumberMessage(err, v)
	}
	return n, ""
}

// trimConf drops conf's prefix from its errors: FileError names the source.
func trimConf(err error) string { return strings.TrimPrefix(err.Error(), "conf: ") }

// FileError is a numbers file that could not be used.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string {
	msg := trimConf(e.Err)
	if strings.HasPrefix(msg, e.Path) {
		return "numbers file " + msg
	}
	return "numbers file " + e.Path + ": " + msg
}

func (e *FileError) Unwrap() error { return e.Err }

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
