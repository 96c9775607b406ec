package node

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// Broker connection events, the values of the event label of
// pcs_broker_connection_events_total.
const (
	connDisconnected = "disconnected"
	connReconnected  = "reconnected"
	connClosed       = "closed"
)

// watchConnection logs and counts the broker connection's changes
// (disconnected, reconnected, closed) and keeps pcs_broker_connected at 1
// while the connection is up. The handlers run on nats.go's callback
// goroutine. Every series exists at 0 from start. A closed connection
// during Close is logged at Info; otherwise at Error (nats.go gives up
// only with a reconnect limit, which pcs-node does not set).
func (n *Node) watchConnection() error {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pcs_broker_connection_events_total",
		Help: "Changes of this node's broker connection by event: disconnected, reconnected, closed."}, []string{"event"})
	connected := prometheus.NewGauge(prometheus.GaugeOpts{Name: "pcs_broker_connected",
		Help: "1 while this node's broker connection is up, else 0 (publishes and fetches wait; /readyz answers 503)."})
	for _, c := range []prometheus.Collector{events, connected} {
		if err := n.metrics.Registry().Register(c); err != nil {
			return fmt.Errorf("node: broker connection metrics: %w", err)
		}
	}
	for _, e := range []string{connDisconnected, connReconnected, connClosed} {
		events.WithLabelValues(e)
	}
	if n.nc.IsConnected() {
		connected.Set(1)
	}
	log := n.log.With("component", "broker-connection")
	n.nc.SetDisconnectErrHandler(func(nc *nats.Conn, err error) {
		connected.Set(0)
		events.WithLabelValues(connDisconnected).Inc()
		log.Warn("broker disconnected; reconnecting", "err", err, "server", nc.ConnectedUrlRedacted())
	})
	n.nc.SetReconnectHandler(func(nc *nats.Conn) {
		connected.Set(1)
		events.WithLabelValues(connReconnected).Inc()
		log.Info("broker reconnected", "server", nc.ConnectedUrlRedacted(), "reconnects", nc.Stats().Reconnects)
	})
	n.nc.SetClosedHandler(func(nc *nats.Conn) {
		connected.Set(0)
		events.WithLabelValues(connClosed).Inc()
		if n.closing.Load() {
			log.Info("broker connection closed")
			return
		}
		log.Error("broker connection closed: no more reconnects", "err", nc.LastError())
	})
	return nil
}
