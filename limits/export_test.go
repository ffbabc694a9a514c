package limits

import "time"

// File names of the state files, for tests that plant or inspect them.
var (
	KeyFile  = keyFile
	HostFile = hostFile
	DayFile  = dayFile
)

// Record lengths.
const (
	DayRecordLen = dayRecordLen
	KeyRecordLen = keyRecordLen
)

// ShardFile names the key file holding the key file base (KeyFile, HostFile)
// that counts sends at now in windows of w; back 1 is the bucket before.
func ShardFile(base string, w time.Duration, now time.Time, back int64) string {
	kind, h := kindHash(base)
	ws := windowSeconds(w)
	return shardFile(kind, h[0], ws, now.Unix()/ws-back)
}

// Hash is the hash of the key file base, as in its records.
func Hash(base string) string {
	_, h := kindHash(base)
	return h
}

func kindHash(base string) (string, string) {
	for i := range base {
		if base[i] == '-' {
			return base[:i], base[i+1:]
		}
	}
	return "", ""
}

// SetPause makes Take call f at each of its stages ("loaded": counts read and
// files open; "prepared": new files written, unnamed; "appended": records
// appended, the day not yet).
func SetPause(f func(stage string)) { testPause = f }

// WithoutTmpfile makes new files go through named temporaries, as where
// O_TMPFILE or /proc is missing, until the returned func is called.
func WithoutTmpfile() (restore func()) {
	saved := haveProcFD
	haveProcFD = func() bool { return false }
	return func() { haveProcFD = saved }
}
