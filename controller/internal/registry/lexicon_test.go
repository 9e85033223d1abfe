package registry

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/unicode/norm"
)

// A commune's pronunciation list is replaced as a whole, stored NFC and
// trimmed, survives a reopen, and bad lists are refused without touching
// the stored one.
func TestTTSLexicon(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	db := open(t, path)
	seed(t, db)
	list := []LexiconEntry{{Word: norm.NFD.String(" Khuổi Nà "), Spoken: "Khuổi Nà bản"}, {Word: "xóm Đông", Spoken: "xóm Đông thượng"}}
	if err := db.SetTTSLexicon(ctx, "x-1", list, "officer", testNow()); err != nil {
		t.Fatal(err)
	}
	want := []LexiconEntry{{Word: "Khuổi Nà", Spoken: "Khuổi Nà bản"}, {Word: "xóm Đông", Spoken: "xóm Đông thượng"}}
	for name, bad := range map[string][]LexiconEntry{
		"empty word":   {{Word: " ", Spoken: "x"}},
		"empty spoken": {{Word: "x", Spoken: ""}},
		"twice":        {{Word: "Nà", Spoken: "a"}, {Word: "nà", Spoken: "b"}},
		"two lines":    {{Word: "Nà", Spoken: "a\nb"}},
		"too long":     {{Word: "Nà", Spoken: strings.Repeat("a", MaxLexiconText+1)}},
		"too many":     make([]LexiconEntry, MaxLexiconEntries+1),
	} {
		if err := db.SetTTSLexicon(ctx, "x-1", bad, "officer", testNow()); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if err := db.SetTTSLexicon(ctx, "x-nowhere", want, "officer", testNow()); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown area: got %v, want ErrInvalid", err)
	}
	db.Close()
	db = open(t, path)
	got, err := db.TTSLexicon(ctx, "x-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lexicon (-want +got):\n%s", diff)
	}
	if other, _ := db.TTSLexicon(ctx, "p-79"); len(other) != 0 {
		t.Errorf("another area's list: %v, want empty", other)
	}
}
