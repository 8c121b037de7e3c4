package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/api"
	"github.com/unsubivr/unsubivr/flows"
	"github.com/unsubivr/unsubivr/ivr"
	"github.com/unsubivr/unsubivr/metrics"
	"github.com/unsubivr/unsubivr/outbox"
)

// serveCmd runs the ARI application with its HTTP side (/healthz, /metrics).
type serveCmd struct {
	store    storeFlags
	flow     flowFlags
	ari      ivr.Config
	lang     string
	listen   string
	logLevel string
	api      api.Config
	outbox   outbox.Config
	secret   string
}

func (c *serveCmd) flags(fs *flag.FlagSet, e env) {
	c.store.register(fs, e)
	c.flow.register(fs, e)
	c.ari = ivr.DefaultConfig()
	fs.StringVar(&c.ari.URL, "ari-url", envOr(e, "UNSUB_ARI_URL", c.ari.URL), "ARI REST root (env UNSUB_ARI_URL)")
	fs.StringVar(&c.ari.WebsocketURL, "ari-ws", envOr(e, "UNSUB_ARI_WS", ""), "ARI events websocket; default derived from --ari-url (env UNSUB_ARI_WS)")
	fs.StringVar(&c.ari.User, "ari-user", envOr(e, "UNSUB_ARI_USER", ""), "ARI user from ari.conf (env UNSUB_ARI_USER)")
	fs.StringVar(&c.ari.Password, "ari-password", envOr(e, "UNSUB_ARI_PASSWORD", ""), "ARI password (env UNSUB_ARI_PASSWORD; prefer the environment)")
	fs.StringVar(&c.ari.App, "app", envOr(e, "UNSUB_ARI_APP", c.ari.App), "Stasis application name (env UNSUB_ARI_APP)")
	fs.StringVar(&c.ari.SoundPrefix, "sound-prefix", envOr(e, "UNSUB_SOUND_PREFIX", c.ari.SoundPrefix), "media URI prefix of prompt audio (env UNSUB_SOUND_PREFIX)")
	fs.StringVar(&c.ari.AgentContext, "agent-context", envOr(e, "UNSUB_AGENT_CONTEXT", c.ari.AgentContext), "dialplan context of the agent destination (env UNSUB_AGENT_CONTEXT)")
	fs.StringVar(&c.ari.AgentExten, "agent-exten", envOr(e, "UNSUB_AGENT_EXTEN", c.ari.AgentExten), "dialplan extension of the agent destination (env UNSUB_AGENT_EXTEN)")
	fs.DurationVar(&c.ari.ShutdownGrace, "grace", envDuration(e, "UNSUB_SHUTDOWN_GRACE", c.ari.ShutdownGrace), "on SIGTERM, how long active calls may go on (env UNSUB_SHUTDOWN_GRACE)")
	fs.StringVar(&c.lang, "lang", envOr(e, "UNSUB_LANG", string(unsubivr.ZhCN)), "default prompt language (env UNSUB_LANG)")
	fs.StringVar(&c.listen, "http", envOr(e, "UNSUB_HTTP", "127.0.0.1:8090"), "listen address for /healthz and /metrics (env UNSUB_HTTP; empty to disable)")
	fs.StringVar(&c.outbox.ProvisioningURL, "provisioning-url", envOr(e, "UNSUB_PROVISIONING_URL", ""), "webhook receiving unsubscribe events (env UNSUB_PROVISIONING_URL; set with --sms-url, or neither: events wait)")
	fs.StringVar(&c.outbox.SMSURL, "sms-url", envOr(e, "UNSUB_SMS_URL", ""), "SMS gateway receiving confirmation SMS (env UNSUB_SMS_URL)")
	fs.StringVar(&c.secret, "outbox-secret", envOr(e, "UNSUB_OUTBOX_SECRET", ""), "HMAC-SHA256 key signing webhook requests, 16+ bytes (env UNSUB_OUTBOX_SECRET; prefer the environment)")
	fs.StringVar(&c.api.Token, "api-token", envOr(e, "UNSUB_API_TOKEN", ""), "bearer token of the HTTP API and SMS webhook under /v1/ (env UNSUB_API_TOKEN; prefer the environment)")
	fs.BoolVar(&c.api.Disabled, "api-disabled", envBool(e, "UNSUB_API_DISABLED"), "run without the HTTP API and SMS webhook (env UNSUB_API_DISABLED)")
	fs.StringVar(&c.logLevel, "log-level", envOr(e, "UNSUB_LOG_LEVEL", "info"), "debug, info, warn or error (env UNSUB_LOG_LEVEL)")
}

func envDuration(e env, key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(e.getenv(key)); err == nil {
		return d
	}
	return def
}

