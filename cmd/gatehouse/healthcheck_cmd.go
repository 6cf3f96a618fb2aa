package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/config"
)

// newHealthcheckCmd is `gatehouse healthcheck`: GET /healthz and exit 0
// on 200, 1 otherwise. It is the container image's HEALTHCHECK, which has
// no shell and no curl (distroless).
func newHealthcheckCmd(g *globals) *cobra.Command {
	var target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Ask a running server's /healthz; exit 0 if it answers 200 (for container health checks)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" {
				target = healthURL(os.Getenv)
			}
			u, err := url.Parse(target)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("--url %q: want an absolute http(s) URL", target)
			}
			client := &http.Client{
				Timeout: timeout,
				// Security: a liveness probe of the server on this host, which
				// sends nothing and reads only the status: the certificate
				// names the public host, not the loopback address asked.
				Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, u.String(), nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck: %s answered %s", u, resp.Status)
			}
			fmt.Fprintln(g.stdout, "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "url", "", "URL to ask (default: /healthz on GATEHOUSE_ADDR, loopback for a wildcard address, https with GATEHOUSE_TLS_CERT)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}

// healthURL is the /healthz URL of the server this environment
// configures: its GATEHOUSE_ADDR (a wildcard host is asked on loopback),
// over https when it has a certificate.
func healthURL(getenv func(string) string) string {
	addr := getenv("GATEHOUSE_ADDR")
	if addr == "" {
		addr = config.Default().Addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "8080"
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if getenv("GATEHOUSE_TLS_CERT") != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
}
