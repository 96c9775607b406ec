//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package broker

// lockStoreDir is a no-op on platforms without flock: there, running two
// brokers on one StoreDir is not detected.
func lockStoreDir(dir string) (func() error, error) {
	return func() error { return nil }, nil
}
