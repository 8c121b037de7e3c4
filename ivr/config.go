package ivr

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config says how to reach Asterisk's ARI and how calls leave the
// application. DefaultConfig fills in everything but the password.
type Config struct {
	// URL is ARI's REST root, e.g. http://127.0.0.1:8088/ari.
	URL string
	// WebsocketURL is ARI's event stream; "" derives it from URL
	// (http→ws, https→wss, + "/events").
	WebsocketURL string
	// User and Password are an ari.conf user.
	User, Password string
	// App is the Stasis application name the dialplan uses: Stasis(unsub-ivr).
	App string

	// SoundPrefix turns a flows.Clip's File into a media URI: with
	// "sound:unsubivr/", Clip{File: "zh-CN/welcome"} plays
	// sound:unsubivr/zh-CN/welcome.
	SoundPrefix string

	// AgentContext and AgentExten are where a transfer to the agent
	// (flows.Transfer with Destination "agent") continues in the dialplan,
	// at priority 1.
	AgentContext, AgentExten string

	// ShutdownGrace is how long Run, once its context is cancelled, lets
	// active calls go on before hanging them up.
	ShutdownGrace time.Duration
}

// DefaultConfig returns the configuration of the sandbox Asterisk, without
// a password.
func DefaultConfig() Config {
	return Config{
		URL:           "http://127.0.0.1:8088/ari",
		User:          "unsubivr",
		App:           "unsub-ivr",
		SoundPrefix:   "sound:unsubivr/",
		AgentContext:  "unsub-agent",
		AgentExten:    "agent",
		ShutdownGrace: 30 * time.Second,
	}
}

// Validate reports the first field that is missing or malformed.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("ivr: config: URL is empty")
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("ivr: config: URL %q: want http(s)://host:port/ari", c.URL)
	}
	if c.WebsocketURL != "" {
		if u, err := url.Parse(c.WebsocketURL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return fmt.Errorf("ivr: config: WebsocketURL %q: want ws(s)://host:port/ari/events", c.WebsocketURL)
		}
	}
	switch {
	case c.User == "":
		return errors.New("ivr: config: User is empty")
	case c.Password == "":
		return errors.New("ivr: config: Password is empty")
	case c.App == "":
		return errors.New("ivr: config: App is empty")
	case strings.ContainsAny(c.App, ",()| "):
		return fmt.Errorf("ivr: config: App %q: no commas, brackets, bars or spaces", c.App)
	case c.SoundPrefix == "":
		return errors.New("ivr: config: SoundPrefix is empty")
	case c.AgentContext == "" || c.AgentExten == "":
		return errors.New("ivr: config: AgentContext and AgentExten are required")
	case c.ShutdownGrace < 0:
		return errors.New("ivr: config: ShutdownGrace is negative")
	}
	return nil
}

// websocketURL returns WebsocketURL or the one derived from URL.
func (c Config) websocketURL() string {
	if c.WebsocketURL != "" {
		return c.WebsocketURL
	}
	u := strings.TrimSuffix(c.URL, "/")
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	}
	return u + "/events"
}
