package limits

// File names of the state files, for tests that plant or inspect them.
var (
	KeyFile  = keyFile
	HostFile = hostFile
	DayFile  = dayFile
)

// DayRecordLen is the length of one day file record.
const DayRecordLen = dayRecordLen
