package prompts

import (
	"fmt"
	"strconv"
	"strings"
)

// Clip is one audio file to play and the text it speaks.
// File is relative to the sound root, without extension: "zh-CN/welcome".
type Clip struct {
	File string
	Text string
}

// Vars are the values placeholders are filled with.
type Vars struct {
	Service string // service code; read as prompt "service.<CODE>"
	FeeFen  int64  // read as money
	Key     string // a DTMF key, read as a digit
	Code    string // confirmation code, read digit by digit
	Count   int    // read as a number
	Number  string // phone number, read digit by digit
}

// Expand returns the clips that speak prompt id in lang with vars.
// It fails for a prompt the catalog lacks; flow checking makes sure that
// cannot happen at call time for the prompts a flow names.
func (c *Catalog) Expand(lang, id string, v Vars) ([]Clip, error) {
	e := c.Entry(lang, id)
	if e == nil {
		return nil, fmt.Errorf("prompts: no prompt %q in %s", id, lang)
	}
	parts := split(e.Text)
	if len(parts) == 1 && parts[0].ph == "" {
		return []Clip{{File: fileName(lang, id, -1), Text: e.Text}}, nil
	}
	var out []Clip
	for i, p := range parts {
		switch {
		case p.ph == "" && strings.TrimSpace(p.lit) == "":
			// whitespace between placeholders: no audio
		case p.ph == "":
			out = append(out, Clip{File: fileName(lang, id, i), Text: p.lit})
		default:
			clips, err := c.placeholder(lang, p.ph, v)
			if err != nil {
				return nil, fmt.Errorf("prompts: %s %q: %w", lang, id, err)
			}
			out = append(out, clips...)
		}
	}
	return out, nil
}

func (c *Catalog) placeholder(lang, name string, v Vars) ([]Clip, error) {
	switch name {
	case "service":
		return c.ids(lang, []string{"service." + v.Service})
	case "fee":
		return c.Money(lang, v.FeeFen)
	case "key":
		return c.Digits(lang, v.Key)
	case "code":
		return c.Digits(lang, v.Code)
	case "number":
		return c.Digits(lang, v.Number)
	case "count":
		return c.Number(lang, int64(v.Count))
	}
	return nil, fmt.Errorf("unknown placeholder {%s}", name)
}

// ids turns catalog ids into clips.
func (c *Catalog) ids(lang string, ids []string) ([]Clip, error) {
	out := make([]Clip, 0, len(ids))
	for _, id := range ids {
		e := c.Entry(lang, id)
		if e == nil {
			return nil, fmt.Errorf("no prompt %q in %s", id, lang)
		}
		out = append(out, Clip{File: fileName(lang, id, -1), Text: e.Text})
	}
	return out, nil
}

// Digits reads s key by key: 0-9, * and #.
func (c *Catalog) Digits(lang, s string) ([]Clip, error) {
	ids := make([]string, 0, len(s))
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			ids = append(ids, "digit."+string(r))
		case r == '*':
			ids = append(ids, "digit.star")
		case r == '#':
			ids = append(ids, "digit.hash")
		default:
			return nil, fmt.Errorf("cannot read %q as digits", s)
		}
	}
	return c.ids(lang, ids)
}

// Number reads n (0 ≤ n < 100,000,000) as a number in lang.
func (c *Catalog) Number(lang string, n int64) ([]Clip, error) {
	if n < 0 || n >= 100000000 {
		return nil, fmt.Errorf("cannot read %d as a number", n)
	}
	if strings.HasPrefix(lang, "zh") {
		return c.ids(lang, zhNumber(n))
	}
	return c.ids(lang, enNumber(n))
}

