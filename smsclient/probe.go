package smsclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Probe connects to the gateway as Send would, through the configured proxy
// (CONNECT, with its credentials) when there is one, and completes the TLS
// handshake with the same verification, but sends no request: for pam-sms
// doctor. For an http gateway it stops after the connection (to the proxy
// when one is set). The error never repeats the URL or a credential.
func (c *Client) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	conn, err := c.probeConn(ctx)
	if err != nil {
		return c.probeError(err)
	}
	defer conn.Close()
	if c.endpoint.Scheme != "https" {
		return nil
	}
	cfg := c.tls.Clone()
	cfg.ServerName = c.endpoint.Hostname()
	if err := tlsHandshake(ctx, conn, cfg); err != nil {
		return c.probeError(fmt.Errorf("TLS handshake: %w", err))
	}
	return nil
}

// probeConn is a connection to the gateway: direct, or a CONNECT tunnel.
func (c *Client) probeConn(ctx context.Context) (net.Conn, error) {
	addr := hostPort(c.endpoint.Host, c.endpoint.Scheme)
	if c.proxy == nil {
		return c.dial(ctx, "tcp", addr)
	}
	proxy, err := c.proxy(&http.Request{Method: http.MethodConnect, URL: c.endpoint, Host: addr})
	if err != nil {
		return nil, err
	}
	conn, err := c.dial(ctx, "tcp", hostPort(proxy.Host, "http"))
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if c.endpoint.Scheme != "https" {
		return conn, nil // an http gateway is asked through the proxy per request
	}
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	msg := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: pam_sms\r\n"
	if u := proxy.User; u != nil {
		pw, _ := u.Password()
		msg += "Proxy-Authorization: Basic " + basicToken(u.Username(), pw) + "\r\n"
	}
	if _, err := conn.Write([]byte(msg + "\r\n")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("proxy answered CONNECT with %s", resp.Status)
	}
	if br.Buffered() > 0 {
		conn.Close()
		return nil, errors.New("proxy sent data before the tunnel opened")
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

// hostPort adds the scheme's default port to a URL's host when it has none.
func hostPort(host, scheme string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(host, port)
}

func (c *Client) probeError(err error) error {
	msg := "smsclient: " + c.safeURL() + ": " + c.scrub(err.Error(), Number{}, "")
	if errors.Is(err, context.DeadlineExceeded) {
		msg = fmt.Sprintf("smsclient: %s: no connection within %v", c.safeURL(), c.cfg.Timeout)
	}
	return &sendError{msg: msg, err: err}
}

func tlsHandshake(ctx context.Context, conn net.Conn, cfg *tls.Config) error {
	return tls.Client(conn, cfg).HandshakeContext(ctx)
}
