// Package prompts holds the prompt catalog: the text of every prompt in
// every language, keyed by prompt id, and how a prompt with placeholders
// ({service}, {fee}, {key}, {code}, {count}) becomes a sequence of audio
// clips. Audio for each clip is generated from the same catalog, so what the
// simulator prints is what a caller hears.
package prompts

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed *.yaml
var builtin embed.FS

// Entry is one prompt of one language.
type Entry struct {
	ID    string
	Text  string
	Voice string // espeak-ng voice override ("en-us" for an English phrase in the Chinese catalog)
	File  string
	Line  int
}

// Catalog is the prompts of every language, loaded and checked.
type Catalog struct {
	langs   map[string]map[string]*Entry
	version string
}

// Builtin returns the catalog compiled into the binary (prompts/*.yaml).
func Builtin() (*Catalog, error) { return loadFS(builtin, ".") }

// Load reads dir/<lang>.yaml for every language file in dir.
// An empty dir means the built-in catalog.
func Load(dir string) (*Catalog, error) {
	if dir == "" {
		return Builtin()
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("prompts: %w", err)
	}
	return loadFS(os.DirFS(dir), dir)
}

func loadFS(fsys fs.FS, dir string) (*Catalog, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("prompts: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("prompts: no <language>.yaml catalog in %s", dir)
	}
	sort.Strings(names)
	c := &Catalog{langs: map[string]map[string]*Entry{}}
	h := sha256.New()
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("prompts: %w", err)
		}
		h.Write([]byte(name))
		h.Write(data)
		lang := strings.TrimSuffix(name, ".yaml")
		entries, err := parse(filepath.Join(dir, name), data)
		if err != nil {
			return nil, err
		}
		c.langs[lang] = entries
	}
	c.version = hex.EncodeToString(h.Sum(nil))[:12]
	return c, nil
}

func parse(file string, data []byte) (map[string]*Entry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	out := map[string]*Entry{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: a catalog is a map of prompt id to text", file, m.Line)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		e := &Entry{ID: k.Value, File: file, Line: k.Line}
		if _, dup := out[e.ID]; dup {
			return nil, fmt.Errorf("%s:%d: prompt %q defined twice", file, k.Line, e.ID)
		}
		switch v.Kind {
		case yaml.ScalarNode:
			e.Text = v.Value
		case yaml.MappingNode:
			var x struct {
				Text  string `yaml:"text"`
				Voice string `yaml:"voice"`
			}
			if err := v.Decode(&x); err != nil {
				return nil, fmt.Errorf("%s:%d: prompt %q: %v", file, v.Line, e.ID, err)
			}
			e.Text, e.Voice = x.Text, x.Voice
		default:
			return nil, fmt.Errorf("%s:%d: prompt %q: want text or {text, voice}", file, v.Line, e.ID)
		}
		if strings.TrimSpace(e.Text) == "" {
			return nil, fmt.Errorf("%s:%d: prompt %q has no text", file, k.Line, e.ID)
		}
		if err := checkPlaceholders(e.Text); err != nil {
			return nil, fmt.Errorf("%s:%d: prompt %q: %v", file, k.Line, e.ID, err)
		}
		out[e.ID] = e
	}
	return out, nil
}

// Placeholders a prompt text may contain.
var Placeholders = []string{"service", "fee", "key", "code", "count", "number"}

func checkPlaceholders(text string) error {
	for _, p := range split(text) {
		if p.ph == "" {
			continue
		}
		ok := false
		for _, x := range Placeholders {
			ok = ok || p.ph == x
		}
		if !ok {
			return fmt.Errorf("unknown placeholder {%s} (known: %s)", p.ph, strings.Join(Placeholders, ", "))
		}
	}
	return nil
}

// Version is a content hash of the catalog files.
func (c *Catalog) Version() string { return c.version }

// Languages lists the catalog's languages, sorted.
func (c *Catalog) Languages() []string {
	var out []string
	for l := range c.langs {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Has reports whether lang has prompt id.
func (c *Catalog) Has(lang, id string) bool {
	_, ok := c.langs[lang][id]
	return ok
}

// Entry returns prompt id of lang, or nil.
func (c *Catalog) Entry(lang, id string) *Entry { return c.langs[lang][id] }

// Entries returns every prompt of lang, sorted by id.
func (c *Catalog) Entries(lang string) []*Entry {
	var out []*Entry
	for _, e := range c.langs[lang] {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Placeholders returns the placeholder names prompt id of lang uses.
func (c *Catalog) Placeholders(lang, id string) []string {
	e := c.Entry(lang, id)
	if e == nil {
		return nil
	}
	var out []string
	for _, p := range split(e.Text) {
		if p.ph != "" {
			out = append(out, p.ph)
		}
	}
	return out
}

// part is a literal fragment or a placeholder of a prompt text.
type part struct {
	lit string
	ph  string
}

// split cuts text at {placeholders}. Unclosed braces are literal.
func split(text string) []part {
	var out []part
	for text != "" {
		i := strings.IndexByte(text, '{')
		j := -1
		if i >= 0 {
			j = strings.IndexByte(text[i:], '}')
		}
		if i < 0 || j < 0 {
			out = append(out, part{lit: text})
			break
		}
		if i > 0 {
			out = append(out, part{lit: text[:i]})
		}
		out = append(out, part{ph: text[i+1 : i+j]})
		text = text[i+j+1:]
	}
	return out
}

// Fragment is one piece of audio to generate: the clip file id and its text.
type Fragment struct {
	File  string // "zh-CN/service-item_2"
	Text  string
	Voice string
}

// Fragments lists the audio files of lang: one per prompt without
// placeholders, one per literal piece of a prompt with them.
func (c *Catalog) Fragments(lang string) []Fragment {
	var out []Fragment
	for _, e := range c.Entries(lang) {
		parts := split(e.Text)
		if len(parts) == 1 && parts[0].ph == "" {
			out = append(out, Fragment{File: fileName(lang, e.ID, -1), Text: e.Text, Voice: e.Voice})
			continue
		}
		for i, p := range parts {
			if p.ph == "" && strings.TrimSpace(p.lit) != "" {
				out = append(out, Fragment{File: fileName(lang, e.ID, i), Text: p.lit, Voice: e.Voice})
			}
		}
	}
	return out
}

// Check reports every prompt that one language has and another lacks, and
// every prompt whose placeholders differ between languages, one problem
// per line as "file:line: prompt ID: ...". Nil when the catalogs agree.
// Number words (num.*) are each language's own: how a language says
// numbers decides which it needs.
func (c *Catalog) Check() error {
	var problems []string
	langs := c.Languages()
	for _, a := range langs {
		for _, e := range c.Entries(a) {
			if strings.HasPrefix(e.ID, "num.") {
				continue
			}
			for _, b := range langs {
				if b == a {
					continue
				}
				other := c.Entry(b, e.ID)
				if other == nil {
					problems = append(problems, fmt.Sprintf("%s:%d: prompt %s: missing in %s", e.File, e.Line, e.ID, b))
					continue
				}
				if a < b && !samePlaceholders(c.Placeholders(a, e.ID), c.Placeholders(b, e.ID)) {
					problems = append(problems, fmt.Sprintf("%s:%d: prompt %s: placeholders %v, but %v in %s", e.File, e.Line, e.ID,
						c.Placeholders(a, e.ID), c.Placeholders(b, e.ID), b))
				}
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "\n"))
}

func samePlaceholders(a, b []string) bool {
	a, b = append([]string{}, a...), append([]string{}, b...)
	sort.Strings(a)
	sort.Strings(b)
	return strings.Join(a, ",") == strings.Join(b, ",")
}
