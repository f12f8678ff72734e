//go:build linux

package serialbus

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// ptsDir is where devpts names the slave of master number N (ptsname(3) on Linux).
const ptsDir = "/dev/pts/"

// openPTY opens a pty master (posix_openpt), unlocks its slave (unlockpt: TIOCSPTLCK
// 0), finds its name (ptsname: TIOCGPTN) and opens the slave in raw mode. grantpt(3) has
// nothing to do on devpts, which creates the slave owned by the caller. The master is
// non-blocking so that the runtime's poller serves it: Close interrupts a blocked Read.
func openPTY() (master, slave *os.File, path string, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, "", fmt.Errorf("/dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	fail := func(err error) (*os.File, *os.File, string, error) {
		master.Close()
		return nil, nil, "", err
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(fmt.Errorf("unlockpt: %w", err))
	}
	n, err := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	if err != nil {
		return fail(fmt.Errorf("ptsname: %w", err))
	}
	path = ptsDir + strconv.FormatUint(uint64(n), 10)
	sfd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	if err := makeRaw(sfd); err != nil {
		unix.Close(sfd)
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	return master, os.NewFile(uintptr(sfd), path), path, nil
}

// makeRaw sets the terminal at fd to raw mode, as cfmakeraw(3) does: no echo, no line
// editing, no translation of CR and NL, no flow control characters, 8-bit characters.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// fineSleep sleeps d in a blocking nanosleep(2), which ends within tens of microseconds
// of d where the runtime's timers may take a millisecond more. It holds its thread, so it
// is only for the last moments of a wait.
func fineSleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}
