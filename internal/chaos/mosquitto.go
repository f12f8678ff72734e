package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// mosquitto is the external broker of Options.Broker "external": a Mosquitto the runner
// starts on a fixed free loopback port and restarts itself, with a password file and the
// contract's ACL (docs/mqtt.md), so terminals and head-end log in as they do in production.
type mosquitto struct {
	addr string // host:port, the same across restarts
	p    *proc
}

// mosquittoBins finds the broker and its password tool: bin, or "mosquitto" on PATH, and
// mosquitto_passwd beside it or on PATH.
func mosquittoBins(bin string) (broker, passwd string, err error) {
	if bin == "" {
		bin = "mosquitto"
	}
	if broker, err = exec.LookPath(bin); err != nil {
		return "", "", fmt.Errorf("external broker: %w", err)
	}
	passwd = filepath.Join(filepath.Dir(broker), "mosquitto_passwd")
	if _, err := os.Stat(passwd); err != nil {
		if passwd, err = exec.LookPath("mosquitto_passwd"); err != nil {
			return "", "", fmt.Errorf("external broker: %w", err)
		}
	}
	return broker, passwd, nil
}

// newMosquitto writes the broker's password file, ACL and configuration into dir/mosquitto;
// users maps login to password. persistence keeps sessions, queued QoS 1 messages and
// retained messages in dir/mosquitto/data across restarts, as a production broker would —
// as far as its last autosave (every second): a SIGKILL loses what came after it.
func newMosquitto(dir, bin string, users map[string]string, persistence bool) (*mosquitto, error) {
	broker, passwd, err := mosquittoBins(bin)
	if err != nil {
		return nil, err
	}
	mdir := filepath.Join(dir, "mosquitto")
	if err := os.MkdirAll(filepath.Join(mdir, "data"), 0o700); err != nil {
		return nil, err
	}
	pwfile := filepath.Join(mdir, "passwd")
	os.Remove(pwfile) // a reused work directory: start from the users given
	for u, pw := range users {
		args := []string{"-b", pwfile, u, pw}
		if _, err := os.Stat(pwfile); err != nil {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(passwd, args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("mosquitto_passwd %s: %w: %s", u, err, out)
		}
	}
	// The contract's ACL (docs/mqtt.md): the head-end's service login reads and writes the
	// whole tree; every terminal writes only its up tree and reads only its down tree.
	acl := filepath.Join(mdir, "acl")
	if err := os.WriteFile(acl, []byte("user headend\ntopic readwrite gridmeter/v1/#\n\n"+
		"pattern write gridmeter/v1/%u/up/#\npattern read gridmeter/v1/%u/down/#\n"), 0o600); err != nil {
		return nil, err
	}
	// A free ephemeral port, kept for every restart (never 1883: the machine's own broker).
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	var conf strings.Builder
	if os.Geteuid() == 0 {
		// Started as root, Mosquitto switches to its own user, which may not enter our
		// 0700 work directory; "root" tells it to stay.
		conf.WriteString("user root\n")
	}
	fmt.Fprintf(&conf, "per_listener_settings false\nallow_anonymous false\npassword_file %s\nacl_file %s\n", pwfile, acl)
	if persistence {
		fmt.Fprintf(&conf, "persistence true\npersistence_location %s%c\nautosave_interval 1\n", filepath.Join(mdir, "data"), filepath.Separator)
	} else {
		conf.WriteString("persistence false\n")
	}
	fmt.Fprintf(&conf, "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlistener %s 127.0.0.1\n", port)
	path := filepath.Join(mdir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		return nil, err
	}
	return &mosquitto{addr: addr, p: newProc("mosquitto", broker, dir, "-c", path)}, nil
}

// start starts the broker and waits until it accepts connections on its port.
func (m *mosquitto) start(ctx context.Context) error {
	if err := m.p.start(); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", m.addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.p.done:
			return fmt.Errorf("mosquitto exited before it listened on %s (see %s)", m.addr, m.p.logPath)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("mosquitto not listening on %s within 30 s (see %s)", m.addr, m.p.logPath)
}
