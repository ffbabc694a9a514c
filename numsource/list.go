package numsource

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/BurntSushi/toml"
	"github.com/pam-sms/pam_sms/conf"
)

// Listed is one user of a numbers file.
type Listed struct {
	User string
	Line int
	Entry
}

// Listing is a whole numbers file as pam-sms check and pam-sms numbers see
// it: every user, and every problem with its line and key.
type Listing struct {
	Path    string
	Entries []Listed // in file order; a user listed twice only at the first line, which the login uses
	// Problems are every line a login would refuse or misread: not a
	// simple line, a key that is no user name, an invalid number, a user
	// listed twice. Keys are spelled as conf.Problem keys ("alice").
	Problems []conf.Problem
}

// Err returns the problems as a *conf.Error (the config's format: "PATH:LINE:
// KEY: MSG"), or nil.
func (l *Listing) Err() error {
	if len(l.Problems) == 0 {
		return nil
	}
	return &conf.Error{Path: l.Path, Problems: l.Problems}
}

// List reads the numbers file at path with the login's file rules and checks
// every line. The error is a *FileError when the file cannot be used at all
// (missing, unsafe, too large); problems in its lines are in the Listing.
func List(path string) (*Listing, error) {
	data, err := conf.ReadFile(path, MaxFileSize)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return list(path, data), nil
}

func list(path string, data []byte) *Listing {
	l := &Listing{Path: path}
	first := map[string]int{}
	for n, rest := 1, data; len(rest) > 0; n++ {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		key, value, msg := parseLine(line)
		pkey := ""
		if key != "" {
			pkey = conf.Key(key)
		}
		switch {
		case msg != "" && key == "":
			l.Problems = append(l.Problems, conf.Problem{Line: n, Msg: msg})
			continue
		case key == "":
			continue
		case !conf.ValidName(key):
			l.Problems = append(l.Problems, conf.Problem{Line: n, Key: pkey, Msg: "not a valid user name"})
			continue
		case first[key] > 0:
			l.Problems = append(l.Problems, conf.Problem{Line: n, Key: pkey,
				Msg: fmt.Sprintf("listed again (first at line %d, which is used)", first[key])})
			continue
		}
		first[key] = n
		e := Listed{User: key, Line: n, Entry: Entry{Where: fmt.Sprintf("%s line %d", path, n), Problem: msg}}
		if msg == "" {
			e.Number, e.Problem = parseNumber(value)
		}
		if e.Problem != "" {
			l.Problems = append(l.Problems, conf.Problem{Line: n, Key: pkey, Msg: e.Problem})
		}
		l.Entries = append(l.Entries, e)
	}
	if len(l.Problems) == 0 {
		l.Problems = tomlProblems(path, data)
	}
	return l
}

// tomlProblems decodes a file whose every line is simple with the config's
// TOML decoder, after the same nesting pre-scan: simple lines make a valid
// TOML file, and this keeps it so should the line rules ever drift.
func tomlProblems(path string, data []byte) []conf.Problem {
	if err := conf.CheckNesting(path, data); err != nil {
		var ce *conf.Error
		if errors.As(err, &ce) {
			return ce.Problems
		}
		return []conf.Problem{{Msg: err.Error()}}
	}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return []conf.Problem{{Line: pe.Position.Line, Msg: "not valid TOML"}}
		}
		return []conf.Problem{{Msg: "not valid TOML"}}
	}
	return nil
}
