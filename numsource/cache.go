package numsource

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pam-sms/pam_sms/smsclient"
)

// The directory cache: the last number the directory gave for a user, one
// file per user in the state directory, named like the limits' files
// (CachePrefix and the first 16 bytes of the SHA-256 of the user name, in
// hex), 0660, written to a temporary file and renamed over, opened without
// following links. It holds "v1 UNIXTIME +NUMBER\n".
const (
	CachePrefix  = "dircache-"
	maxCacheFile = 128
	cacheVersion = "v1"
)

// CacheFile is the name of user's cache file in the state directory.
func CacheFile(user string) string {
	sum := sha256.Sum256([]byte(user))
	return CachePrefix + hex.EncodeToString(sum[:16])
}

// IsCacheFile reports whether name is a cache file's name.
func IsCacheFile(name string) bool {
	h, ok := strings.CutPrefix(name, CachePrefix)
	if !ok || len(h) != 32 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

func openDir(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("state directory %s: %w", dir, err)
	}
	return fd, nil
}

func readCache(dir, user string) (smsclient.Number, time.Time, error) {
	dfd, err := openDir(dir)
	if err != nil {
		return smsclient.Number{}, time.Time{}, err
	}
	defer unix.Close(dfd)
	return readCacheAt(dfd, CacheFile(user))
}

// readCacheAt reads the cache file name in the directory dfd.
func readCacheAt(dfd int, name string) (smsclient.Number, time.Time, error) {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return smsclient.Number{}, time.Time{}, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return smsclient.Number{}, time.Time{}, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > maxCacheFile {
		return smsclient.Number{}, time.Time{}, errors.New("not a cache file")
	}
	buf := make([]byte, maxCacheFile+1)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return smsclient.Number{}, time.Time{}, err
	}
	return parseCache(buf[:n])
}

func parseCache(b []byte) (smsclient.Number, time.Time, error) {
	line, ok := bytes.CutSuffix(b, []byte("\n"))
	f := strings.Fields(string(line))
	if !ok || len(f) != 3 || f[0] != cacheVersion {
		return smsclient.Number{}, time.Time{}, errors.New("not a cache file")
	}
	sec, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return smsclient.Number{}, time.Time{}, errors.New("not a cache file")
	}
	n, err := smsclient.ParseNumber(f[2])
	if err != nil {
		return smsclient.Number{}, time.Time{}, errors.New("not a cache file")
	}
	return n, time.Unix(sec, 0), nil
}

// writeCache replaces user's cache file: a fresh temporary file (".NAME.RANDOM.tmp",
// removed by pam-sms prune if a login dies before the rename), then rename.
func writeCache(dir, user string, n smsclient.Number, seen time.Time) error {
	dfd, err := openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	name := CacheFile(user)
	tmp := "." + name + "." + rand.Text()[:8] + ".tmp"
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o660)
	if err != nil {
		return err
	}
	content := fmt.Sprintf("%s %d %s\n", cacheVersion, seen.Unix(), n.Format(smsclient.FormatPlus))
	err = unix.Fchmod(fd, 0o660) // the umask may have taken group write
	if err == nil {
		_, err = unix.Write(fd, []byte(content))
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, name)
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, tmp, 0)
	}
	return err
}

func removeCache(dir, user string) error {
	dfd, err := openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := unix.Unlinkat(dfd, CacheFile(user), 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// PruneCache removes from dir the cache files older than maxAge (all of
// them when maxAge is 0: the cache is off), and unreadable ones. It returns
// how many went.
func PruneCache(dir string, maxAge time.Duration, now time.Time) (int, error) {
	dfd, err := openDir(dir)
	if err != nil {
		return 0, err
	}
	defer unix.Close(dfd)
	names, err := dirNames(dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, name := range names {
		if !IsCacheFile(name) {
			continue
		}
		_, seen, err := readCacheAt(dfd, name)
		if err == nil && maxAge > 0 && now.Sub(seen) <= maxAge {
			continue
		}
		if err := unix.Unlinkat(dfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("removing %s/%s: %w", dir, name, err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

func dirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
