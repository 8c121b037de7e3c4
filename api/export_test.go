package api

import "time"

// SetReplayWait sets how long a retry waits for a running request with its
// key, for handlers made by New from now on, and returns the undo.
func SetReplayWait(d time.Duration) (undo func()) {
	old := replayWait
	replayWait = d
	return func() { replayWait = old }
}
