package usage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var day = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func scanAll(t *testing.T, dir string, since, until time.Time) ([]Record, Summary) {
	t.Helper()
	var got []Record
	sum, err := Scan(dir, since, until, func(r Record) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	return got, sum
}

func TestAppendScan(t *testing.T) {
	dir := t.TempDir()
	recs := []Record{
		{Time: day, Outcome: Sent, Gateway: "primary", Country: "49", Duration: 120 * time.Millisecond, User: "alice"},
		{Time: day.Add(time.Minute), Outcome: Failed, Gateway: "backup", Country: "1", Duration: 5 * time.Second, User: "bob smith"},
		{Time: day.Add(2 * time.Minute), Outcome: RefusedLimit, User: "DOMAIN\\carol"},
		{Time: day.Add(24 * time.Hour), Outcome: Sent, Gateway: "primary", Country: "353", User: "alice"},
	}
	for _, r := range recs {
		if err := Append(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	got, sum := scanAll(t, dir, time.Time{}, time.Time{})
	if len(got) != len(recs) || sum.Files != 2 || sum.Corrupt != 0 || sum.Dropped != 0 {
		t.Fatalf("got %d records, summary %+v; want %d in 2 files", len(got), sum, len(recs))
	}
	for i := range recs {
		if got[i] != recs[i] {
			t.Errorf("record %d: got %+v, want %+v", i, got[i], recs[i])
		}
	}
	// since and until select by time, whole days and within a day.
	got, _ = scanAll(t, dir, day.Add(time.Minute), day.Add(24*time.Hour))
	if len(got) != 2 || got[0] != recs[1] || got[1] != recs[2] {
		t.Errorf("range: got %+v, want records 1 and 2", got)
	}
	data, err := os.ReadFile(filepath.Join(dir, "usage-20261202"))
	if err != nil {
		t.Fatal(err)
	}
	want := "1 1796205600 sent primary 49 120 alice\n" +
		"1 1796205660 failed backup 1 5000 bob+smith\n" +
		"1 1796205720 refused_limit - - 0 DOMAIN%5Ccarol\n"
	if string(data) != want {
		t.Errorf("file content:\n%s\nwant:\n%s", data, want)
	}
}

func TestAppendRefuses(t *testing.T) {
	tests := []struct {
		name string
		r    Record
	}{
		{"unknown outcome", Record{Time: day, Outcome: "maybe", User: "a"}},
		{"no user", Record{Time: day, Outcome: Sent}},
		{"full number as country", Record{Time: day, Outcome: Sent, Country: "4917012345678", User: "a"}},
		{"gateway with a space", Record{Time: day, Outcome: Sent, Gateway: "a b", User: "a"}},
		{"gateway with a newline", Record{Time: day, Outcome: Sent, Gateway: "a\n1", User: "a"}},
		{"before 1970", Record{Time: time.Unix(-5, 0), Outcome: Sent, User: "a"}},
		{"huge user", Record{Time: day, Outcome: Sent, User: strings.Repeat("x", 600)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Append(dir, tt.r); err == nil {
				t.Fatal("Append succeeded")
			}
			if _, err := os.Stat(filepath.Join(dir, DayFile(day))); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a day file was made: %v", err)
			}
		})
	}
}

func TestCorruptLines(t *testing.T) {
	good := "1 1796205600 sent primary 49 120 alice\n"
	tests := []struct {
		name             string
		content          string
		records, corrupt int
		dropped          int
	}{
		{"empty", "", 0, 0, 0},
		{"good", good + good, 2, 0, 0},
		{"cut short at the end", good + "1 1796205600 se", 1, 1, 0},
		{"cut short then appended", "1 1796205600 se" + good + good, 1, 1, 0},
		{"wrong version", "2" + good[1:] + good, 1, 1, 0},
		{"unknown outcome", "1 1796205600 lost primary 49 120 alice\n" + good, 1, 1, 0},
		{"number instead of country", "1 1796205600 sent primary 4917012345 120 alice\n", 0, 1, 0},
		{"negative ms", "1 1796205600 sent primary 49 -1 alice\n", 0, 1, 0},
		{"bad escape", "1 1796205600 sent primary 49 1 al%zzice\n", 0, 1, 0},
		{"binary", "\x00\x01\xff\n" + good, 1, 1, 0},
		{"drops", good + "-\n-\n", 1, 0, 2},
		{"drop cut short", good + "-", 1, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "usage-20261202"), []byte(tt.content), 0o660); err != nil {
				t.Fatal(err)
			}
			got, sum := scanAll(t, dir, time.Time{}, time.Time{})
			if len(got) != tt.records || sum.Corrupt != tt.corrupt || sum.Dropped != tt.dropped {
				t.Errorf("got %d records, %d corrupt, %d dropped; want %d, %d, %d",
					len(got), sum.Corrupt, sum.Dropped, tt.records, tt.corrupt, tt.dropped)
			}
		})
	}
}

