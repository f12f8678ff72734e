package broker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gridmeter/internal/message"
	"gridmeter/internal/transport"
)

func startBroker(t *testing.T) *Broker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b, err := Start(ctx, Options{Listen: "127.0.0.1:0", Credentials: []Credential{
		{Username: "headend", SecretHash: HashSecret("hs")},
		{Username: "T1", SecretHash: HashSecret("s1"), Terminal: "T1"},
		{Username: "T2", SecretHash: HashSecret("s2"), Terminal: "T2"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

type inbox struct {
	mu   sync.Mutex
	msgs map[string][]string
}

func (in *inbox) add(topic string, p []byte) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.msgs == nil {
		in.msgs = map[string][]string{}
	}
	in.msgs[topic] = append(in.msgs[topic], string(p))
}

func (in *inbox) get(topic string) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.msgs[topic]...)
}

func dial(t *testing.T, b *Broker, id, user, pw string, subs []string, in *inbox) *transport.Conn {
	t.Helper()
	var ss []transport.Subscription
	for _, s := range subs {
		ss = append(ss, transport.Subscription{Filter: s, QoS: 1})
	}
	c, err := transport.Dial(context.Background(), transport.Config{
		URL: "mqtt://" + b.Addr().String(), ClientID: id, Username: user, Password: pw, CleanStart: true,
		Subscriptions: ss, OnMessage: func(topic string, p []byte) {
			if in != nil {
				in.add(topic, p)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func awaitConn(t *testing.T, c *transport.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.AwaitConnection(ctx); err != nil {
		t.Fatalf("no connection: %v", err)
	}
}

func TestTerminalACL(t *testing.T) {
	b := startBroker(t)
	var hin, t2in inbox
	he := dial(t, b, "headend-1", "headend", "hs", []string{message.AllTerminals(message.UpReadings)}, &hin)
	t1 := dial(t, b, "T1", "T1", "s1", []string{message.DownTree("T1"), message.DownTree("T2")}, nil)
	t2 := dial(t, b, "T2", "T2", "s2", []string{message.DownTree("T2")}, &t2in)
	for _, c := range []*transport.Conn{he, t1, t2} {
		awaitConn(t, c)
	}
	ctx := context.Background()

	// T1 may publish in its own up tree.
	if err := t1.Publish(ctx, transport.Message{Topic: message.Topic("T1", message.UpReadings), Payload: []byte("own"), QoS: 1}); err != nil {
		t.Fatalf("own up tree refused: %v", err)
	}
	// T1 may not publish as T2, nor into a down tree.
	for _, topic := range []string{message.Topic("T2", message.UpReadings), message.Topic("T2", message.DownAck), message.Topic("T1", message.DownAck), "other/topic"} {
		err := t1.Publish(ctx, transport.Message{Topic: topic, Payload: []byte("forged"), QoS: 1})
		var re *transport.RefusedError
		if !errors.As(err, &re) || re.Code != 0x87 {
			t.Errorf("T1 publishing to %s: got %v, want a not-authorised (0x87) refusal", topic, err)
		}
	}
	// The head-end (service login) may publish in T2's down tree, which T2 receives.
	if err := he.Publish(ctx, transport.Message{Topic: message.Topic("T2", message.DownAck), Payload: []byte("ack"), QoS: 1}); err != nil {
		t.Fatalf("head-end publish: %v", err)
	}
	waitFor(t, func() bool { return len(t2in.get(message.Topic("T2", message.DownAck))) == 1 }, "T2 to receive its ack")
	waitFor(t, func() bool { return len(hin.get(message.Topic("T1", message.UpReadings))) == 1 }, "head-end to receive T1's reading")
	if got := hin.get(message.Topic("T2", message.UpReadings)); len(got) != 0 {
		t.Fatalf("forged T2 readings reached the head-end: %q", got)
	}
	if _, acl := b.Refused(); acl < 4 {
		t.Fatalf("ACL denials counted %d, want at least 4", acl)
	}
}

func TestLoginRefused(t *testing.T) {
	b := startBroker(t)
	tests := []struct{ name, id, user, pw string }{
		{"wrong secret", "T1", "T1", "nope"},
		{"unknown user", "T9", "T9", "s1"},
		{"client id of another terminal", "T2", "T1", "s1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := b.Refused()
			c := dial(t, b, tt.id, tt.user, tt.pw, nil, nil)
			waitFor(t, func() bool { l, _ := b.Refused(); return l > before }, "the login to be refused")
			if c.Connected() {
				t.Fatal("connected with bad credentials")
			}
		})
	}
}

func TestStartRefusesOpenBroker(t *testing.T) {
	if _, err := Start(context.Background(), Options{Listen: "127.0.0.1:0"}); err == nil {
		t.Fatal("broker without credentials started")
	}
	_, err := Start(context.Background(), Options{Listen: "127.0.0.1:0", Credentials: []Credential{{Username: "x", SecretHash: "abc"}}})
	if err == nil || !strings.Contains(err.Error(), "64 hex digits") {
		t.Fatalf("bad hash: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