// Money reads an amount in fen as yuan (and jiao, fen).
func (c *Catalog) Money(lang string, fen int64) ([]Clip, error) {
	if fen < 0 {
		return nil, fmt.Errorf("cannot read %d fen as money", fen)
	}
	yuan, jiao, f := fen/100, fen/10%10, fen%10
	var out []Clip
	add := func(n int64, unit string) error {
		num, err := c.Number(lang, n)
		if err != nil {
			return err
		}
		u, err := c.ids(lang, []string{unit})
		if err != nil {
			return err
		}
		out = append(append(out, num...), u...)
		return nil
	}
	if yuan > 0 || fen == 0 {
		if err := add(yuan, "money.yuan"); err != nil {
			return nil, err
		}
	}
	if jiao > 0 {
		if err := add(jiao, "money.jiao"); err != nil {
			return nil, err
		}
	}
	if f > 0 {
		if err := add(f, "money.fen"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// zhNumber spells n the Chinese way: 十五, 二十, 一百零五, 三千零二十, 十二万.
func zhNumber(n int64) []string {
	if n == 0 {
		return []string{"digit.0"}
	}
	if n >= 10000 {
		out := zhNumber(n / 10000)
		out = append(out, "num.10000")
		if rest := n % 10000; rest > 0 {
			if rest < 1000 {
				out = append(out, "digit.0")
			}
			out = append(out, zhSmall(rest, true)...)
		}
		return out
	}
	return zhSmall(n, false)
}

// zhSmall spells 1..9999; inner says a higher unit precedes (一十 not 十).
func zhSmall(n int64, inner bool) []string {
	units := []string{"num.1000", "num.100", "num.10", ""}
	digits := []int64{n / 1000, n / 100 % 10, n / 10 % 10, n % 10}
	var out []string
	started, zero := false, false
	for i, d := range digits {
		if d == 0 {
			if started {
				zero = true
			}
			continue
		}
		if zero {
			out = append(out, "digit.0")
			zero = false
		}
		// 十五 rather than 一十五 when ten is the leading unit
		if !(i == 2 && d == 1 && !started && !inner) {
			out = append(out, "digit."+strconv.FormatInt(d, 10))
		}
		if units[i] != "" {
			out = append(out, units[i])
		}
		started = true
	}
	return out
}

// enNumber spells n the English way: "one hundred five", "twenty three".
func enNumber(n int64) []string {
	if n < 20 {
		return []string{"num." + strconv.FormatInt(n, 10)}
	}
	var out []string
	if n >= 1000 {
		out = append(out, enNumber(n/1000)...)
		out = append(out, "num.1000")
		n %= 1000
		if n == 0 {
			return out
		}
	}
	if n >= 100 {
		out = append(out, "num."+strconv.FormatInt(n/100, 10), "num.100")
		n %= 100
		if n == 0 {
			return out
		}
	}
	if n < 20 {
		return append(out, "num."+strconv.FormatInt(n, 10))
	}
	out = append(out, "num."+strconv.FormatInt(n/10*10, 10))
	if n%10 > 0 {
		out = append(out, "num."+strconv.FormatInt(n%10, 10))
	}
	return out
}

// Text joins what clips speak, as the simulator prints it.
func Text(clips []Clip) string {
	var b strings.Builder
	for i, c := range clips {
		t := c.Text
		if i > 0 && b.Len() > 0 && needsSpace(b.String(), t) {
			b.WriteByte(' ')
		}
		b.WriteString(t)
	}
	return b.String()
}

// needsSpace puts a space between two ASCII words, none next to CJK text or
// where the literal already has one.
func needsSpace(prev, next string) bool {
	if next == "" {
		return false
	}
	last := prev[len(prev)-1]
	first := next[0]
	isWord := func(b byte) bool {
		return b < 0x80 && (b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9')
	}
	return isWord(last) && isWord(first)
}

// fileName names the audio file of prompt id (part i of a template, or
// the whole prompt for i < 0) relative to the sound root. Dots become
// underscores: Asterisk would take what follows a dot for a format.
func fileName(lang, id string, i int) string {
	name := strings.ReplaceAll(id, ".", "_")
	if i >= 0 {
		name += "_" + strconv.Itoa(i)
	}
	return lang + "/" + name
}
