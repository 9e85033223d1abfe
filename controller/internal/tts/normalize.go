package tts

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Lexicon is a commune's pronunciation list: a word or phrase (a local
// place name, a family name read the local way) and how to say it. It is
// applied before anything else, whole words only, ignoring case.
type Lexicon map[string]string

// abbreviations are the administrative abbreviations of notices, matched
// as whole words in capitals. A commune's lexicon can say them otherwise.
var abbreviations = map[string]string{
	"UBND":   "ủy ban nhân dân",
	"HĐND":   "hội đồng nhân dân",
	"MTTQ":   "mặt trận tổ quốc",
	"UBMTTQ": "ủy ban mặt trận tổ quốc",
	"THCS":   "trung học cơ sở",
	"THPT":   "trung học phổ thông",
	"TH":     "tiểu học",
	"MN":     "mầm non",
	"TP":     "thành phố",
	"TP.":    "thành phố",
	"Tp.":    "thành phố",
	"TX":     "thị xã",
	"BHYT":   "bảo hiểm y tế",
	"BHXH":   "bảo hiểm xã hội",
	"CSGT":   "cảnh sát giao thông",
	"PCCC":   "phòng cháy chữa cháy",
	"PCTT":   "phòng chống thiên tai",
	"TKCN":   "tìm kiếm cứu nạn",
	"BCH":    "ban chỉ huy",
	"HTX":    "hợp tác xã",
	"CCB":    "cựu chiến binh",
	"TNCS":   "thanh niên cộng sản",
	"KHHGĐ":  "kế hoạch hóa gia đình",
	"TTYT":   "trung tâm y tế",
	"TYT":    "trạm y tế",
	"SĐT":    "số điện thoại",
	"ĐT":     "điện thoại",
	"QL":     "quốc lộ",
	"TL":     "tỉnh lộ",
	"TW":     "trung ương",
	"VN":     "Việt Nam",
	"CHXHCN": "cộng hòa xã hội chủ nghĩa",
	"ATTP":   "an toàn thực phẩm",
	"ATGT":   "an toàn giao thông",
	"GPMB":   "giải phóng mặt bằng",
	"NTM":    "nông thôn mới",
}

// units said after a number, longest first so "km/h" wins over "km".
var units = []struct{ sym, word string }{
	{"km/h", "ki lô mét trên giờ"},
	{"mm/h", "mi li mét trên giờ"},
	{"m/s", "mét trên giây"},
	{"km²", "ki lô mét vuông"}, {"km2", "ki lô mét vuông"},
	{"m²", "mét vuông"}, {"m2", "mét vuông"},
	{"m³", "mét khối"}, {"m3", "mét khối"},
	{"°C", "độ xê"}, {"ºC", "độ xê"}, {"℃", "độ xê"}, {"°", "độ"},
	{"VNĐ", "đồng"}, {"VND", "đồng"}, {"đ", "đồng"},
	{"km", "ki lô mét"}, {"kg", "ki lô gam"}, {"cm", "xen ti mét"}, {"mm", "mi li mét"},
	{"ml", "mi li lít"}, {"ha", "héc ta"}, {"kW", "ki lô oát"}, {"kV", "ki lô vôn"},
	{"%", "phần trăm"}, {"m", "mét"}, {"g", "gam"}, {"l", "lít"}, {"t", "tấn"},
}

var (
	// Phone numbers: a leading 0 (or +84) and 9-11 digits in groups, or a
	// 1800/1900 hotline. Read digit by digit, keeping the groups as pauses.
	phoneRE = regexp.MustCompile(`^(?:\+84[ .]?|0)\d{1,3}(?:[ .-]?\d{2,4}){2,3}|^1[89]00[ .]?\d{3,4}(?:[ .]?\d{1,3})?`)
	// "20-25/12": from one day to another of the same month.
	daysRE  = regexp.MustCompile(`^(\d{1,2}) ?[-–] ?(\d{1,2})/(\d{1,2})(?:/(\d{4}))?`)
	dateRE  = regexp.MustCompile(`^(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{4}))?`)
	monthRE = regexp.MustCompile(`^(\d{1,2})/(\d{4})`)
	timeRE  = regexp.MustCompile(`^(\d{1,2})(?:h|giờ)(\d{2})?(?:'|ph|p)?|^(\d{1,2}):(\d{2})`)
	numRE   = regexp.MustCompile(`^\d{1,3}(?:\.\d{3})+(?:,\d+)?|^\d+(?:,\d+)?`)
	rangeRE = regexp.MustCompile(`^ ?[-–] ?`)
	// Words said apart from their neighbours leave a blank before the
	// punctuation that follows them.
	punctRE = regexp.MustCompile(` +([.,;:!?)])`)
)

// Normalize rewrites Vietnamese text as it is read aloud, so that a
// synthetic voice says numbers, dates, times, phone numbers, units and
// administrative abbreviations as people do. Input may be NFC or NFD; the
// result is NFC. The commune's lexicon is applied first.
func Normalize(text string, lex Lexicon) string {
	text = norm.NFC.String(strings.ToValidUTF8(text, " "))
	text = applyLexicon(text, lex)
	n := &normalizer{src: text}
	n.run()
	return punctRE.ReplaceAllString(strings.Join(strings.Fields(n.out.String()), " "), "$1")
}

