package schedule

import (
	"strings"
	"time"
)

// Editing a schedule file in place, for the web UI: a bulletin is a block
// of lines, from its "bulletin <id>" line through the last indented line
// that follows it. Everything else in the file (comments, holidays, other
// bulletins, their layout) is kept as the officer wrote it.

// Block is where one bulletin's lines are: [Start, End), 0-based.
type Block struct {
	ID         string
	Start, End int
}

func splitLines(src []byte) []string {
	s := strings.TrimPrefix(string(src), "\ufeff") // as the parser does
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func joinLines(lines []string) []byte {
	if len(lines) == 0 {
		return nil
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// Blocks lists the bulletin blocks of a file in order.
func Blocks(src []byte) []Block {
	lines := splitLines(src)
	var out []Block
	for i := 0; i < len(lines); i++ {
		f := strings.Fields(lines[i])
		if len(f) < 2 || f[0] != "bulletin" || isSpace(lines[i][0]) {
			continue
		}
		b := Block{ID: unquoteText(f[1]), Start: i, End: i + 1}
		for j := i + 1; j < len(lines); j++ {
			l := lines[j]
			if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
				continue // the parser skips comments, indented or not, inside an item
			}
			if !isSpace(l[0]) {
				break
			}
			b.End = j + 1
		}
		out = append(out, b)
		i = b.End - 1
	}
	return out
}

func findBlock(src []byte, id string) (Block, bool) {
	for _, b := range Blocks(src) {
		if b.ID == id {
			return b, true
		}
	}
	return Block{}, false
}

// BlockText returns a bulletin's lines without its status line, blanks and
// comments, so that two versions compare equal when only the approval differs.
func BlockText(src []byte, id string) (string, bool) {
	b, ok := findBlock(src, id)
	if !ok {
		return "", false
	}
	var keep []string
	for _, l := range splitLines(src)[b.Start:b.End] {
		t := strings.Join(strings.Fields(l), " ")
		if t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "status ") || t == "status" {
			continue
		}
		keep = append(keep, t)
	}
	return strings.Join(keep, "\n"), true
}

// ReplaceBlock puts text (whole lines, starting with "bulletin <id>") in
// place of the bulletin's block, or appends it after a blank line.
func ReplaceBlock(src []byte, id, text string) []byte {
	lines := splitLines(src)
	repl := splitLines([]byte(text))
	if b, ok := findBlock(src, id); ok {
		out := append([]string{}, lines[:b.Start]...)
		out = append(out, repl...)
		return joinLines(append(out, lines[b.End:]...))
	}
	if len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) != "" {
		lines = append(lines, "")
	}
	return joinLines(append(lines, repl...))
}

// RemoveBlock deletes a bulletin's block and the comment lines right above
// it; ok is false if there is no such bulletin.
func RemoveBlock(src []byte, id string) (out []byte, ok bool) {
	b, ok := findBlock(src, id)
	if !ok {
		return src, false
	}
	lines := splitLines(src)
	start := b.Start
	for start > 0 && strings.HasPrefix(strings.TrimSpace(lines[start-1]), "#") {
		start--
	}
	end := b.End
	for end < len(lines) && strings.TrimSpace(lines[end]) == "" && (start == 0 || strings.TrimSpace(lines[start-1]) == "") {
		end++ // do not leave two blank lines where the block was
	}
	return joinLines(append(append([]string{}, lines[:start]...), lines[end:]...)), true
}

// SetStatus rewrites a bulletin's status line (adding one after the
// bulletin line if it has none); ok is false if there is no such bulletin.
func SetStatus(src []byte, id string, approved bool) (out []byte, ok bool) {
	b, ok := findBlock(src, id)
	if !ok {
		return src, false
	}
	status := "draft"
	if approved {
		status = "approved"
	}
	lines := splitLines(src)
	for i := b.Start + 1; i < b.End; i++ {
		f := strings.Fields(lines[i])
		if len(f) > 0 && f[0] == "status" {
			indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " \t"))]
			lines[i] = indent + "status       " + status
			return joinLines(lines), true
		}
	}
	out2 := append([]string{}, lines[:b.Start+1]...)
	out2 = append(out2, "    status       "+status)
	return joinLines(append(out2, lines[b.Start+1:]...)), true
}

// FormatDuration writes a duration the way schedule files do: 1h30m, 2m, 45s.
func FormatDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	s = strings.Replace(s, "m0s", "m", 1)
	s = strings.Replace(s, "h0m", "h", 1)
	return s
}
