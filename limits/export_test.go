package limits

import "time"

// File names of the state files, for tests that plant or inspect them.
var (
	KeyFile  = keyFile
	HostFile = hostFile
	DayFile  = dayFile
)

// RecordLen is the length of one record.
const RecordLen = recordLen

// BucketFile names the file of the key file base (KeyFile, HostFile) that
// counts sends at now in windows of w; back 1 is the bucket before.
func BucketFile(base string, w time.Duration, now time.Time, back int64) string {
	ws := windowSeconds(w)
	return bucketFile(base, ws, now.Unix()/ws-back)
}

// SetPause makes Take call f at each of its stages ("loaded": counts read and
// files open; "prepared": new files written, unnamed; "appended": records
// appended, the day not yet).
func SetPause(f func(stage string)) { testPause = f }
