package player

/*
#cgo pkg-config: alsa
#include <alsa/asoundlib.h>

// alsaQuiet drops libasound's own messages: while the output probes for a device
// it prints dozens of lines to stderr that would bury the node's log. The
// failure that matters reaches the log through the output's error.
static void alsaQuiet(const char *file, int line, const char *function, int err, const char *fmt, ...) {}
static void quietALSA(void) { snd_lib_error_set_handler(alsaQuiet); }
*/
import "C"

import "sync"

var quietOnce sync.Once

// quietALSA silences libasound's stderr chatter, once per process.
func quietALSA() { quietOnce.Do(func() { C.quietALSA() }) }
