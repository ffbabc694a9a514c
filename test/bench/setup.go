package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Bench users exist only inside the bench's private mount namespace, where a
// copy of /etc with them appended to passwd is bind-mounted over /etc: the
// host's user database is never touched and nothing needs cleaning up. (A
// bind mount of the passwd file alone is lost as soon as a useradd on the
// host renames a new passwd into place.)
const (
	userPrefix = "pamsmsb"
	userCount  = 200
	firstUID   = 64000
	nogroupGID = 65534
	// frozenUser runs the helper by hand and freezes it in row 5d. It is
	// not one of the burst's users, and has a number only in 5d's config.
	frozenUser   = userPrefix + "frozen"
	frozenUID    = firstUID + userCount
	frozenNumber = "+49 170 5559999"
	// benchGroup plays pam-sms: the group the helper is setgid to in row 5d
	// and that may read that row's config and state. Its gid is the first
	// free one from firstBenchGID in the copied /etc/group.
	benchGroup    = userPrefix + "grp"
	firstBenchGID = 64900
)

const (
	gatewayID = "bench-id"
	gatewayPW = "bench-secret"
	// rhostTrusted is inside the trusted network of every bench config,
	// rhostOutside is not.
	rhostTrusted = "192.0.2.10"
	rhostOutside = "198.51.100.7"
)

func userName(i int) string { return fmt.Sprintf("%s%03d", userPrefix, i) }

// userNumber is the number as the admin writes it in [numbers].
func userNumber(i int) string { return fmt.Sprintf("+49 170 555%04d", i) }

// userTo is the same number as the gateway receives it (number_format "00").
func userTo(i int) string { return fmt.Sprintf("0049170555%04d", i) }

// passwdWithUsers returns passwd with the bench users and frozenUser appended
// (any line already naming one of them is dropped first).
func passwdWithUsers(passwd []byte) []byte {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(passwd))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), userPrefix) {
			continue
		}
		out.WriteString(sc.Text())
		out.WriteByte('\n')
	}
	for i := range userCount {
		fmt.Fprintf(&out, "%s:x:%d:%d:pam_sms bench user:/nonexistent:/usr/sbin/nologin\n",
			userName(i), firstUID+i, nogroupGID)
	}
	fmt.Fprintf(&out, "%s:x:%d:%d:pam_sms bench user (frozen helper):/nonexistent:/usr/sbin/nologin\n",
		frozenUser, frozenUID, nogroupGID)
	return out.Bytes()
}

// groupWithBench returns group with benchGroup appended (without members) and
// its gid: the first gid from firstBenchGID that no other line uses. A line
// already naming benchGroup is dropped first.
func groupWithBench(group []byte) ([]byte, int, error) {
	var out bytes.Buffer
	used := map[int]bool{}
	sc := bufio.NewScanner(bytes.NewReader(group))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if f[0] == benchGroup {
			continue
		}
		if len(f) >= 3 {
			if gid, err := strconv.Atoi(f[2]); err == nil {
				used[gid] = true
			}
		}
		out.WriteString(sc.Text())
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("bench: reading /etc/group: %w", err)
	}
	gid := firstBenchGID
	for used[gid] {
		gid++
	}
	fmt.Fprintf(&out, "%s:x:%d:\n", benchGroup, gid)
	return out.Bytes(), gid, nil
}

// mountUsers copies /etc to work/etc, adds the bench users to its passwd and
// benchGroup to its group, and bind-mounts it over /etc. It returns
// benchGroup's gid. Only valid inside the private mount namespace.
func mountUsers(work string) (int, error) {
	etc := filepath.Join(work, "etc")
	if err := copyTree("/etc", etc); err != nil {
		return 0, err
	}
	path := filepath.Join(etc, "passwd")
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(path, passwdWithUsers(data), 0o644); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	path = filepath.Join(etc, "group")
	if data, err = os.ReadFile(path); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	group, gid, err := groupWithBench(data)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(path, group, 0o644); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	if err := unix.Mount(etc, "/etc", "", unix.MS_BIND, ""); err != nil {
		return 0, fmt.Errorf("bench: bind-mount %s on /etc: %w", etc, err)
	}
	return gid, nil
}

// copyTree copies directories, regular files and symbolic links with their
// modes and owners. Entries that vanish while it runs (lock files of a
// concurrent useradd) are skipped; sockets and FIFOs too.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("bench: copying %s: %w", src, err)
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		err = copyEntry(path, filepath.Join(dst, rel))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
}