type normalizer struct {
	src string
	i   int
	out strings.Builder
}

func (n *normalizer) run() {
	for n.i < len(n.src) {
		r, size := utf8.DecodeRuneInString(n.src[n.i:])
		prev := n.prevRune()
		switch {
		case isDigit(r) && !isWordRune(prev), r == '+' && !isWordRune(prev) && n.i+1 < len(n.src) && isDigit(rune(n.src[n.i+1])):
			if n.numeric() {
				continue
			}
		case (r == '-' || r == '−') && !isWordRune(prev) && n.i+size < len(n.src) && isDigit(rune(n.src[n.i+size])):
			n.say("âm")
			n.i += size
			continue
		case r == '/' && isDigit(prev) && n.i+1 < len(n.src) && isDigit(rune(n.src[n.i+1])):
			n.say("trên") // 24/24, a ratio
			n.i += size
			continue
		case unicode.IsLetter(r) && !isWordRune(prev):
			if n.abbreviation() {
				continue
			}
			n.copyWord()
			continue
		}
		n.out.WriteString(n.src[n.i : n.i+size])
		n.i += size
	}
}

// numeric reads the number, phone number, date or time at n.i, trying the
// most specific form first. It reports whether it consumed anything.
func (n *normalizer) numeric() bool {
	rest := n.src[n.i:]
	if m := phoneRE.FindString(rest); m != "" && n.endsWord(len(m)) && (digitCount(m) >= 9 || m[0] == '1') {
		var groups []string
		for _, g := range strings.FieldsFunc(m, func(r rune) bool { return r == ' ' || r == '.' || r == '-' }) {
			if strings.HasPrefix(g, "+") {
				groups = append(groups, "cộng "+readDigits(g))
			} else {
				groups = append(groups, readDigits(g))
			}
		}
		n.say(strings.Join(groups, ", "))
		n.i += len(m)
		return true
	}
	if rest[0] == '+' {
		return false
	}
	if m := daysRE.FindStringSubmatch(rest); m != nil && n.endsWord(len(m[0])) {
		d1, _ := strconv.Atoi(m[1])
		d2, _ := strconv.Atoi(m[2])
		mo, _ := strconv.Atoi(m[3])
		if d1 >= 1 && d1 <= 31 && d2 >= 1 && d2 <= 31 && mo >= 1 && mo <= 12 {
			n.sayAfter("ngày", readInt(m[1]))
			n.say("đến ngày " + readInt(m[2]) + " tháng " + monthWord(mo))
			if m[4] != "" {
				n.say("năm " + readInt(m[4]))
			}
			n.i += len(m[0])
			return true
		}
	}
	if m := dateRE.FindStringSubmatch(rest); m != nil && n.endsWord(len(m[0])) && (m[3] != "" || strings.Contains(m[0], "/")) {
		d, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		if d >= 1 && d <= 31 && mo >= 1 && mo <= 12 {
			n.sayAfter("ngày", readInt(m[1]))
			n.say("tháng " + monthWord(mo))
			if m[3] != "" {
				n.say("năm " + readInt(m[3]))
			}
			n.i += len(m[0])
			n.rangeAfter()
			return true
		}
	}
	if m := monthRE.FindStringSubmatch(rest); m != nil && n.endsWord(len(m[0])) {
		if mo, _ := strconv.Atoi(m[1]); mo >= 1 && mo <= 12 {
			n.sayAfter("tháng", monthWord(mo))
			n.say("năm " + readInt(m[2]))
			n.i += len(m[0])
			return true
		}
	}
	if m := timeRE.FindStringSubmatch(rest); m != nil && n.endsWord(len(m[0])) {
		h, min := m[1], m[2]
		if h == "" {
			h, min = m[3], m[4]
		}
		hv, _ := strconv.Atoi(h)
		mv, _ := strconv.Atoi(min)
		if hv <= 24 && mv <= 59 {
			n.say(readInt(h) + " giờ")
			if mv > 0 {
				n.say(readInt(min) + " phút")
			}
			n.i += len(m[0])
			n.rangeAfter()
			return true
		}
	}
	m := numRE.FindString(rest)
	if m == "" {
		return false
	}
	if len(m) > 1 && m[0] == '0' && !strings.Contains(m, ",") {
		n.say(readDigits(m)) // a code or a number written with its zeros: say them
	} else if v, err := strconv.Atoi(m); err == nil && v >= 1 && v <= 12 && n.lastWordIs("tháng") {
		n.say(monthWord(v)) // "tháng 4" is "tháng tư"
	} else if (m == "1" || m == "4") && n.lastWordIs("thứ") {
		n.say(map[string]string{"1": "nhất", "4": "tư"}[m]) // "thứ 4" (Wednesday, fourth) is "thứ tư"
	} else {
		n.say(readDecimal(m))
	}
	n.i += len(m)
	n.unit()
	n.rangeAfter()
	return true
}

