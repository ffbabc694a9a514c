package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pam-sms/pam_sms/internal/execpath"
)

// stageBases are root-owned directories (mode 0755 on every distribution we
// support) where a private copy of a helper can live for one run.
var stageBases = []string{"/run", "/var/lib"}

// stageHelper returns a path pam_sms.so will run the helper at: path itself
// when the module accepts it, else a copy in a fresh root-owned 0755
// directory (a source tree under /home or /tmp is refused by the module's
// path check). cleanup removes the copy.
func stageHelper(path string) (staged string, cleanup func(), err error) {
	if execpath.Check(path) == nil {
		return path, func() {}, nil
	}
	for _, base := range stageBases {
		if execpath.CheckDir(base) != nil {
			continue
		}
		dir, err := os.MkdirTemp(base, "pam-sms-stage-")
		if err != nil {
			continue
		}
		cleanup := func() { os.RemoveAll(dir) }
		staged := filepath.Join(dir, filepath.Base(path))
		if err := os.Chmod(dir, 0o755); err != nil {
			cleanup()
			return "", nil, err
		}
		if err := copyExecutable(path, staged); err != nil {
			cleanup()
			return "", nil, err
		}
		return staged, cleanup, nil
	}
	return "", nil, fmt.Errorf("helper %s: pam_sms.so would refuse it (%v), and there is no root-owned directory to copy it to", path, execpath.Check(path))
}

// copyExecutable copies src to a new dst with mode 0755 (owner: us, root).
func copyExecutable(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Chmod(0o755)
}
