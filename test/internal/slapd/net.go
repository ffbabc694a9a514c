package slapd

import (
	"net"
	"sync"
	"testing"
)

// ClosedAddr returns 127.0.0.1:PORT where nothing listens (a server that is
// down: connection refused).
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("slapd fixture: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// SilentAddr returns 127.0.0.1:PORT of a listener that accepts every
// connection and then never reads nor writes: a hung server, which only a
// timeout ends (unlike a closed port). t.Cleanup closes it and its
// connections.
func SilentAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("slapd fixture: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
