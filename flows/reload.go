package flows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Reloader holds the bundle new calls start with and replaces it when the
// flow or prompt files change. A call keeps the bundle it started with, so
// calls in progress finish on their version; a change that does not load
// and check cleanly is logged and the old bundle stays.
type Reloader struct {
	FlowDir, PromptDir string             // "" for the built-ins (nothing to watch)
	Log                logrus.FieldLogger // defaults to a discard logger

	current     atomic.Pointer[Bundle]
	mu          sync.Mutex // one reload at a time
	fingerprint string     // of the files the current bundle came from
}

// NewReloader loads the bundle from flowDir and promptDir. It fails as
// LoadBundle does: a service must not start on a broken flow.
func NewReloader(flowDir, promptDir string, log logrus.FieldLogger) (*Reloader, error) {
	r := &Reloader{FlowDir: flowDir, PromptDir: promptDir, Log: log}
	if r.Log == nil {
		l := logrus.New()
		l.Out = io.Discard
		r.Log = l
	}
	fp, err := r.files()
	if err != nil {
		return nil, err
	}
	b, err := LoadBundle(flowDir, promptDir)
	if err != nil {
		return nil, err
	}
	r.current.Store(b)
	r.fingerprint = fp
	return r, nil
}

// Current returns the bundle a new call should use.
func (r *Reloader) Current() *Bundle { return r.current.Load() }

// Reload loads and checks the files again. It reports whether the bundle
// changed; on error the current bundle stays and the error says why.
func (r *Reloader) Reload() (changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fp, err := r.files()
	if err != nil {
		return false, err
	}
	b, err := LoadBundle(r.FlowDir, r.PromptDir)
	if err != nil {
		r.fingerprint = fp // don't retry the same broken files every poll
		return false, err
	}
	r.fingerprint = fp
	old := r.current.Load()
	if old.Version == b.Version {
		return false, nil
	}
	r.current.Store(b)
	r.Log.WithFields(logrus.Fields{"from": old.Version, "to": b.Version}).Info("flows reloaded: new calls use the new version")
	return true, nil
}

// Watch reloads when a signal arrives on hup (SIGHUP) and when the files
// change, polling every interval, until ctx ends. Errors are logged.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reloadAndLog("SIGHUP")
		case <-t.C:
			if r.FlowDir == "" && r.PromptDir == "" {
				continue
			}
			fp, err := r.files()
			r.mu.Lock()
			same := err == nil && fp == r.fingerprint
			r.mu.Unlock()
			if !same {
				r.reloadAndLog("files changed")
			}
		}
	}
}

func (r *Reloader) reloadAndLog(why string) {
	if _, err := r.Reload(); err != nil {
		r.Log.WithField("reason", why).WithError(err).Error("flows not reloaded: keeping version " + r.Current().Version)
	}
}

// files fingerprints the *.yaml files of both directories by name, size
// and modification time: cheap enough to poll.
func (r *Reloader) files() (string, error) {
	h := sha256.New()
	for _, dir := range []string{r.FlowDir, r.PromptDir} {
		if dir == "" {
			continue
		}
		names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			return "", err
		}
		sort.Strings(names)
		for _, n := range names {
			fi, err := os.Stat(n)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s\x00%d\x00%d\x00", n, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