func copyEntry(from, to string) error {
	fi, err := os.Lstat(from)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("bench: %s: no owner information", from)
	}
	switch {
	case fi.IsDir():
		if err := os.Mkdir(to, 0o700); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(from)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, to); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		return os.Lchown(to, int(st.Uid), int(st.Gid))
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	default:
		return nil
	}
	if err := os.Chown(to, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return os.Chmod(to, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}

// configOptions describe one pam_sms.conf for the bench.
type configOptions struct {
	url, caFile string
	stateDir    string
	// bigNumbers and bigNetworks add that many extra [numbers] entries and
	// trusted networks, for the config-size row.
	bigNumbers, bigNetworks int
	// limits: per_user, per_number, per_host, daily.
	perUser, perNumber, perHost, daily int
	// frozen adds frozenUser's number (every burst, for row 5d).
	frozen bool
}

// renderConfig returns the TOML text of a bench config. Every bench user has
// a number; 192.0.2.0/24 is trusted.
func renderConfig(o configOptions) string {
	var b strings.Builder
	nets := []string{`"192.0.2.0/24"`}
	for _, n := range extraNetworks(o.bigNetworks) {
		nets = append(nets, strconv.Quote(n))
	}
	fmt.Fprintf(&b, "[policy]\ngroups = [\"*\"]\ntrusted_networks = [%s]\ntrust_local = false\n"+
		"fail_mode = \"secure\"\nmissing_number = \"deny\"\n\n", strings.Join(nets, ", "))
	b.WriteString("[code]\ndigits = 6\nvalidity = \"5m\"\nattempts = 3\nresends = 1\nlanguage = \"en\"\n" +
		"message = \"BENCH {code} {user}\"\n\n")
	fmt.Fprintf(&b, "[gateway]\nurl = %q\nmethod = \"POST\"\nid = %q\npassword = %q\ntimeout = \"10s\"\n",
		o.url, gatewayID, gatewayPW)
	if o.caFile != "" {
		fmt.Fprintf(&b, "ca_file = %q\n", o.caFile)
	}
	fmt.Fprintf(&b, "\n[limits]\nwindow = \"15m\"\nper_user = %d\nper_number = %d\nper_host = %d\ndaily = %d\nstate_dir = %q\n\n",
		o.perUser, o.perNumber, o.perHost, o.daily, o.stateDir)
	b.WriteString("[numbers]\n")
	for i := range userCount {
		fmt.Fprintf(&b, "%s = %q\n", userName(i), userNumber(i))
	}
	if o.frozen {
		fmt.Fprintf(&b, "%s = %q\n", frozenUser, frozenNumber)
	}
	for i := range o.bigNumbers {
		fmt.Fprintf(&b, "user%05d = \"+49 151 %08d\"\n", i, i)
	}
	return b.String()
}

// extraNetworks returns n distinct networks that do not merge into each other
// (so the matcher keeps n ranges): three quarters IPv4 /24s, the rest IPv6 /48s.
func extraNetworks(n int) []string {
	out := make([]string, 0, n)
	v4 := n * 3 / 4
	for i := range v4 {
		out = append(out, fmt.Sprintf("10.%d.%d.0/24", i/128, 2*(i%128)))
	}
	for i := range n - v4 {
		out = append(out, fmt.Sprintf("2001:db8:%x::/48", 2*i))
	}
	return out
}

// writeRootFile writes a file the helper accepts as its config: root-owned,
// mode 0640.
func writeRootFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.Chown(path, 0, 0); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// stackLine is one "auth required ..." line.
func stackLine(module string) string { return "auth required " + module + "\n" }

// writeService writes confdir/name with the given auth lines; every stack ends
// in pam_permit, so a module returning PAM_IGNORE (the exempt path) still
// yields PAM_SUCCESS and the stacks differ only in the module under test.
func writeService(confdir, name string, modules ...string) error {
	var b strings.Builder
	for _, m := range modules {
		b.WriteString(stackLine(m))
	}
	b.WriteString(stackLine("pam_permit.so"))
	if err := os.WriteFile(filepath.Join(confdir, name), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// newConfdir makes a PAM confdir whose "other" service denies everything, so
// a mistyped service name fails closed.
func newConfdir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	other := "auth required pam_deny.so\naccount required pam_deny.so\n"
	if err := os.WriteFile(filepath.Join(dir, "other"), []byte(other), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// buildGoModule builds testdata/gomodule with -buildmode=c-shared into dir
// and returns the path of the .so. It is built in a copy outside the main
// module, so it is never part of the product's build.
func buildGoModule(repo, dir, goTool string) (string, error) {
	src, err := os.ReadFile(filepath.Join(repo, "test/bench/testdata/gomodule/main.go"))
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	files := map[string]string{"go.mod": "module pamgo\n\ngo 1.26\n", "main.go": string(src)}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("bench: %w", err)
		}
	}
	so := filepath.Join(dir, "pam_go.so")
	cmd := exec.Command(goTool, "build", "-trimpath", "-buildmode=c-shared", "-o", so, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bench: building the Go c-shared module: %w\n%s", err, out)
	}
	return so, nil
}
