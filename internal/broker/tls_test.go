package broker

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"gridmeter/internal/config"
	"gridmeter/internal/testpki"
	"gridmeter/internal/transport"
)

func TestTLSClientCertificates(t *testing.T) {
	ca := testpki.New(t)
	scert, skey := ca.Server("broker")
	stls, err := (&config.ServerTLS{CertFile: scert, KeyFile: skey, ClientCAFile: ca.CAFile}).Config()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := Start(ctx, Options{Listen: "127.0.0.1:0", TLS: stls, Credentials: []Credential{
		{Username: "T1", SecretHash: HashSecret("s1"), Terminal: "T1"},
		{Username: "T2", SecretHash: HashSecret("s2"), Terminal: "T2"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	clientTLS := func(cn string) *tls.Config {
		c := config.ClientTLS{CAFile: ca.CAFile}
		if cn != "" {
			c.CertFile, c.KeyFile = ca.Client(cn)
		}
		cfg, err := c.Config()
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	connect := func(id, pw string, tc *tls.Config, scheme string) bool {
		c, err := transport.Dial(context.Background(), transport.Config{URL: scheme + b.Addr().String(), TLS: tc, ClientID: id, Username: id, Password: pw, CleanStart: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		actx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.AwaitConnection(actx) == nil
	}
	if !connect("T1", "s1", clientTLS("T1"), "tls://") {
		t.Fatal("T1 with its own certificate and secret did not connect")
	}
	before, _ := b.Refused()
	if connect("T1", "s1", clientTLS("T2"), "tls://") {
		t.Fatal("T1 connected with T2's certificate")
	}
	if after, _ := b.Refused(); after <= before {
		t.Fatal("certificate/username mismatch not counted as a refused login")
	}
	if connect("T1", "s1", clientTLS(""), "tls://") {
		t.Fatal("connected without a client certificate")
	}
	if connect("T1", "s1", nil, "mqtt://") {
		t.Fatal("plain MQTT accepted on the TLS listener")
	}
}
