package controller

import "github.com/communeradio/radio/controller/internal/schedule"

// CheckSchedules parses schedule files (or folders of *.radio files) and
// checks them for conflicts, returning every mistake as "file:line: ...".
// It needs no running controller: `radio-controller -check`.
func CheckSchedules(paths ...string) error { return schedule.Check(paths...) }
