package conf

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// Size limits: these files are small; a huge one is a mistake or an attack.
const (
	maxConfigSize   = 1 << 20
	maxPasswordSize = 64 << 10
	maxCASize       = 4 << 20
)

// CheckFile checks that path is safe to hold gateway secrets: a regular file
// (not a symbolic link), owned by root, not writable by group or others and
// not readable by others. The shipped mode is 0640 root:pam-sms, so that the
// setgid helper can read it and users cannot. The error says what is wrong and
// how to fix it.
func CheckFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return statError(path, err)
	}
	return checkInfo(path, fi)
}

func statError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("conf: %s: %w", path, fs.ErrNotExist)
	}
	return fmt.Errorf("conf: %w", err)
}

// checkInfo applies the CheckFile rules to fi, from Lstat or from the open file.
func checkInfo(path string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("conf: %s is a symbolic link; it must be a regular file (replace the link by the file it points to)", path)
	case fi.IsDir():
		return fmt.Errorf("conf: %s is a directory; it must be a regular file", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("conf: %s is not a regular file", path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("conf: %s: cannot read its owner", path)
	}
	if st.Uid != 0 {
		return fmt.Errorf("conf: %s is owned by uid %d; it must be owned by root (chown root %s)", path, st.Uid, path)
	}
	perm := fi.Mode().Perm()
	var bad []string
	if perm&0o020 != 0 {
		bad = append(bad, "writable by group")
	}
	if perm&0o002 != 0 {
		bad = append(bad, "writable by others")
	}
	switch {
	case perm&0o004 != 0:
		bad = append(bad, "readable by others")
	case perm&0o001 != 0:
		bad = append(bad, "accessible by others")
	}
	if len(bad) > 0 {
		return fmt.Errorf("conf: %s is mode %04o; it must not be %s (chmod %04o %s)",
			path, perm, orList(bad), perm&^0o027, path)
	}
	return nil
}

// readChecked reads at most limit bytes of a file that passes CheckFile
// (see OpenFile).
func readChecked(path string, limit int64) ([]byte, error) {
	f, fi, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One buffer of the file's size: a numbers file of 300 KB read with
	// io.ReadAll's doubling would be copied a dozen times at each login.
	buf := make([]byte, 0, min(max(fi.Size(), 0), limit)+1)
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):min(int64(cap(buf)), limit+1)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("conf: %w", err)
		}
	}
	if int64(len(buf)) > limit {
		return nil, fmt.Errorf("conf: %s is larger than %d bytes", path, limit)
	}
	return buf, nil
}

// OpenFile opens path for reading when it passes CheckFile, and checks the
// open file again, so that a swap between check and open is caught; the
// FileInfo is the open file's. O_NONBLOCK keeps a FIFO planted at path from
// blocking the open.
func OpenFile(path string) (*os.File, fs.FileInfo, error) {
	if err := CheckFile(path); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, statError(path, err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkInfo(path, fi)
	} else {
		err = fmt.Errorf("conf: %w", err)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// ReadFile reads at most limit bytes of path with the config's rules
// (CheckFile: a regular file owned by root, not writable by group or others,
// not readable by others), checked again on the open file. It is for the
// other files of the config's kind: the numbers files.
func ReadFile(path string, limit int64) ([]byte, error) {
	return readChecked(path, limit)
}

// readPassword returns the first line of the password file, without trailing
// white space. Its content never appears in an error.
func readPassword(path string) (string, error) {
	data, err := readChecked(path, maxPasswordSize)
	if err != nil {
		return "", err
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	pw := strings.TrimRight(string(line), " \t\r\v\f")
	if pw == "" {
		return "", fmt.Errorf("conf: %s: the first line is empty; it must hold the gateway password", path)
	}
	return pw, nil
}

// checkCAFile checks that ca_file can be read and holds at least one PEM
// certificate. It must be owned by root and not writable by others, since
// whoever can write it can impersonate the gateway; unlike the config it may
// be world-readable.
func checkCAFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return statError(path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("conf: %s is not a regular file", path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != 0 {
		return fmt.Errorf("conf: %s must be owned by root (chown root %s)", path, path)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("conf: %s is mode %04o; it must not be writable by group or others (chmod %04o %s)",
			path, perm, perm&^0o022, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("conf: %w", err)
	}
	if len(data) > maxCASize {
		return fmt.Errorf("conf: %s is larger than %d bytes", path, maxCASize)
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return fmt.Errorf("conf: %s holds no PEM certificate", path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("conf: %s: bad certificate: %w", path, err)
		}
		return nil
	}
}