// unit reads a unit of measure right after a number ("25mm", "30 km/h").
func (n *normalizer) unit() {
	rest := n.src[n.i:]
	skip := 0
	if strings.HasPrefix(rest, " ") {
		skip = 1
	}
	for _, u := range units {
		if strings.HasPrefix(rest[skip:], u.sym) && n.endsWord(skip+len(u.sym)) {
			if skip == 1 && u.sym == "t" {
				continue // "5 t" is too often not tonnes
			}
			n.say(u.word)
			n.i += skip + len(u.sym)
			return
		}
	}
}

// rangeAfter reads "7h-11h" or "20-25 mm" as "đến".
func (n *normalizer) rangeAfter() {
	rest := n.src[n.i:]
	if m := rangeRE.FindString(rest); m != "" && len(rest) > len(m) && isDigit(rune(rest[len(m)])) {
		n.say("đến")
		n.i += len(m)
	}
}

// abbreviation replaces a known abbreviation at n.i.
func (n *normalizer) abbreviation() bool {
	end := n.i
	for end < len(n.src) {
		r, size := utf8.DecodeRuneInString(n.src[end:])
		if !isWordRune(r) {
			break
		}
		end += size
	}
	word := n.src[n.i:end]
	if end < len(n.src) && n.src[end] == '.' {
		if w, ok := abbreviations[word+"."]; ok {
			n.say(w)
			n.i = end + 1
			return true
		}
	}
	if w, ok := abbreviations[word]; ok {
		n.say(w)
		n.i = end
		return true
	}
	return false
}

// copyWord copies a word as it is, digits inside it included ("F0", "H5N1").
func (n *normalizer) copyWord() {
	start := n.i
	for n.i < len(n.src) {
		r, size := utf8.DecodeRuneInString(n.src[n.i:])
		if !isWordRune(r) {
			break
		}
		n.i += size
	}
	n.out.WriteString(n.src[start:n.i])
}

// say writes words, apart from what comes before and after.
func (n *normalizer) say(words string) {
	n.out.WriteString(" " + words + " ")
}

// sayAfter says keyword and words, leaving out keyword when the text
// already has it ("ngày 07/12" is not "ngày ngày bảy").
func (n *normalizer) sayAfter(keyword, words string) {
	if n.lastWordIs(keyword) {
		n.say(words)
		return
	}
	n.say(keyword + " " + words)
}

// lastWordIs reports whether the text so far ends with word.
func (n *normalizer) lastWordIs(word string) bool {
	f := strings.Fields(n.out.String())
	return len(f) > 0 && strings.EqualFold(f[len(f)-1], word)
}

func (n *normalizer) prevRune() rune {
	if n.i == 0 {
		return ' '
	}
	r, _ := utf8.DecodeLastRuneInString(n.src[:n.i])
	return r
}

// endsWord reports whether a match of length l at n.i ends a word: no
// letter or digit follows it.
func (n *normalizer) endsWord(l int) bool {
	if n.i+l >= len(n.src) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(n.src[n.i+l:])
	return !isWordRune(r)
}

func monthWord(m int) string {
	if m == 4 {
		return "tư"
	}
	return readInt(strconv.Itoa(m))
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func digitCount(s string) int {
	c := 0
	for _, r := range s {
		if isDigit(r) {
			c++
		}
	}
	return c
}

// applyLexicon replaces each word or phrase of the lexicon, longest first,
// whole words only and ignoring case.
func applyLexicon(text string, lex Lexicon) string {
	if len(lex) == 0 {
		return text
	}
	keys := make([]string, 0, len(lex))
	for k := range lex {
		if strings.TrimSpace(k) != "" && utf8.ValidString(k) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return keys[i] < keys[j]
	})
	if len(keys) == 0 {
		return text
	}
	spoken := map[string]string{}
	alts := make([]string, len(keys))
	for i, k := range keys {
		k = norm.NFC.String(k)
		spoken[strings.ToLower(k)] = norm.NFC.String(strings.ToValidUTF8(lex[keys[i]], ""))
		alts[i] = regexp.QuoteMeta(k)
	}
	re, err := regexp.Compile(`(?i)` + strings.Join(alts, "|"))
	if err != nil {
		return text // cannot happen with quoted, valid UTF-8 words
	}
	var b strings.Builder
	last := 0
	for _, loc := range re.FindAllStringIndex(text, -1) {
		before, _ := utf8.DecodeLastRuneInString(text[:loc[0]])
		after, _ := utf8.DecodeRuneInString(text[loc[1]:])
		if (loc[0] > 0 && isWordRune(before)) || (loc[1] < len(text) && isWordRune(after)) {
			continue
		}
		w, ok := spoken[strings.ToLower(text[loc[0]:loc[1]])]
		if !ok {
			continue
		}
		b.WriteString(text[last:loc[0]])
		b.WriteString(w)
		last = loc[1]
	}
	b.WriteString(text[last:])
	return b.String()
}
