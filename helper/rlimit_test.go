package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// rlimitChildEnv carries the limits the child of TestRaiseLimits sets on
// itself: "resource:soft:hard,...". Hard limits cannot be raised again, so
// each case runs in its own process.
const rlimitChildEnv = "PAM_SMS_TEST_RLIMITS"

func TestRaiseLimits(t *testing.T) {
	if spec := os.Getenv(rlimitChildEnv); spec != "" {
		rlimitChild(spec)
	}
	const fsize, nofile = syscall.RLIMIT_FSIZE, syscall.RLIMIT_NOFILE
	tests := []struct {
		name string
		spec string
		want string // child's output: "ok FSIZE-soft NOFILE-soft" or the refusal
	}{
		{"soft limits lowered are raised to the hard ones", fmt.Sprintf("%d:0:%d,%d:16:%d", fsize, 4<<20, nofile, 256),
			fmt.Sprintf("ok %d %d", 4<<20, 256)},
		{"file size hard limit 0", fmt.Sprintf("%d:0:0", fsize), "RLIMIT_FSIZE hard limit 0 is below the 1048576"},
		{"file size hard limit just below", fmt.Sprintf("%d:%d:%d", fsize, 1<<20-1, 1<<20-1), "RLIMIT_FSIZE hard limit 1048575"},
		{"file size exactly enough", fmt.Sprintf("%d:%d:%d", fsize, 1<<20, 1<<20), "ok 1048576"},
		{"8 descriptors", fmt.Sprintf("%d:8:8", nofile), "RLIMIT_NOFILE hard limit 8 is below the 64"},
		{"exactly 64 descriptors", fmt.Sprintf("%d:64:64", nofile), "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRaiseLimits$", "-test.count=1")
			cmd.Env = append(os.Environ(), rlimitChildEnv+"="+tt.spec)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); !strings.Contains(got, tt.want) {
				t.Fatalf("child printed %q, want %q in it", got, tt.want)
			}
		})
	}
}

// rlimitChild sets the limits of spec, runs raiseLimits and prints the
// outcome.
func rlimitChild(spec string) {
	for _, one := range strings.Split(spec, ",") {
		f := strings.Split(one, ":")
		res, _ := strconv.Atoi(f[0])
		cur, _ := strconv.ParseUint(f[1], 10, 64)
		max, _ := strconv.ParseUint(f[2], 10, 64)
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: cur, Max: max}); err != nil {
			fmt.Println("setrlimit:", err)
			syscall.Exit(0) // not os.Exit: -race would wait a second at exit
		}
	}
	if err := raiseLimits(); err != nil {
		fmt.Println("refused:", err)
		syscall.Exit(0) // not os.Exit: -race would wait a second at exit
	}
	var fs, nf syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_FSIZE, &fs)
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nf)
	fmt.Println("ok", fs.Cur, nf.Cur)
	syscall.Exit(0) // not os.Exit: -race would wait a second at exit
}
