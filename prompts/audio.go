package prompts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Voices maps a catalog language to its espeak-ng voice.
var Voices = map[string]string{"zh-CN": "cmn", "en-US": "en-us"}

// Formats are the files generated for every clip: 8 kHz mono 16-bit WAV,
// and raw G.711 µ-law and A-law so G.711 calls play without transcoding.
var Formats = []string{"wav", "ulaw", "alaw"}

// BuildOptions say where audio comes from and goes.
type BuildOptions struct {
	Out        string // sound root: Out/<lang>/<file>.{wav,ulaw,alaw}
	Recordings string // a recording Recordings/<lang>/<file>.wav wins over speech synthesis
	Log        func(format string, args ...any)
}

// BuildStats counts what Build did.
type BuildStats struct {
	Generated, Recorded, Unchanged int
}

// manifestName records, per clip, the hash of what it was made from, so a
// second Build only redoes what changed.
const manifestName = ".manifest.json"

// Build generates audio for every fragment of every language of c with
// espeak-ng and sox. It needs both on PATH and says so in one line if not.
func (c *Catalog) Build(ctx context.Context, o BuildOptions) (BuildStats, error) {
	var st BuildStats
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			return st, fmt.Errorf("prompts: %s not found: install it (apt-get install espeak-ng sox)", tool)
		}
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return st, fmt.Errorf("prompts: %w", err)
	}
	manifest := map[string]string{}
	mpath := filepath.Join(o.Out, manifestName)
	if b, err := os.ReadFile(mpath); err == nil {
		_ = json.Unmarshal(b, &manifest) // a broken manifest just rebuilds
	}
	type job struct {
		f        Fragment
		rec      string
		hash     string
		language string
	}
	var jobs []job
	for _, lang := range c.Languages() {
		voice := Voices[lang]
		if voice == "" {
			return st, fmt.Errorf("prompts: no espeak-ng voice for language %s (add it to prompts.Voices)", lang)
		}
		for _, f := range c.Fragments(lang) {
			if f.Voice == "" {
				f.Voice = voice
			}
			rec := ""
			h := sha256.New()
			if o.Recordings != "" {
				p := filepath.Join(o.Recordings, f.File+".wav")
				if b, err := os.ReadFile(p); err == nil {
					rec = p
					h.Write(b)
				}
			}
			fmt.Fprintf(h, "%s\x00%s\x00%s", f.Voice, f.Text, strings.Join(Formats, ","))
			j := job{f: f, rec: rec, hash: hex.EncodeToString(h.Sum(nil))[:16], language: lang}
			if manifest[f.File] == j.hash && allExist(o.Out, f.File) {
				st.Unchanged++
				continue
			}
			jobs = append(jobs, j)
		}
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
		ch       = make(chan job)
	)
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				err := render(ctx, o.Out, j.f, j.rec)
				mu.Lock()
				switch {
				case err != nil && firstErr == nil:
					firstErr = err
				case err == nil:
					manifest[j.f.File] = j.hash
					if j.rec != "" {
						st.Recorded++
					} else {
						st.Generated++
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	b, _ := json.MarshalIndent(manifest, "", " ")
	if err := os.WriteFile(mpath, b, 0o644); err != nil && firstErr == nil {
		firstErr = fmt.Errorf("prompts: %w", err)
	}
	o.Log("prompts: %d generated, %d from recordings, %d unchanged in %s", st.Generated, st.Recorded, st.Unchanged, o.Out)
	return st, firstErr
}

func allExist(root, file string) bool {
	for _, ext := range Formats {
		if _, err := os.Stat(filepath.Join(root, file+"."+ext)); err != nil {
			return false
		}
	}
	return true
}

// render makes the files of one fragment: speech (or the recording) →
// 8 kHz mono 16-bit WAV → µ-law and A-law. Files appear by rename, so a
// half-written one is never played.
func render(ctx context.Context, root string, f Fragment, recording string) error {
	dst := filepath.Join(root, f.File)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("prompts: %w", err)
	}
	src := recording
	if src == "" {
		src = dst + ".tts.wav"
		defer os.Remove(src)
		// -s 150: a little slower than the default 175 wpm, for the phone
		if err := runTool(ctx, "espeak-ng", "-v", f.Voice, "-s", "150", "-w", src, f.Text); err != nil {
			return fmt.Errorf("prompts: %s: %w", f.File, err)
		}
	}
	tmp := dst + ".tmp.wav"
	// leading/trailing silence trimmed, level normalised to -3 dBFS, 8 kHz mono
	if err := runTool(ctx, "sox", src, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", tmp,
		"silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse", "norm", "-3"); err != nil {
		return fmt.Errorf("prompts: %s: %w", f.File, err)
	}
	defer os.Remove(tmp)
	for _, ext := range []string{"ulaw", "alaw"} {
		out := dst + "." + ext + ".tmp"
		enc := map[string]string{"ulaw": "u-law", "alaw": "a-law"}[ext]
		if err := runTool(ctx, "sox", tmp, "-t", "raw", "-r", "8000", "-c", "1", "-e", enc, "-b", "8", out); err != nil {
			return fmt.Errorf("prompts: %s: %w", f.File, err)
		}
		if err := os.Rename(out, dst+"."+ext); err != nil {
			return fmt.Errorf("prompts: %w", err)
		}
	}
	return os.Rename(tmp, dst+".wav")
}

func runTool(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && msg != "" {
			return fmt.Errorf("%s: %s", name, msg)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
