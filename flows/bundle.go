package flows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/unsubivr/unsubivr/prompts"
)

// ErrUnknownFlow is returned (wrapped) by Bundle.Flow for a name the
// bundle lacks.
var ErrUnknownFlow = errors.New("flows: unknown flow")

// Bundle is a set of checked flows and the prompt catalog they were
// checked against: what the engine runs a call with.
type Bundle struct {
	Flows   map[string]*Flow // by Flow.Name
	Catalog *prompts.Catalog
	// Version is a short content hash of the flow files and the catalog;
	// call logs record it, so a call can be traced to what it heard.
	Version string
}

// LoadBundle loads every *.yaml flow in flowDir and the prompt catalog in
// promptDir, and checks each flow against the catalog. An empty flowDir
// means the built-in flow, an empty promptDir the built-in catalog. It
// returns every problem of every flow at once as Errors (two flows with
// one name included); other errors (unreadable directory, bad catalog)
// are returned as they are.
func LoadBundle(flowDir, promptDir string) (*Bundle, error) {
	cat, err := prompts.Load(promptDir)
	if err != nil {
		return nil, err
	}
	srcs := []source{{file: builtinFile, data: builtinFlow}}
	if flowDir != "" {
		if srcs, err = readDir(flowDir); err != nil {
			return nil, err
		}
	}
	b := &Bundle{Flows: map[string]*Flow{}, Catalog: cat}
	var errs Errors
	h := sha256.New()
	for _, s := range srcs {
		// name and length first, so no two sets of files hash alike
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(s.file), len(s.data))
		h.Write(s.data)
		f, err := Parse(s.file, s.data)
		if err != nil {
			if err := errs.add(err); err != nil {
				return nil, err
			}
			continue
		}
		if prev, dup := b.Flows[f.Name]; dup {
			errs = append(errs, &Problem{File: f.File, Line: line(f.pos, "name", 1),
				Msg: fmt.Sprintf("flow %q is also defined in %s", f.Name, prev.File)})
			continue
		}
		if err := Check(f, cat); err != nil {
			if err := errs.add(err); err != nil {
				return nil, err
			}
			continue
		}
		b.Flows[f.Name] = f
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	fmt.Fprintf(h, "prompts\x00%s", cat.Version())
	b.Version = hex.EncodeToString(h.Sum(nil))[:12]
	return b, nil
}

// Flow returns the flow called name, or an error wrapping ErrUnknownFlow.
func (b *Bundle) Flow(name string) (*Flow, error) {
	if f, ok := b.Flows[name]; ok {
		return f, nil
	}
	names := make([]string, 0, len(b.Flows))
	for n := range b.Flows {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownFlow, name, strings.Join(names, ", "))
}
