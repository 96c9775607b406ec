//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFileName is the lock file Start creates in Config.StoreDir.
const lockFileName = ".pcs-broker.lock"

// lockStoreDir takes an exclusive, non-blocking flock on a file in dir. The
// lock belongs to the open file, so a second Broker in the same process is
// refused as well as one in another process; the kernel drops it if the
// process dies. The returned func releases it.
func lockStoreDir(dir string) (func() error, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("%w: open lock file: %v", ErrStartFailed, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrStoreLocked, dir)
		}
		return nil, fmt.Errorf("%w: lock %s: %v", ErrStartFailed, path, err)
	}
	return func() error {
		// Closing the file releases the flock.
		return f.Close()
	}, nil
}
