package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// result is one line of the table. Figures are preformatted strings.
type result struct {
	row, what        string
	med, min, max, n string
	target, verdict  string // empty when the line has no target
}

func (b *bench) add(r result) {
	b.results = append(b.results, r)
	fmt.Fprintf(os.Stderr, "bench: %-4s %-70s %s\n", r.row, r.what, r.med)
}

func msResult(row, what string, s summary) result {
	return result{row: row, what: what, med: fmtMs(s.med), min: fmtMs(s.min), max: fmtMs(s.max), n: fmt.Sprint(s.n)}
}

func kibResult(row, what string, s summary) result {
	return result{row: row, what: what, med: fmtKiB(s.med), min: fmtKiB(s.min), max: fmtKiB(s.max), n: fmt.Sprint(s.n)}
}

func nsResult(row, what string, s summary) result {
	f := func(v float64) string { return fmt.Sprintf("%.0f ns", v) }
	return result{row: row, what: what, med: f(s.med), min: f(s.min), max: f(s.max), n: fmt.Sprint(s.n)}
}

// verdict is "met", or "MISSED: " and why.
func verdict(ok bool, miss string) string {
	if ok {
		return "met"
	}
	return "MISSED: " + miss
}

func fmtKiB(v float64) string {
	if v >= 10*1024 || v <= -10*1024 {
		return fmt.Sprintf("%.1f MiB", v/1024)
	}
	return fmt.Sprintf("%.0f KiB", v)
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// table renders the results for the terminal.
func (b *bench) table() string {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "row\tmeasurement\tmedian\tmin\tmax\tn\ttarget\tverdict")
	for _, r := range b.results {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.row, r.what, r.med, dash(r.min), dash(r.max), dash(r.n), dash(r.target), dash(r.verdict))
	}
	w.Flush()
	return buf.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// markdownTable renders results as a Markdown table.
func markdownTable(results []result) string {
	var s strings.Builder
	s.WriteString("| row | measurement | median | min | max | n | target | verdict |\n")
	s.WriteString("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |\n")
	for _, r := range results {
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.row, r.what, r.med,
			dash(r.min), dash(r.max), dash(r.n), dash(r.target), dash(r.verdict))
	}
	return s.String()
}

// targets lists the lines that have a target, for the summary.
func targets(results []result) string {
	var s strings.Builder
	for _, r := range results {
		if r.target != "" {
			fmt.Fprintf(&s, "- row %s, %s: %s (target %s): **%s**\n", r.row, r.what, r.med, r.target, r.verdict)
		}
	}
	return s.String()
}

// machine describes where the figures were taken.
type machine struct {
	date, nproc, cpu, mem, kernel, arch, goVersion, gcc, libpam, curl, fs string
	syslog                                                                bool
	loadStart, busyBefore                                                 string
	elapsed                                                               time.Duration
}

func describeMachine(work string) machine {
	var set unix.CPUSet
	nproc := runtime.NumCPU()
	if unix.SchedGetaffinity(0, &set) == nil {
		nproc = set.Count()
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	_, err := os.Stat("/dev/log")
	return machine{
		date:       time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		nproc:      fmt.Sprint(nproc),
		cpu:        fieldOf("/proc/cpuinfo", "model name"),
		mem:        memTotal(),
		kernel:     unix.ByteSliceToString(uts.Sysname[:]) + " " + unix.ByteSliceToString(uts.Release[:]),
		arch:       unix.ByteSliceToString(uts.Machine[:]),
		goVersion:  runtime.Version(),
		gcc:        firstLine("gcc", "--version"),
		libpam:     firstLine("dpkg-query", "-W", "-f", "${Version}", "libpam0g"),
		curl:       firstLine("curl", "--version"),
		fs:         fsType(work),
		syslog:     err == nil,
		loadStart:  loadAverage(),
		busyBefore: cpuBusy(2 * time.Second),
	}
}

// cpuBusy samples /proc/stat over d and returns the share of CPU time that
// was not idle: work other than the bench's when taken before it starts.
func cpuBusy(d time.Duration) string {
	idle0, total0, err0 := cpuTimes()
	time.Sleep(d)
	idle1, total1, err1 := cpuTimes()
	if err0 != nil || err1 != nil || total1 <= total0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f%%", 100*(1-float64(idle1-idle0)/float64(total1-total0)))
}

// cpuTimes returns idle (idle + iowait) and total jiffies of all CPUs.
func cpuTimes() (idle, total uint64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("bench: /proc/stat: unexpected first line %q", line)
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: /proc/stat: %w", err)
		}
		total += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return idle, total, nil
}

// fieldOf returns the value of the first "key: value" line of a /proc file.
func fieldOf(path, key string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// memTotal returns MemTotal from /proc/meminfo in GiB.
func memTotal() string {
	var kib float64
	if _, err := fmt.Sscanf(fieldOf("/proc/meminfo", "MemTotal"), "%f kB", &kib); err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", kib/(1<<20))
}

func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func fsType(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	names := map[int64]string{0xEF53: "ext4", 0x01021994: "tmpfs", 0x58465342: "xfs",
		0x9123683E: "btrfs", 0x794c7630: "overlayfs"}
	n, ok := names[int64(st.Type)]
	if !ok {
		return fmt.Sprintf("0x%x", st.Type)
	}
	if n == "ext4" {
		n += ext4Journal(dir)
	}
	return n
}

// ext4Journal returns ", no journal" when the ext4 file system holding dir
// runs without one (its device has no jbd2 entry), "" otherwise. Without a
// journal, ext4 looks past the inodes deleted in the last minutes at every
// file creation, which makes a burst's state files cost more CPU.
func ext4Journal(dir string) string {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return ""
	}
	dev, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		return ""
	}
	journals, err := filepath.Glob("/proc/fs/jbd2/" + filepath.Base(dev) + "-*")
	if err != nil || len(journals) > 0 {
		return ""
	}
	return ", no journal"
}
