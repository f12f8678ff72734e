// Package transport is gridmeter's MQTT client: a small wrapper around paho.golang's
// autopaho (MQTT 5) that reconnects by itself, re-subscribes on every connection, and
// reports each new connection so callers can resend what was not acknowledged.
//
// It is the only package of ours that imports an MQTT client library. The terminal's uplink
// and the head-end's ingest both use it, against the embedded broker or an external one.
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// Message is a will or a publication.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// Subscription is a topic filter with its QoS.
type Subscription struct {
	Filter string
	QoS    byte
}

// Config configures a connection.
type Config struct {
	URL      string // mqtt://host:port, or tls://host:port (mqtts:// and ssl:// accepted)
	TLS      *tls.Config
	ClientID string
	Username string
	Password string
	// CleanStart false with a SessionExpiry keeps the session (subscriptions and in-flight
	// QoS 1 messages) across reconnects.
	CleanStart    bool
	SessionExpiry time.Duration
	KeepAlive     time.Duration // default 30 s
	Will          *Message
	Subscriptions []Subscription
	// OnMessage is called on the client's reader goroutine for every message received:
	// it must not block for long and must not Publish synchronously (hand the work off).
	OnMessage func(topic string, payload []byte)
	// OnUp is called in its own goroutine after every (re)connection and subscription.
	OnUp   func(ctx context.Context)
	Logger *slog.Logger
}

// ErrNotConnected is returned by Publish while there is no connection.
var ErrNotConnected = errors.New("mqtt: not connected")

// Conn is a self-healing MQTT connection. Its goroutines stop when the context passed to
// Dial is cancelled or Close is called.
type Conn struct {
	cm         *autopaho.ConnectionManager
	cfg        Config
	log        *slog.Logger
	generation atomic.Uint64
	connected  atomic.Bool
	closeOnce  sync.Once
	cancel     context.CancelFunc
}

// Dial validates the configuration and starts connecting in the background; use
// AwaitConnection to wait for the first connection.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("mqtt url %q: %w", cfg.URL, err)
	}
	switch u.Scheme {
	case "mqtt", "tcp":
		u.Scheme = "mqtt"
	case "tls", "mqtts", "ssl":
		u.Scheme = "tls"
	default:
		return nil, fmt.Errorf("mqtt url %q: scheme %q: want mqtt:// or tls://", cfg.URL, u.Scheme)
	}
	if u.Host == "" || u.Port() == "" {
		return nil, fmt.Errorf("mqtt url %q: want host:port", cfg.URL)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("mqtt: client id: empty")
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("mqtt_client", cfg.ClientID)
	ctx, cancel := context.WithCancel(ctx)
	c := &Conn{cfg: cfg, log: log, cancel: cancel}

	ac := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        cfg.TLS,
		KeepAlive:                     uint16(cfg.KeepAlive / time.Second),
		CleanStartOnInitialConnection: cfg.CleanStart,
		SessionExpiryInterval:         uint32(cfg.SessionExpiry / time.Second),
		ReconnectBackoff:              backoff(200*time.Millisecond, 10*time.Second),
		ConnectTimeout:                10 * time.Second,
		ConnectUsername:               cfg.Username,
		ConnectPassword:               []byte(cfg.Password),
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			go c.up(ctx, cm)
		},
		OnConnectionDown: func() bool {
			c.connected.Store(false)
			log.Info("mqtt connection down")
			return true
		},
		OnConnectError: func(err error) {
			log.Warn("mqtt connect failed", "err", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID: cfg.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					if cfg.OnMessage != nil {
						cfg.OnMessage(pr.Packet.Topic, pr.Packet.Payload)
					}
					return true, nil
				},
			},
			OnClientError: func(err error) { log.Warn("mqtt client error", "err", err) },
		},
	}
	if cfg.Will != nil {
		ac.WillMessage = &paho.WillMessage{Topic: cfg.Will.Topic, Payload: cfg.Will.Payload, QoS: cfg.Will.QoS, Retain: cfg.Will.Retain}
	}
	cm, err := autopaho.NewConnection(ctx, ac)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("mqtt %s: %w", cfg.URL, err)
	}
	c.cm = cm
	return c, nil
}

