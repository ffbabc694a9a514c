package limits

import (
	"strings"
	"time"
)

const dayPrefix = "day-"

func dayFile(now time.Time) string {
	return dayPrefix + now.UTC().Format("20060102")
}

// isDayFile reports whether name is a day file (of any day).
func isDayFile(name string) bool {
	d, ok := strings.CutPrefix(name, dayPrefix)
	return ok && isDate(d)
}

// isLegacyDaily reports whether name is a daily file of the previous layout,
// a text file rewritten under one directory-wide lock.
func isLegacyDaily(name string) bool {
	d, ok := strings.CutPrefix(name, "daily-")
	return ok && isDate(d)
}

func isDate(s string) bool {
	return len(s) == 8 && strings.Trim(s, "0123456789") == ""
}
