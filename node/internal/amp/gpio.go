package amp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"
)

// The GPIO line is driven through the Linux GPIO character device, uAPI v2
// (linux/gpio.h, kernels 5.10 and later): the line is requested as an
// output once, and its value set with one ioctl. The kernel then owns the
// line for this process alone (no other program, and no sysfs export, can
// flip the amplifier), and releases it if the process dies. The
// active-low flag makes the kernel invert the value, so "on" is always 1
// here whatever the relay board's polarity.
//
// github.com/warthog618/go-gpiocdev wraps the same calls; it could not be
// fetched here, and the three the relay needs are below.

// GPIOConfig names the relay's line.
type GPIOConfig struct {
	Chip      string `json:"chip"`                 // "gpiochip0" or "/dev/gpiochip0"
	Line      int    `json:"line"`                 // offset of the line on the chip
	ActiveLow bool   `json:"active_low,omitempty"` // the relay closes when the line is low
}

// Check validates the configuration.
func (c GPIOConfig) Check() error {
	if c.Chip == "" || strings.ContainsAny(c.Chip, "\x00") {
		return fmt.Errorf("amp: gpio chip %q: want gpiochipN or /dev/gpiochipN", c.Chip)
	}
	if c.Line < 0 || c.Line >= 1024 {
		return fmt.Errorf("amp: gpio line %d: want an offset on the chip", c.Line)
	}
	return nil
}

// From linux/gpio.h.
const (
	gpioLinesMax      = 64
	gpioMaxNameSize   = 32
	gpioLineNumAttrs  = 10
	lineFlagActiveLow = 1 << 1
	lineFlagOutput    = 1 << 3
	lineAttrOutValues = 2
)

type lineAttribute struct {
	ID     uint32
	_      uint32
	Values uint64 // the union's flags / values / debounce_period_us
}

type lineConfigAttribute struct {
	Attr lineAttribute
	Mask uint64
}

type lineConfig struct {
	Flags    uint64
	NumAttrs uint32
	_        [5]uint32
	Attrs    [gpioLineNumAttrs]lineConfigAttribute
}

type lineRequest struct {
	Offsets         [gpioLinesMax]uint32
	Consumer        [gpioMaxNameSize]byte
	Config          lineConfig
	NumLines        uint32
	EventBufferSize uint32
	_               [5]uint32
	FD              int32
}

type lineValues struct {
	Bits uint64
	Mask uint64
}

// iowr is the kernel's _IOWR('\xb4', nr, size).
func iowr(nr, size uintptr) uintptr { return 3<<30 | size<<16 | 0xB4<<8 | nr }

var (
	ioctlGetLine   = iowr(0x07, unsafe.Sizeof(lineRequest{}))
	ioctlSetValues = iowr(0x0F, unsafe.Sizeof(lineValues{}))
)

// gpioLine is a requested output line.
type gpioLine struct {
	fd   int
	name string
}

// OpenGPIO requests the line as an output, driven off (inactive) at once.
func OpenGPIO(c GPIOConfig) (Line, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	path := c.Chip
	if !strings.Contains(path, "/") {
		path = filepath.Join("/dev", path)
	}
	chip, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("amp: gpio: %w", err)
	}
	defer chip.Close() // the line's own fd outlives the chip's
	var req lineRequest
	req.Offsets[0] = uint32(c.Line)
	copy(req.Consumer[:gpioMaxNameSize-1], "radio-node amplifier")
	req.NumLines = 1
	req.Config.Flags = lineFlagOutput
	if c.ActiveLow {
		req.Config.Flags |= lineFlagActiveLow
	}
	req.Config.NumAttrs = 1
	req.Config.Attrs[0] = lineConfigAttribute{Attr: lineAttribute{ID: lineAttrOutValues, Values: 0}, Mask: 1}
	if err := ioctl(chip.Fd(), ioctlGetLine, unsafe.Pointer(&req)); err != nil {
		return nil, fmt.Errorf("amp: gpio %s line %d: request as output: %w", path, c.Line, err)
	}
	return &gpioLine{fd: int(req.FD), name: fmt.Sprintf("%s line %d", path, c.Line)}, nil
}

func (g *gpioLine) Set(on bool) error {
	v := lineValues{Mask: 1}
	if on {
		v.Bits = 1
	}
	if err := ioctl(uintptr(g.fd), ioctlSetValues, unsafe.Pointer(&v)); err != nil {
		return fmt.Errorf("amp: gpio %s: set %v: %w", g.name, on, err)
	}
	return nil
}

func (g *gpioLine) Close() error { return syscall.Close(g.fd) }

func ioctl(fd, req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
		switch {
		case errno == 0:
			return nil
		case errors.Is(errno, syscall.EINTR):
			continue
		default:
			return errno
		}
	}
}

// fileLine writes "1" or "0" to a file: a sysfs GPIO value file (the old
// interface, gone from recent kernels) or anything a box maker's script
// watches. It is the node's amp_path.
type fileLine struct{ path string }

// OpenFile is a line that writes "1"/"0" (and a newline) to path.
func OpenFile(path string) Line { return fileLine{path} }

func (f fileLine) Set(on bool) error {
	v := "0\n"
	if on {
		v = "1\n"
	}
	if err := os.WriteFile(f.path, []byte(v), 0o644); err != nil {
		return fmt.Errorf("amp: %w", err)
	}
	return nil
}

func (fileLine) Close() error { return nil }
