package numsource

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/directory"
)

// ErrDirectoryUnavailable is what an error of the directory source wraps
// when no server answered (directory.ErrUnavailable): the only case fail_mode
// applies to, and the only one a cached number may stand in for. Test it
// with errors.Is.
var ErrDirectoryUnavailable = directory.ErrUnavailable

// CacheWhere starts Entry.Where of a number taken from the directory cache,
// so that the helper can say so in its log.
const CacheWhere = "number from cache (directory unavailable)"

// DirectoryName is the directory source's Name.
const DirectoryName = "[directory]"

// Directory is the third source: [directory], one search per Lookup. Its
// files (bind password, client key, CA) are read at each Lookup, not when
// the config is read, so an exempt login never touches them.
type Directory struct {
	Dir      *conf.Directory
	Path     string // the config's, for messages
	StateDir string // where the cache is kept, when Dir.Cache is set
	// Now is the clock of the cache; nil: time.Now.
	Now func() time.Time
}

// Name implements Source.
func (Directory) Name() string { return DirectoryName }

// DirectoryError is a directory lookup that failed. It wraps
// directory.ErrUnavailable when no server answered.
type DirectoryError struct{ Err error }

func (e *DirectoryError) Error() string { return "directory: " + trimConf(e.Err) }
func (e *DirectoryError) Unwrap() error { return e.Err }

// Lookup implements Source. A number found is validated as a configured one;
// no entry and no number are "not had", and remove a cached number. When no
// server answered, a cached number not older than [directory] cache stands
// in (Where starts with CacheWhere); otherwise the error wraps
// ErrDirectoryUnavailable.
func (d Directory) Lookup(ctx context.Context, user string) (Entry, bool, error) {
	cfg, err := d.Dir.Resolve(d.Path)
	if err != nil {
		return Entry{}, false, &DirectoryError{Err: err}
	}
	res, err := directory.Lookup(ctx, cfg, user)
	if err != nil {
		if errors.Is(err, directory.ErrUnavailable) {
			if e, ok := d.cached(user, err); ok {
				return e, true, nil
			}
		}
		return Entry{}, false, &DirectoryError{Err: err}
	}
	switch res.Status {
	case directory.Found:
		e := Entry{Where: fmt.Sprintf("directory %s entry %q attribute %s", res.URI, res.DN, res.Attribute)}
		e.Number, e.Problem = parseNumber(res.Value)
		if e.Problem == "" {
			d.remember(user, e)
		} else {
			d.forget(user)
		}
		return e, true, nil
	default: // NoEntry, NoNumber
		d.forget(user)
		return Entry{}, false, nil
	}
}

func (d Directory) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d Directory) cacheOn() bool { return d.Dir.Cache > 0 && d.StateDir != "" }

// cached returns the cached number of user, if one is fresh enough. A cache
// that cannot be read is no cache: the directory's error stands.
func (d Directory) cached(user string, cause error) (Entry, bool) {
	if !d.cacheOn() {
		return Entry{}, false
	}
	n, seen, err := readCache(d.StateDir, user)
	if err != nil || d.now().Sub(seen) > d.Dir.Cache || !n.IsValid() {
		return Entry{}, false
	}
	return Entry{Number: n, Where: fmt.Sprintf("%s, seen %s: %v", CacheWhere,
		seen.UTC().Format(time.RFC3339), trimConf(cause))}, true
}

// remember and forget keep the cache; a failure only costs the cache, never
// the login, so it is not reported.
func (d Directory) remember(user string, e Entry) {
	if d.cacheOn() {
		_ = writeCache(d.StateDir, user, e.Number, d.now())
	}
}

func (d Directory) forget(user string) {
	if d.cacheOn() {
		_ = removeCache(d.StateDir, user)
	}
}
