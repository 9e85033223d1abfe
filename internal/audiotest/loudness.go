package audiotest

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// IntegratedLUFS measures a file's integrated loudness (EBU R128) with
// ffmpeg's ebur128 filter: a different filter from the loudnorm that the
// controller corrects uploads with, so a test does not grade it by itself.
func IntegratedLUFS(path string) (float64, error) {
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-i", path, "-af", "ebur128", "-f", "null", "-").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ffmpeg ebur128 %s: %w %s", path, err, out)
	}
	s := string(out)
	i := strings.LastIndex(s, "Integrated loudness:")
	if i < 0 {
		return 0, fmt.Errorf("ffmpeg ebur128 %s: no integrated loudness in its output", path)
	}
	f := strings.Fields(s[i:]) // "Integrated loudness: I: -16.0 LUFS"
	if len(f) < 4 {
		return 0, fmt.Errorf("ffmpeg ebur128 %s: %q", path, s[i:])
	}
	return strconv.ParseFloat(f[3], 64)
}
