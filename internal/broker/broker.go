// Package broker embeds an MQTT broker (mochi-mqtt) in the head-end, with the contract's
// security: every client authenticates, a terminal may publish only in its own up-link tree
// and subscribe only to its own down-link tree, and its client id must be its terminal id
// (so no client can take over another terminal's session). Service clients (the head-end's
// own ingest) may use the whole contract tree.
//
// The rest of the head-end never sees mochi: it connects to the broker like to an external
// one (Mosquitto, EMQX), which keeps the two deployments on one code path and lets the
// broker be swapped.
package broker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"gridmeter/internal/message"
)

// Credential is one client's login. Secret holds the SHA-256 (hex) of the client's
// password: client secrets are random tokens of full entropy, so a fast hash is enough and
// keeps reconnect storms cheap; never configure a human-chosen password here.
type Credential struct {
	Username   string
	SecretHash string // hex SHA-256 of the password
	// Terminal is the terminal id this login belongs to; empty for a service client.
	Terminal string
}

// HashSecret returns the hex SHA-256 of a client secret, as Credential.SecretHash wants it.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Options configure the broker.
type Options struct {
	Listen      string      // TCP address, e.g. "127.0.0.1:18830"; port 0 picks a free port
	TLS         *tls.Config // nil: plain TCP (local demo and tests only)
	Credentials []Credential
	Logger      *slog.Logger
}

// Broker is a running embedded broker.
type Broker struct {
	srv       *mqtt.Server
	addr      net.Addr
	hook      *authHook
	closeOnce sync.Once
	closeErr  error
}

// Start validates the options, listens and serves until ctx is cancelled or Close is called.
func Start(ctx context.Context, opt Options) (*Broker, error) {
	if len(opt.Credentials) == 0 {
		return nil, errors.New("broker: no credentials configured: refusing to run an open broker")
	}
	users := make(map[string]Credential, len(opt.Credentials))
	for i, c := range opt.Credentials {
		if c.Username == "" {
			return nil, fmt.Errorf("broker: credentials[%d]: username: empty", i)
		}
		if _, err := hex.DecodeString(c.SecretHash); err != nil || len(c.SecretHash) != 64 {
			return nil, fmt.Errorf("broker: credentials[%d] %q: secret hash: want 64 hex digits of SHA-256", i, c.Username)
		}
		if _, dup := users[c.Username]; dup {
			return nil, fmt.Errorf("broker: credentials[%d]: username %q listed twice", i, c.Username)
		}
		users[c.Username] = c
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	caps := mqtt.NewDefaultServerCapabilities()
	// Bound what offline sessions may pile up in memory (see docs/architecture.md).
	caps.MaximumSessionExpiryInterval = 24 * 60 * 60
	caps.MaximumInflight = 1024
	caps.MaximumPacketSize = uint32(message.MaxPayload + 64*1024)
	caps.MaximumClientWritesPending = 4096
	// mochi logs every start, stop and closed connection at INFO/WARN; keep its warnings
	// and errors only, ours carry the security events.
	srv := mqtt.New(&mqtt.Options{Capabilities: caps, Logger: slog.New(minLevel{slog.LevelError, log.Handler()}).With("component", "broker")})
	hook := &authHook{users: users, log: log}
	if err := srv.AddHook(hook, nil); err != nil {
		return nil, fmt.Errorf("broker: add auth hook: %w", err)
	}
	ln, err := net.Listen("tcp", opt.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker: listen %s: %w", opt.Listen, err)
	}
	if opt.TLS != nil {
		ln = tls.NewListener(ln, opt.TLS)
	}
	if err := srv.AddListener(listeners.NewNet("mqtt", ln)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("broker: add listener: %w", err)
	}
	if err := srv.Serve(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("broker: serve: %w", err)
	}
	b := &Broker{srv: srv, addr: ln.Addr(), hook: hook}
	go func() {
		<-ctx.Done()
		b.Close()
	}()
	return b, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() net.Addr { return b.addr }

// Close stops the broker and disconnects every client; it may be called more than once
// (mochi's own Close may not).
func (b *Broker) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.srv.Close() })
	return b.closeErr
}

// Refused returns how many connections were refused for bad credentials or client ids, and
// how many publish/subscribe attempts the ACL denied.
func (b *Broker) Refused() (logins, acl uint64) {
	return b.hook.refusedLogins.Load(), b.hook.deniedACL.Load()
}

type authHook struct {
	mqtt.HookBase
	users         map[string]Credential
	log           *slog.Logger
	refusedLogins atomic.Uint64
	deniedACL     atomic.Uint64
}

func (h *authHook) ID() string { return "gridmeter-auth" }

func (h *authHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	c, ok := h.users[user]
	got := HashSecret(string(pk.Connect.Password))
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(c.SecretHash)) != 1 {
		h.refusedLogins.Add(1)
		h.log.Warn("broker: login refused: unknown user or wrong secret", "user", user, "remote", cl.Net.Remote)
		return false
	}
	if c.Terminal != "" && cl.ID != c.Terminal {
		h.refusedLogins.Add(1)
		h.log.Warn("broker: login refused: a terminal's client id must be its terminal id", "user", user, "client_id", cl.ID)
		return false
	}
	// A client certificate, when the TLS listener asked for one, must name the login: one
	// terminal's certificate cannot carry another terminal's secret.
	if tc, ok := cl.Net.Conn.(*tls.Conn); ok {
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 && certs[0].Subject.CommonName != user {
			h.refusedLogins.Add(1)
			h.log.Warn("broker: login refused: client certificate CN does not match the username", "user", user, "cn", certs[0].Subject.CommonName)
			return false
		}
	}
	return true
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	c, ok := h.users[string(cl.Properties.Username)]
	if !ok {
		h.deniedACL.Add(1)
		return false
	}
	if allowed(c, topic, write) {
		return true
	}
	h.deniedACL.Add(1)
	h.log.Warn("broker: ACL denied", "user", c.Username, "topic", topic, "write", write)
	return false
}

// allowed is the contract's ACL: a terminal writes only below its up tree and reads only
// below its down tree; a service client reads and writes the whole contract tree (including
// shared subscriptions of it).
func allowed(c Credential, topic string, write bool) bool {
	if c.Terminal == "" {
		t := topic
		if rest, ok := strings.CutPrefix(t, "$share/"); ok {
			if _, filter, ok := strings.Cut(rest, "/"); ok {
				t = filter
			}
		}
		return t == message.Root+"/#" || strings.HasPrefix(t, message.Root+"/")
	}
	prefix := message.Root + "/" + c.Terminal + "/down/"
	if write {
		prefix = message.Root + "/" + c.Terminal + "/up/"
	}
	if !strings.HasPrefix(topic, prefix) {
		return false
	}
	// A terminal may use wildcards only inside its own tree: "+" in the terminal position
	// is impossible here because the prefix is literal.
	return true
}

// minLevel drops records below its level.
type minLevel struct {
	min slog.Level
	slog.Handler
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.min, h.Handler.WithAttrs(as)}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.min, h.Handler.WithGroup(name)}
}
