package catalog

import (
	"net"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// NewTLSTransport exposes the mutual-TLS Raft transport to the tests of
// package catalog_test.
func NewTLSTransport(t TLSConfig, bind string) (*raft.NetworkTransport, error) {
	adv, err := net.ResolveTCPAddr("tcp", bind)
	if err != nil {
		return nil, err
	}
	if adv.Port == 0 {
		adv = nil
	}
	return newTLSTransport(t, bind, adv, hclog.NewNullLogger())
}
