package tts

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestNormalizeGolden reads testdata/*.txtar: each holds an "in" file, one
// text a line, an "out" file with what Normalize makes of each line, and
// optionally a "lexicon" (word = spoken, one a line). Refresh the outputs
// with go test ./controller/internal/tts -update, then read the diff.
func TestNormalizeGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sections := map[string]string{}
			for _, f := range ar.Files {
				sections[f.Name] = string(f.Data)
			}
			lex := Lexicon{}
			for _, l := range lines(sections["lexicon"]) {
				k, v, ok := strings.Cut(l, "=")
				if !ok {
					t.Fatalf("lexicon line %q: want word = spoken", l)
				}
				lex[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
			var got []string
			for _, in := range lines(sections["in"]) {
				got = append(got, Normalize(in, lex))
			}
			out := strings.Join(got, "\n") + "\n"
			if *update {
				ar.Files = []txtar.File{{Name: "in", Data: []byte(sections["in"])}}
				if s, ok := sections["lexicon"]; ok {
					ar.Files = append(ar.Files, txtar.File{Name: "lexicon", Data: []byte(s)})
				}
				ar.Files = append(ar.Files, txtar.File{Name: "out", Data: []byte(out)})
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(lines(sections["out"]), got); diff != "" {
				t.Errorf("%s (-want +got), run with -update if the change is right:\n%s", file, diff)
			}
		})
	}
}

// TestNormalizeNFD: decomposed input (as some keyboards and PDFs give it)
// reads exactly as composed input, and the result is NFC.
func TestNormalizeNFD(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txtar")
	n := 0
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if f.Name != "in" {
				continue
			}
			for _, in := range lines(string(f.Data)) {
				nfc, nfd := Normalize(norm.NFC.String(in), nil), Normalize(norm.NFD.String(in), nil)
				if nfc != nfd {
					t.Errorf("%q: NFC gives %q, NFD gives %q", in, nfc, nfd)
				}
				if !norm.NFC.IsNormalString(nfd) {
					t.Errorf("%q: result %q is not NFC", in, nfd)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no inputs")
	}
}

func TestReadInt(t *testing.T) {
	for in, want := range map[string]string{
		"0": "không", "5": "năm", "10": "mười", "11": "mười một", "14": "mười bốn", "15": "mười lăm",
		"20": "hai mươi", "21": "hai mươi mốt", "24": "hai mươi tư", "25": "hai mươi lăm", "100": "một trăm",
		"105": "một trăm linh năm", "110": "một trăm mười", "1000": "một nghìn", "1005": "một nghìn không trăm linh năm",
		"1250": "một nghìn hai trăm năm mươi", "2026": "hai nghìn không trăm hai mươi sáu",
		"1000000": "một triệu", "1000250": "một triệu hai trăm năm mươi", "3000000000": "ba tỷ",
		"007": "bảy",
	} {
		if got := readInt(in); got != want {
			t.Errorf("readInt(%s) = %q, want %q", in, got, want)
		}
	}
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// FuzzNormalize: whatever an officer pastes or a lexicon holds (broken
// UTF-8, stray marks, endless digits), Normalize returns valid NFC text
// without panicking (it panicked on a lexicon word of invalid UTF-8).
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"UBND 07/12/2026 6h30 0912 345 678 150mm 1.250 2,5 -3°C 20-25/12 thứ 4",
		"99999999999999999999999", "+84", "1/", "0,", "TP.", "\xff\xfe", norm.NFD.String("Khuổi Nà 7h-11h")} {
		f.Add(s, "Nà")
	}
	f.Fuzz(func(t *testing.T, text, word string) {
		got := Normalize(text, Lexicon{word: "nà bản"})
		if !utf8.ValidString(got) {
			t.Errorf("Normalize(%q) = %q: not valid UTF-8", text, got)
		}
		if !norm.NFC.IsNormalString(got) {
			t.Errorf("Normalize(%q) = %q: not NFC", text, got)
		}
	})
}
