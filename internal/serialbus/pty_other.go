//go:build !linux

package serialbus

import (
	"errors"
	"os"
	"time"
)

func openPTY() (master, slave *os.File, path string, err error) {
	return nil, nil, "", errors.New("pseudo-terminals are supported on Linux only")
}

func fineSleep(d time.Duration) { time.Sleep(d) }
