// Package schedule reads a commune's programme from a schedule file (*.radio),
// reports every mistake in it with file and line, and expands it into the
// occurrences that air, in Asia/Ho_Chi_Minh whatever the machine's time zone.
//
// The scheduler turns occurrences into node slots; `radio-controller -check`
// runs [Check]. The file syntax lives in this package only: [Schedule], [Item]
// and the rest are the domain the rest of the controller uses.
//
// # File format
//
// A schedule file is UTF-8 text, one statement per line. Lines whose first
// non-blank character is # are comments; there are no comments at the end of
// a line (a title or a URL may hold a #). A statement is a keyword and its
// arguments separated by blanks. A text argument may be put in double quotes;
// inside quotes \" is a quote and \\ a backslash.
//
// Top level (not indented):
//
//	station <id> [<name>]                       exactly once: the station the file belongs to
//	holiday <days> <name>                       no bulletin airs on these days (unless on-holiday play)
//	bulletin <id>                               starts a programme item; its lines follow, indented
//
// Inside a bulletin (indented with spaces or tabs):
//
//	title <text>                                required
//	source media <sha256>                       a file already in the media store
//	source file <path>                          a recording, path relative to the schedule file
//	source tts "<text>"                         text to speech   (rendered by the controller into media on load)
//	source relay <channel or stream url>        relay a channel (vov1) or stream; needs duration
//	source live                                 a live slot: an officer takes it on the live page; needs duration
//	target commune | zone <id>[,<id>] | nodes <id>[,<id>]     required; commune = every node of the station
//	priority normal | priority | emergency      Circular 39/2020; default normal
//	status draft | approved                     default draft; only approved items air (emergency excepted)
//	on-interrupt resume | skip                  after a higher priority cuts in; default resume
//	on-holiday skip | play                      default skip
//	once <date> <time>                          exactly one recurrence line is required:
//	daily <time>[,<time>...]
//	weekly <days> <time>[,<time>...]
//	every <n> weeks on <days> <time>[,<time>...]     counted in Monday-to-Sunday weeks from the week of "from"
//	cron "<sec> <min> <hour> <dom> <month> <dow>"    six fields, robfig/cron syntax, always Vietnam time
//	from <date>                                 first day it may air (inclusive)
//	until <date>                                last day it may air (inclusive)
//	except <days>[,<days>...]                   days it does not air; may be repeated
//	repeat <n> [gap <duration>]                 plays n more times within one occurrence (0-20)
//	duration <duration>                         length of one play when the media length is not known
//
// Values:
//
//	<id>        lowercase letters, digits, - _ . (not first); bulletin ids at most 48 characters
//	<date>      2027-04-30
//	<days>      a date, a range 2027-02-05..2027-02-10, or without the year (04-30, 12-31..01-01) every year
//	<time>      06:30 or 06:30:15 (00:00:00-23:59:59), Vietnam time; at most 100 on one line, and 1500 starts a day in a file
//	<days> (weekdays)  mon,tue,wed,thu,fri,sat,sun or t2..t7,cn, and ranges mon-fri
//	<duration>  30s, 2m, 1h30m
//
// Example:
//
//	station xa-an-phu Đài truyền thanh xã An Phú
//	holiday 04-30 Ngày Giải phóng miền Nam
//
//	bulletin ban-tin-sang
//	    title    Bản tin xã buổi sáng
//	    source   file audio/ban-tin-sang.opus
//	    target   commune
//	    status   approved
//	    daily    06:30
//	    repeat   1 gap 2m
//
// # Occurrences
//
// An occurrence is one start of an item at a local date and time. Holidays,
// except days and the from/until range are applied to the local date of the
// start. Its id, "<item id>-YYYYMMDD-hhmmss", is what nodes echo in proof of
// play. Two approved items of equal priority whose plays overlap on a shared
// target are a [Conflict]; a higher priority is not a conflict, it cuts in.
package schedule