// backoff grows the reconnect delay from min to max.
func backoff(first, limit time.Duration) func(int) time.Duration {
	return func(attempt int) time.Duration {
		d := first
		for i := 0; i < attempt && d < limit; i++ {
			d *= 2
		}
		return min(d, limit)
	}
}

func (c *Conn) up(ctx context.Context, cm *autopaho.ConnectionManager) {
	if len(c.cfg.Subscriptions) > 0 {
		sub := &paho.Subscribe{}
		for _, s := range c.cfg.Subscriptions {
			sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{Topic: s.Filter, QoS: s.QoS})
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ack, err := cm.Subscribe(sctx, sub)
		cancel()
		if ack == nil {
			// No SUBACK at all: the connection is failing; autopaho reconnects and we retry.
			c.log.Warn("mqtt subscribe failed", "err", err)
			return
		}
		// A SUBACK refusing some filters (ACL) leaves the others working: say which.
		for i, rc := range ack.Reasons {
			if rc >= 0x80 && i < len(c.cfg.Subscriptions) {
				c.log.Error("mqtt subscription refused by the broker", "filter", c.cfg.Subscriptions[i].Filter, "reason", fmt.Sprintf("%#x", rc))
			}
		}
	}
	c.generation.Add(1)
	c.connected.Store(true)
	c.log.Info("mqtt connected")
	if c.cfg.OnUp != nil {
		c.cfg.OnUp(ctx)
	}
}

// Generation counts the connections made so far (including the first); a caller that sees
// it change knows a reconnect happened.
func (c *Conn) Generation() uint64 { return c.generation.Load() }

// Connected reports whether a connection is up and subscribed.
func (c *Conn) Connected() bool { return c.connected.Load() }

// AwaitConnection waits for a connection.
func (c *Conn) AwaitConnection(ctx context.Context) error {
	for {
		if err := c.cm.AwaitConnection(ctx); err != nil {
			return err
		}
		if c.Connected() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Publish sends m and, for QoS 1, waits for the broker's PUBACK; a negative reason code (for
// example 0x87 not authorised) is an error.
func (c *Conn) Publish(ctx context.Context, m Message) error {
	resp, err := c.cm.Publish(ctx, &paho.Publish{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain})
	if resp != nil && resp.ReasonCode >= 0x80 {
		return &RefusedError{Topic: m.Topic, Code: resp.ReasonCode}
	}
	if err != nil {
		if errors.Is(err, autopaho.ConnectionDownError) {
			return fmt.Errorf("publish %s: %w", m.Topic, ErrNotConnected)
		}
		return fmt.Errorf("publish %s: %w", m.Topic, err)
	}
	return nil
}

// RefusedError is a publication the broker refused with an MQTT 5 reason code (0x87: not
// authorised, 0x97: quota exceeded, ...).
type RefusedError struct {
	Topic string
	Code  byte
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("publish %s: broker refused with reason code %#x", e.Topic, e.Code)
}

// PublishQueued hands m to the client's in-memory queue and returns at once; the client
// delivers it when connected. Use it where the caller must not block (inside OnMessage
// hand-offs); the contract tolerates its loss (acks are re-derived from resends).
func (c *Conn) PublishQueued(ctx context.Context, m Message) error {
	return c.cm.PublishViaQueue(ctx, &autopaho.QueuePublish{Publish: &paho.Publish{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain}})
}

// Close disconnects cleanly (no last will is sent) and stops the client's goroutines.
func (c *Conn) Close(ctx context.Context) error {
	var err error
	c.closeOnce.Do(func() {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		err = c.cm.Disconnect(dctx)
		c.cancel()
		select {
		case <-c.cm.Done():
		case <-dctx.Done():
		}
	})
	return err
}

// Done is closed when the client has stopped.
func (c *Conn) Done() <-chan struct{} { return c.cm.Done() }
