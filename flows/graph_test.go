package flows_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/unsubivr/unsubivr/flows"
)

// -update rewrites golden files. Registered only if another test file of
// the package has not already (a second flag.Bool("update") would panic).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files (docs/flow-graph.md)")
	}
}

func updating() bool {
	g, ok := flag.Lookup("update").Value.(flag.Getter)
	return ok && g.Get() == true
}

const graphDoc = "../docs/flow-graph.md"

const graphDocHead = "# The default flow\n\n" +
	"The hotline's default flow, [flows/unsubscribe.yaml](../flows/unsubscribe.yaml), as a chart.\n" +
	"Generated; do not edit. After changing the flow, run\n" +
	"`go test ./flows -run TestGraphDoc -update` (the test fails while this file is stale).\n" +
	"`unsubivr flow graph [FILE]` prints the chart of any flow file.\n\n" +
	"Reading it: circles are where calls come in (start, and named entries such as `agent`);\n" +
	"slanted boxes wait for keys (menu, collect, confirm); double-sided boxes are actions;\n" +
	"rounded ends leave the flow (transfer, hangup). Arrows carry the key pressed (\"8\"),\n" +
	"the action's outcome (done), `noinput` (silence, sent on at once) or `exhausted`\n" +
	"(max_attempts invalid keys or silences). The format is in [flow-format.md](flow-format.md).\n\n"

// TestGraphDoc fails when docs/flow-graph.md is not the chart of the
// default flow; -update rewrites it.
func TestGraphDoc(t *testing.T) {
	f, err := flows.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(graphDocHead + "```mermaid\n")
	if err := flows.Graph(&b, f); err != nil {
		t.Fatal(err)
	}
	b.WriteString("```\n")
	if updating() {
		if err := os.WriteFile(graphDoc, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(graphDoc)
	if err != nil {
		t.Fatalf("%v (run go test ./flows -run TestGraphDoc -update)", err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Errorf("%s is stale: run go test ./flows -run TestGraphDoc -update\n--- want\n%s", graphDoc, b.String())
	}
}

func TestGraph(t *testing.T) {
	f, err := flows.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := flows.Graph(&b, f); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"flowchart TD\n",
		`in_start(("start")) --> welcome`,
		`in_agent(("agent")) --> agent_entry`,
		`services[/"services (menu)"/]`,
		`cancel[["cancel (action)"]]`,
		`goodbye(["goodbye (hangup)"])`,
		`services -- "8" --> confirm_all`,
		`services -- "1..n" --> confirm`,
		`services -- "* repeat" --> services`,
		`welcome -- "9 en-US" --> identify`,
		`cancel -- done --> cancelled`,
		`welcome -- noinput --> identify`,
		`services -- exhausted --> exhausted`,
		`confirm -- "2" --> list`,
		`unknown_number --> ask_number`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("graph lacks %s", want)
		}
	}
}

// TestGraphNames checks ids Mermaid would misread are renamed, labels
// escaped, and unknown targets drawn.
func TestGraphNames(t *testing.T) {
	src := `start: end
languages: [zh-CN]
nodes:
  end:
    type: menu
    prompts: [menu]
    keys:
      "#": {next: "a-b"}
      "1": {next: missing}
  a-b:
    type: hangup
`
	f, err := flows.Parse("names.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := flows.Graph(&b, f); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`in_start(("start")) --> n_end`,
		`n_end[/"end (menu)"/]`,
		`n_a_b(["a-b (hangup)"])`,
		`n_end -- "#35;" --> n_a_b`,
		`n_end -- "1" --> missing`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("graph lacks %s:\n%s", want, out)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestGraphWriteError(t *testing.T) {
	f, err := flows.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if err := flows.Graph(failWriter{}, f); err == nil || err.Error() != "disk full" {
		t.Fatalf("got %v", err)
	}
}
