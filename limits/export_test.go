package limits

// File names of the state files, for tests that plant or inspect them.
var (
	KeyFile   = keyFile
	HostFile  = hostFile
	DailyFile = dailyFile
)
