// Package alsa is the node's one use of libasound: opening a PCM (the
// player's output, the heard meter's capture), reading, writing, and the
// queue delay. Everything that needs cgo for ALSA is here.
package alsa

/*
#cgo pkg-config: alsa
#include <alsa/asoundlib.h>

// alsaQuiet drops libasound's own messages: while a PCM is probed it
// prints dozens of lines to stderr that would bury the node's log. The
// failure that matters reaches the log through the returned error.
static void alsaQuiet(const char *file, int line, const char *function, int err, const char *fmt, ...) {}
static void quietALSA(void) { snd_lib_error_set_handler(alsaQuiet); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"
)

// Direction of a PCM.
type Direction int

const (
	Playback Direction = iota
	Capture
)

func (d Direction) String() string {
	if d == Capture {
		return "capture"
	}
	return "playback"
}

// PCM is an open ALSA PCM: 16-bit signed little-endian, interleaved,
// blocking.
type PCM struct {
	h        *C.snd_pcm_t
	channels int
}

var quietOnce sync.Once

// Open opens the first of names that takes S16_LE interleaved at rate
// with channels and a buffer of about buffer (ALSA's resampling allowed),
// and returns it with its period in frames. The error names each device
// tried and why it was refused.
func Open(names []string, dir Direction, channels, rate int, buffer time.Duration) (*PCM, int, error) {
	quietOnce.Do(func() { C.quietALSA() })
	stream := C.snd_pcm_stream_t(C.SND_PCM_STREAM_PLAYBACK)
	if dir == Capture {
		stream = C.SND_PCM_STREAM_CAPTURE
	}
	var errs []error
	for _, name := range names {
		cname := C.CString(name)
		var h *C.snd_pcm_t
		rc := C.snd_pcm_open(&h, cname, stream, 0)
		C.free(unsafe.Pointer(cname))
		if rc < 0 {
			errs = append(errs, fmt.Errorf("%q: %s", name, C.GoString(C.snd_strerror(rc))))
			continue
		}
		if rc := C.snd_pcm_set_params(h, C.SND_PCM_FORMAT_S16_LE, C.SND_PCM_ACCESS_RW_INTERLEAVED, C.uint(channels), C.uint(rate), 1,
			C.uint(buffer.Microseconds())); rc < 0 {
			C.snd_pcm_close(h)
			errs = append(errs, fmt.Errorf("%q: set %d Hz, %d channel(s), S16: %s", name, rate, channels, C.GoString(C.snd_strerror(rc))))
			continue
		}
		var bufSize, period C.snd_pcm_uframes_t
		if rc := C.snd_pcm_get_params(h, &bufSize, &period); rc < 0 || period == 0 {
			C.snd_pcm_close(h)
			errs = append(errs, fmt.Errorf("%q: get params: %s", name, C.GoString(C.snd_strerror(rc))))
			continue
		}
		return &PCM{h: h, channels: channels}, int(period), nil
	}
	return nil, 0, fmt.Errorf("no %s device: %w", dir, errors.Join(errs...))
}

// Start starts a capture without waiting for the first read.
func (p *PCM) Start() error {
	if rc := C.snd_pcm_start(p.h); rc < 0 {
		return fmt.Errorf("start: %s", C.GoString(C.snd_strerror(rc)))
	}
	return nil
}

// Delay is how many frames are queued before the next one written, and
// whether the device is running (a stopped device's delay says nothing
// about when a frame will be heard). ok is false after an underrun: the
// next write recovers.
func (p *PCM) Delay() (frames int, running, ok bool) {
	var d C.snd_pcm_sframes_t
	if rc := C.snd_pcm_delay(p.h, &d); rc < 0 {
		return 0, false, false
	}
	return int(d), C.snd_pcm_state(p.h) == C.SND_PCM_STATE_RUNNING, true
}

// Write writes interleaved frames, all of them, recovering from underruns.
func (p *PCM) Write(frames []int16) error {
	for len(frames) > 0 {
		n := C.snd_pcm_writei(p.h, unsafe.Pointer(&frames[0]), C.snd_pcm_uframes_t(len(frames)/p.channels))
		if n < 0 {
			n = C.snd_pcm_sframes_t(C.snd_pcm_recover(p.h, C.int(n), 1))
		}
		if n < 0 {
			return fmt.Errorf("ALSA write: %s", C.GoString(C.snd_strerror(C.int(n))))
		}
		frames = frames[p.channels*int(n):]
	}
	return nil
}

// ErrOverrun: a read lost frames (the reader was late); the PCM has
// recovered and the next read goes on.
var ErrOverrun = errors.New("ALSA capture overrun")

// Read fills buf with interleaved frames and returns how many frames it
// read; after an overrun it recovers and returns ErrOverrun.
func (p *PCM) Read(buf []int16) (int, error) {
	r := C.snd_pcm_readi(p.h, unsafe.Pointer(&buf[0]), C.snd_pcm_uframes_t(len(buf)/p.channels))
	if r < 0 {
		if rc := C.snd_pcm_recover(p.h, C.int(r), 1); rc < 0 {
			return 0, fmt.Errorf("ALSA read: %s", C.GoString(C.snd_strerror(rc)))
		}
		return 0, ErrOverrun
	}
	return int(r), nil
}

// Close closes the PCM.
func (p *PCM) Close() { C.snd_pcm_close(p.h) }
