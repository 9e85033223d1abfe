package update

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/communeradio/radio/internal/atomicfile"
)

// Suffixes of the files beside the installed binary. They live in the
// binary's own folder, so each step is a rename within one file system.
const (
	StagedSuffix   = ".new"      // a verified release waiting for its trial run
	PartSuffix     = ".new.part" // a release being downloaded
	PreviousSuffix = ".previous" // the binary installed before the last update
)

// Commit makes staged the installed binary and keeps the one it replaces as
// binary.previous. Every step is a rename (or a hard link), so binary always
// names a complete program: a power cut leaves the old one or the new one.
func Commit(binary, staged string) error {
	prev := binary + PreviousSuffix
	tmp := prev + atomicfile.TempSuffix
	os.Remove(tmp)
	if err := os.Link(binary, tmp); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("update: keeping the previous binary: %w", err)
		}
		// Nothing installed yet (a first install by hand): nothing to keep.
	} else if err := os.Rename(tmp, prev); err != nil {
		return fmt.Errorf("update: keeping the previous binary: %w", err)
	}
	if err := os.Rename(staged, binary); err != nil {
		return fmt.Errorf("update: installing %s: %w", staged, err)
	}
	return atomicfile.SyncDir(filepath.Dir(binary))
}

// Rollback puts binary.previous back in place of binary (an operator's
// tool: a version that passed its trial and failed later). The version it
// replaces is kept as binary.failed.
func Rollback(binary string) error {
	prev := binary + PreviousSuffix
	if _, err := os.Stat(prev); err != nil {
		return fmt.Errorf("update: no previous binary to roll back to: %w", err)
	}
	failed := binary + ".failed"
	os.Remove(failed)
	if err := os.Link(binary, failed); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("update: keeping the failed binary: %w", err)
	}
	if err := os.Rename(prev, binary); err != nil {
		return fmt.Errorf("update: rolling back: %w", err)
	}
	return atomicfile.SyncDir(filepath.Dir(binary))
}

// fileSHA256 returns the hex sha256 and size of a file.
func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// CompareVersions orders two version strings as people read them: runs of
// digits compare as numbers, other runs as text ("1.10.0" > "1.9.2",
// "1.2.0" > "1.2.0-rc1" is not assumed: a longer string with the same
// prefix sorts after). It returns -1, 0 or +1.
func CompareVersions(a, b string) int {
	pa, pb := splitVersion(a), splitVersion(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, y := pa[i], pb[i]
		nx, ex := strconv.ParseUint(x, 10, 64)
		ny, ey := strconv.ParseUint(y, 10, 64)
		switch {
		case ex == nil && ey == nil:
			if nx != ny {
				return cmp.Compare(nx, ny)
			}
		case x != y:
			return strings.Compare(x, y)
		}
	}
	return cmp.Compare(len(pa), len(pb))
}

// splitVersion cuts "1.10.0-rc2" into "1" "10" "0" "rc" "2".
func splitVersion(v string) []string {
	var out []string
	cur := []rune{}
	digit := false
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range v {
		switch {
		case unicode.IsDigit(r):
			if !digit {
				flush()
			}
			digit = true
			cur = append(cur, r)
		case unicode.IsLetter(r):
			if digit {
				flush()
			}
			digit = false
			cur = append(cur, r)
		default:
			flush()
			digit = false
		}
	}
	flush()
	return out
}
