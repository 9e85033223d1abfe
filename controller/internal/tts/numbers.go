package tts

import "strings"

var digitWords = [10]string{"không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"}

// scales name the groups of three digits from the right; a number with
// more groups than this is read digit by digit.
var scales = []string{"", "nghìn", "triệu", "tỷ", "nghìn tỷ", "triệu tỷ"}

// readInt reads a string of ASCII digits as Vietnamese say the number:
// 21 "hai mươi mốt", 15 "mười lăm", 105 "một trăm linh năm", 2026 "hai
// nghìn không trăm hai mươi sáu". Leading zeros are dropped; a number
// too long to name is read digit by digit.
func readInt(digits string) string {
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return digitWords[0]
	}
	n := (len(digits) + 2) / 3
	if n > len(scales) {
		return readDigits(digits)
	}
	digits = strings.Repeat("0", n*3-len(digits)) + digits
	var words []string
	for g := 0; g < n; g++ {
		h, t, u := int(digits[g*3]-'0'), int(digits[g*3+1]-'0'), int(digits[g*3+2]-'0')
		if h == 0 && t == 0 && u == 0 {
			continue // a group of zeros is not said: 1.000.250 "một triệu hai trăm năm mươi"
		}
		words = append(words, readGroup(h, t, u, len(words) > 0)...)
		if s := scales[n-1-g]; s != "" {
			words = append(words, s)
		}
	}
	return strings.Join(words, " ")
}

// readGroup reads three digits. full says a higher group was read before,
// so its hundreds are said even when zero ("không trăm") and a lone unit
// is joined with "linh".
func readGroup(h, t, u int, full bool) []string {
	var w []string
	if h > 0 || full {
		w = append(w, digitWords[h], "trăm")
	}
	switch {
	case t == 0:
		if u == 0 {
			break
		}
		if h > 0 || full {
			w = append(w, "linh")
		}
		w = append(w, digitWords[u])
	case t == 1:
		w = append(w, "mười")
		if u == 5 {
			w = append(w, "lăm")
		} else if u > 0 {
			w = append(w, digitWords[u])
		}
	default:
		w = append(w, digitWords[t], "mươi")
		switch u {
		case 0:
		case 1:
			w = append(w, "mốt")
		case 4:
			w = append(w, "tư")
		case 5:
			w = append(w, "lăm")
		default:
			w = append(w, digitWords[u])
		}
	}
	return w
}

// readDigits reads each digit on its own: phone numbers, codes.
func readDigits(digits string) string {
	w := make([]string, 0, len(digits))
	for _, c := range digits {
		if c >= '0' && c <= '9' {
			w = append(w, digitWords[c-'0'])
		}
	}
	return strings.Join(w, " ")
}

// readDecimal reads a number with Vietnamese separators: "." between
// thousands, "," before the decimals. Decimals are read as a number
// ("2,25" "hai phẩy hai mươi lăm") unless they start with a zero or are
// long, then digit by digit.
func readDecimal(s string) string {
	whole, frac, ok := strings.Cut(s, ",")
	out := readInt(strings.ReplaceAll(whole, ".", ""))
	if !ok {
		return out
	}
	if frac[0] == '0' || len(frac) > 3 {
		return out + " phẩy " + readDigits(frac)
	}
	return out + " phẩy " + readInt(frac)
}