// A full day file takes no more records: each attempt is a drop marker, until
// the room for those is gone too; the file never grows past its bound.
func TestBounds(t *testing.T) {
	dir := t.TempDir()
	r := Record{Time: day, Outcome: Sent, Gateway: "primary", Country: "49", User: "alice"}
	line, err := format(r)
	if err != nil {
		t.Fatal(err)
	}
	n := MaxFileSize / len(line)
	path := filepath.Join(dir, DayFile(day))
	if err := os.WriteFile(path, bytes.Repeat(line, n), 0o660); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := Append(dir, r); !errors.Is(err, ErrFull) {
			t.Fatalf("Append to a full file: %v, want ErrFull", err)
		}
	}
	got, sum := scanAll(t, dir, time.Time{}, time.Time{})
	if len(got) != n || sum.Dropped != 3 || sum.Corrupt != 0 {
		t.Errorf("got %d records, summary %+v; want %d records, 3 dropped", len(got), sum, n)
	}
	// Fill the drop room: the file stops at its hard bound.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	f.Write(bytes.Repeat([]byte(drop), int(MaxFileSize+MaxDropBytes-fi.Size())/len(drop)))
	f.Close()
	for range 3 {
		if err := Append(dir, r); !errors.Is(err, ErrFull) {
			t.Fatalf("Append past the bound: %v, want ErrFull", err)
		}
	}
	if fi, _ := os.Stat(path); fi.Size() > MaxFileSize+MaxDropBytes {
		t.Errorf("file grew to %d bytes, bound %d", fi.Size(), MaxFileSize+MaxDropBytes)
	}
}

// The day file is 0660 whatever the umask, so root and the setgid helper run by
// users share it; a symbolic link or a FIFO in its place is refused, not
// followed or waited on.
func TestFileRules(t *testing.T) {
	r := Record{Time: day, Outcome: Sent, User: "alice"}
	dir := t.TempDir()
	old := syscall.Umask(0o077)
	err := Append(dir, r)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dir, DayFile(day)))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("mode %v, want 0660", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d entries, want the day file alone (no temporary file left)", len(ents))
	}

	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, nil, 0o600)
	link := t.TempDir()
	os.Symlink(target, filepath.Join(link, DayFile(day)))
	if err := Append(link, r); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Append through a symbolic link: %v", err)
	}
	if data, _ := os.ReadFile(target); len(data) != 0 {
		t.Errorf("the link's target was written: %q", data)
	}

	fifo := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifo, DayFile(day)), 0o660); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Append(fifo, r) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Append to a FIFO succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Append blocked on a FIFO")
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	now := day
	keep := []string{DayFile(now), DayFile(now.Add(-Retention)), "usage-notadate", "day-20200101"}
	gone := []string{DayFile(now.Add(-Retention - 48*time.Hour)), "usage-20200101"}
	for _, n := range append(keep, gone...) {
		os.WriteFile(filepath.Join(dir, n), nil, 0o660)
	}
	n, err := Prune(dir, now)
	if err != nil || n != len(gone) {
		t.Fatalf("Prune: %d, %v; want %d removed", n, err, len(gone))
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed", n)
		}
	}
	for _, n := range gone {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s kept", n)
		}
	}
}

// Writers in several processes and goroutines at once: every record arrives
// whole, none is lost or interleaved.
func TestConcurrentProcesses(t *testing.T) {
	if os.Getenv("USAGE_TEST_WRITER") != "" {
		return
	}
	const procs, perProc = 4, 200
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestWriterProcess$")
			cmd.Env = append(os.Environ(), "USAGE_TEST_WRITER="+dir, "USAGE_TEST_N="+strconv.Itoa(perProc),
				"USAGE_TEST_USER=user"+strconv.Itoa(p))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("writer %d: %v\n%s", p, err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, sum := scanAll(t, dir, time.Time{}, time.Time{})
	if len(got) != procs*perProc || sum.Corrupt != 0 {
		t.Fatalf("%d records, summary %+v; want %d, none corrupt", len(got), sum, procs*perProc)
	}
	per := map[string]int{}
	for _, r := range got {
		per[r.User]++
	}
	for p := range procs {
		if n := per["user"+strconv.Itoa(p)]; n != perProc {
			t.Errorf("user%d: %d records, want %d", p, n, perProc)
		}
	}
}

// TestWriterProcess is the writer of TestConcurrentProcesses (a child process).
func TestWriterProcess(t *testing.T) {
	dir := os.Getenv("USAGE_TEST_WRITER")
	if dir == "" {
		t.Skip("run by TestConcurrentProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("USAGE_TEST_N"))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 4 {
				r := Record{Time: day.Add(time.Duration(i) * time.Second), Outcome: Sent, Gateway: "primary",
					Country: "49", Duration: time.Duration(i) * time.Millisecond, User: os.Getenv("USAGE_TEST_USER")}
				if err := Append(dir, r); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
