package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// cpuMeter reads the CPU time spent so far by this process (the API
// server and the bench's clients) and by the PostgreSQL processes serving
// the scratch database (its backends and the server's own writers), so a
// figure can say where each operation's time went. PostgreSQL's share is
// known only when the server runs on this machine (it reads /proc).
type cpuMeter struct{ dbname string }

// clockTicks is USER_HZ, the unit of /proc's CPU times on Linux.
const clockTicks = 100

// read returns this process's and PostgreSQL's CPU time, pgOK false when
// no PostgreSQL process of the database is visible.
func (m cpuMeter) read() (self, pg time.Duration, pgOK bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || string(bytes.TrimSpace(comm)) != "postgres" {
			continue
		}
		cmd, _ := os.ReadFile(d + "/cmdline")
		// A backend's title names its database; the writers name none.
		backend := bytes.Contains(cmd, []byte(" "+m.dbname+" "))
		if !backend && !auxiliary(cmd) {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis: state is the
		// 3rd field of stat, utime and stime the 14th and 15th.
		f := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(string(f[11]), 10, 64)
		s, _ := strconv.ParseInt(string(f[12]), 10, 64)
		pg += time.Duration(u+s) * time.Second / clockTicks
		pgOK = pgOK || backend
	}
	return self, pg, pgOK
}

// auxiliary reports whether a postgres process title is one of the
// server's own processes that every write costs (WAL, checkpoints).
func auxiliary(cmd []byte) bool {
	for _, p := range []string{"walwriter", "checkpointer", "background writer"} {
		if bytes.Contains(cmd, []byte(p)) {
			return true
		}
	}
	return false
}
