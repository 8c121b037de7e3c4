// Package ivr is the Asterisk adapter of the hotline: an ARI application
// on CyCoreSystems/ari/v5 (native client for REST, ext/play for prompts)
// that runs every channel entering Stasis(App) through a Handler, usually
// the flow engine, as a flows.Call.
//
// A Server keeps one websocket to ARI (reconnecting with backoff), starts
// one goroutine per StasisStart, and routes each event to its call through
// per-call unbounded queues (router.go says why stdbus is not used).
// Stasis arguments choose where a call enters the flow (ParseArgs,
// docs/stasis.md). Prompts, barge-in and digit collection run on ext/play;
// prompt.go lists the ext/play defects worked around. Transfer continues
// the channel in the dialplan with UNSUB_* channel variables. On shutdown
// new calls go back to the dialplan, active ones get a grace period.
//
// Typical use:
//
//	srv := &ivr.Server{Config: cfg, Log: log, Metrics: ivr.NewMetrics(reg),
//		Handler: func(ctx context.Context, call flows.Call, st flows.Start) string {
//			clog, err := engine.Run(ctx, bundle, call, st)
//			if err != nil {
//				return flows.OutcomeFailed
//			}
//			return clog.Outcome
//		}}
//	if err := srv.Check(ctx); errors.Is(err, ivr.ErrUnauthorized) { ... }
//	err := srv.Run(ctx) // until ctx is cancelled (SIGTERM), then drains
package ivr
