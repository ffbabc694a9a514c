package numsource_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/numsource"
	"github.com/pam-sms/pam_sms/policy"
)

// benchConfig is a config with 10 numbers of its own and one numbers file.
const benchConfig = `[policy]
groups = ["*"]
exempt_users = ["breakglass"]
trusted_networks = ["10.0.0.0/8", "2001:db8::/32"]
missing_number = "ignore"
numbers_files = [%q]

[code]
digits = 6
validity = "5m"

[gateway]
url = "https://gateway.test/send"
id = "bench"
password = "secret"

[limits]
window = "15m"

[numbers]
%s`

// writeSetup writes the config and a numbers file of lines users; the last
// is "last". Files are 0640 and owned by the running user, root in the tests.
func writeSetup(b *testing.B, lines int) string {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("numbers files must be owned by root: run as root")
	}
	dir := b.TempDir()
	var nf strings.Builder
	nf.WriteString("# fleet numbers\n")
	for i := range lines - 1 {
		fmt.Fprintf(&nf, "user%05d = \"+49 170 %07d\"\n", i, i)
	}
	nf.WriteString("last = \"+49 170 9999999\"\n")
	var cn strings.Builder
	for i := range 10 {
		fmt.Fprintf(&cn, "conf%02d = \"+49 171 %07d\"\n", i, i)
	}
	numbers := filepath.Join(dir, "numbers")
	config := filepath.Join(dir, "pam_sms.conf")
	for path, content := range map[string]string{numbers: nf.String(), config: fmt.Sprintf(benchConfig, numbers, cn.String())} {
		if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
			b.Fatal(err)
		}
	}
	return config
}

// BenchmarkLogin is what the helper does at a login before any SMS: read
// the config (conf.Load) and decide (policy.DecideLookup with the number
// sources), with a numbers file of 10 and of 10,000 lines. Each iteration
// runs both, so that they see the same machine; the medians and their ratio
// are reported. Issue 10 bounds the ratio for an exempt login at 1.1 (the
// file is never opened, so it is 1) and for an enforced one at 1.2 for a
// whole login (test/integration BenchmarkNumbersFileLogin); here, without
// the exec, NSS, limits and the gateway, the scan of 300 KB shows:
//
//	exempt:   a break-glass user;
//	enforced: the user on the file's last line (the longest scan);
//	absent:   an enforced user in no source (the whole file is looked at).
func BenchmarkLogin(b *testing.B) {
	for _, c := range []struct {
		name string
		user string
		want policy.Outcome
	}{
		{"exempt", "breakglass", policy.Exempt},
		{"enforced", "last", policy.Challenge},
		{"absent", "nobody", policy.IgnoreNoNumber},
	} {
		b.Run(c.name, func(b *testing.B) {
			paths := map[int]string{10: writeSetup(b, 10), 10000: writeSetup(b, 10000)}
			acct := policy.Account{Name: c.user, UID: "1000", Groups: []string{"staff"}}
			req := policy.Request{User: c.user, Rhost: "192.0.2.7", Service: "sshd"}
			times := map[int][]time.Duration{}
			for b.Loop() {
				for _, lines := range []int{10, 10000} {
					start := time.Now()
					cfg, err := conf.Load(paths[lines])
					if err != nil {
						b.Fatal(err)
					}
					d, err := policy.DecideLookup(context.Background(), cfg, req, acct, numsource.Chain(cfg))
					times[lines] = append(times[lines], time.Since(start))
					if err != nil || d.Outcome != c.want {
						b.Fatalf("DecideLookup = %v, %v; want %v", d.Outcome, err, c.want)
					}
				}
			}
			m10, m10000 := median(times[10]), median(times[10000])
			b.ReportMetric(float64(m10.Nanoseconds())/1000, "µs/login-10")
			b.ReportMetric(float64(m10000.Nanoseconds())/1000, "µs/login-10000")
			b.ReportMetric(float64(m10000)/float64(m10), "ratio")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkFileLookup is the scan alone, for the user on the last line.
func BenchmarkFileLookup(b *testing.B) {
	for _, lines := range []int{10, 10000} {
		b.Run(fmt.Sprintf("lines=%d", lines), func(b *testing.B) {
			cfgPath := writeSetup(b, lines)
			f := numsource.File{Path: filepath.Join(filepath.Dir(cfgPath), "numbers")}
			for b.Loop() {
				if _, ok, err := f.Lookup(context.Background(), "last"); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