// validate names the first bad setting.
func (c *serveCmd) validate() error {
	if c.ari.User == "" || c.ari.Password == "" {
		return usagef("serve: ARI credentials missing: set --ari-user/--ari-password or UNSUB_ARI_USER/UNSUB_ARI_PASSWORD (the sandbox keeps them in var/asterisk/secrets.env)")
	}
	if err := c.ari.Validate(); err != nil {
		return usagef("serve: %v", err)
	}
	if !unsubivr.Language(c.lang).Valid() {
		return usagef("serve: --lang %q: want one of %v", c.lang, unsubivr.Languages)
	}
	c.outbox.Secret = []byte(c.secret)
	if err := c.outbox.Validate(); err != nil {
		return usagef("serve: %v (--provisioning-url, --sms-url, --outbox-secret)", err)
	}
	if err := c.api.Validate(); err != nil {
		return usagef("serve: %v", err)
	}
	if _, err := logrus.ParseLevel(c.logLevel); err != nil {
		return usagef("serve: --log-level %q: want debug, info, warn or error", c.logLevel)
	}
	return nil
}

func (c *serveCmd) Run(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("serve")
	c.flags(fs, e)
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve: unexpected argument %q", fs.Arg(0))
	}
	if err := c.validate(); err != nil {
		return err
	}
	log := logrus.New()
	log.Out = e.stderr
	log.Formatter = &logrus.JSONFormatter{}
	log.Level, _ = logrus.ParseLevel(c.logLevel)

	flowsrc, err := flows.NewReloader(c.flow.flowDir, c.flow.promptDir, log)
	if err != nil {
		return err
	}
	// SIGHUP, or a change in the flow or prompt files, reloads them; calls
	// in progress finish on the version they started with.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go flowsrc.Watch(ctx, 2*time.Second, hup)
	d, err := c.store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	disp := outbox.New(d, c.outbox, log, reg)
	dctx, dcancel := context.WithCancel(context.Background()) // outlives ctx: delivers what calls finishing in the grace period cancel
	dispDone := make(chan error, 1)
	go func() { dispDone <- disp.Run(dctx) }()
	defer func() { dcancel(); <-dispDone }() // runs before the deferred d.Close above
	store := outbox.Notifying(metrics.NewStore(d, reg), disp)
	engine := &flows.Engine{Store: store, Log: log, Language: unsubivr.Language(c.lang)}
	apiHandler, err := api.New(c.api, api.Join(store, d), log)
	if err != nil {
		return usagef("serve: %v", err)
	}
	srv := &ivr.Server{
		Config:  c.ari,
		Log:     log,
		Metrics: ivr.NewMetrics(reg),
		Handler: func(ctx context.Context, call flows.Call, st flows.Start) string {
			clog, err := engine.Run(ctx, flowsrc.Current(), call, st)
			if err != nil {
				log.WithError(err).WithField("call_id", call.ID()).Error("call could not start")
				return flows.OutcomeFailed
			}
			return clog.Outcome
		},
	}
	// Wrong credentials or a bad URL fail now, in one line; an Asterisk
	// that is not up yet is waited for by Run, with backoff.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = srv.Check(cctx)
	cancel()
	switch {
	case errors.Is(err, ivr.ErrUnauthorized):
		return err
	case err != nil:
		log.WithError(err).Warn("Asterisk not reachable yet; retrying with backoff")
	}

	if c.listen != "" {
		ln, err := net.Listen("tcp", c.listen)
		if err != nil {
			return fmt.Errorf("serve: --http %s: %w", c.listen, err)
		}
		hs := &http.Server{Handler: c.mux(srv, d, reg, flowsrc, apiHandler), ReadHeaderTimeout: 5 * time.Second}
		go hs.Serve(ln)
		defer func() { // let API requests in flight finish before the database closes
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			hs.Shutdown(sctx)
		}()
		log.WithField("addr", ln.Addr().String()).Info("HTTP listening: /healthz /metrics")
	}
	log.WithFields(logrus.Fields{"app": c.ari.App, "ari": c.ari.URL, "db": c.store.path, "flow_version": flowsrc.Current().Version}).Info("unsubivr serving")
	return srv.Run(ctx)
}

// pinger is what /healthz asks of the database.
type pinger interface{ Ping(context.Context) error }

func (c *serveCmd) mux(srv *ivr.Server, d any, reg *prometheus.Registry, fl *flows.Reloader, apiHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", apiHandler) // the HTTP API and SMS webhook (docs/api.md)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status := map[string]any{"flow_version": fl.Current().Version, "active_calls": srv.Active()}
		code := http.StatusOK
		if err := srv.Check(ctx); err != nil {
			status["ari"] = err.Error()
			code = http.StatusServiceUnavailable
		} else {
			status["ari"] = "ok"
		}
		if p, ok := d.(pinger); ok {
			if err := p.Ping(ctx); err != nil {
				status["db"] = err.Error()
				code = http.StatusServiceUnavailable
			} else {
				status["db"] = "ok"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(status)
	})
	return mux
}
