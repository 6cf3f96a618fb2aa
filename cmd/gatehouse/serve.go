package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/demo"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/server"
)

func newServeCmd(g *globals) *cobra.Command {
	// The flags are bound to the defaults only for --help: readConfig
	// applies the ones that were set after the file and the environment.
	cfg := config.Default()
	var demo bool
	cmd := &cobra.Command{
		Use:         "serve",
		Short:       "Run Gatehouse: console, management API, verification and gateway",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{configFlags: "true"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.configErr(); err != nil {
				return err
			}
			cfg := g.cfg
			cfg.Demo = demo
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("configuration:\n%w", err)
			}
			return serve(cmd.Context(), g, cfg)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&demo, "demo", false, "seed a demo tenant, owner and token, and serve a demo store API behind the gateway")
	f.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (env GATEHOUSE_ADDR)")
	f.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "public base URL (env GATEHOUSE_PUBLIC_URL; default http://ADDR)")
	f.StringVar(&cfg.Upstream, "upstream", cfg.Upstream, "platform API to proxy to (env GATEHOUSE_UPSTREAM)")
	f.StringVar(&cfg.Routes, "routes", cfg.Routes, "gateway routes file (env GATEHOUSE_ROUTES)")
	f.StringVar(&cfg.Resources, "resources", cfg.Resources, "resource tree YAML replacing the built-in one (env GATEHOUSE_RESOURCES)")
	f.StringVar(&cfg.TrustedProxies, "trusted-proxies", cfg.TrustedProxies, "comma-separated CIDRs whose X-Forwarded-For is believed (env GATEHOUSE_TRUSTED_PROXIES)")
	f.BoolVar(&cfg.AllowHTTPCallbacks, "allow-http-callbacks", cfg.AllowHTTPCallbacks, "allow http:// callback URLs on loopback (env GATEHOUSE_ALLOW_HTTP_CALLBACKS)")
	f.BoolVar(&cfg.AllowPrivateCallbacks, "allow-private-callbacks", cfg.AllowPrivateCallbacks, "allow callback URLs to loopback, private and link-local addresses (env GATEHOUSE_ALLOW_PRIVATE_CALLBACKS)")
	f.DurationVar(&cfg.CacheTTL, "cache-ttl", cfg.CacheTTL, "how long verification answers are cached; 0 disables (env GATEHOUSE_CACHE_TTL)")
	f.DurationVar(&cfg.ConsoleIdleTimeout, "console-idle-timeout", cfg.ConsoleIdleTimeout, "end a console session after this long without a request (env GATEHOUSE_CONSOLE_IDLE_TIMEOUT)")
	f.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "PEM certificate (chain) to serve TLS with, reloaded on SIGHUP and when it changes (env GATEHOUSE_TLS_CERT)")
	f.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "PEM private key of --tls-cert (env GATEHOUSE_TLS_KEY)")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error (env GATEHOUSE_LOG_LEVEL)")
	f.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "json or text (env GATEHOUSE_LOG_FORMAT)")
	f.BoolVar(&cfg.AccessLog, "access-log", cfg.AccessLog, "log one line per request at info (env GATEHOUSE_ACCESS_LOG)")
	return cmd
}

func serve(ctx context.Context, g *globals, cfg config.Config) error {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(g.stderr, hopts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(g.stderr, hopts)
	}
	log := slog.New(h)
	b := metrics.ReadBuild()
	log.Info("gatehouse starting", "version", b.Version, "revision", b.Revision, "modified", b.Modified, "go", b.GoVersion)

	opts := server.Options{Log: log}
	if cfg.TLSCert != "" {
		// SIGHUP loads the certificate again (a renewal's usual signal).
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		opts.Reload = hup
	}
	if cfg.Demo && cfg.Upstream == "" {
		// The demo store API listens on a private loopback port; only the
		// gateway reaches it.
		dl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		dsrv := &http.Server{Handler: demo.New(), ReadHeaderTimeout: 10 * time.Second}
		go dsrv.Serve(dl)
		defer dsrv.Close()
		opts.Upstream = &url.URL{Scheme: "http", Host: dl.Addr().String()}
		opts.Routes = demo.Routes()
	}
	s, err := server.New(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if cfg.Demo {
		creds, err := s.SeedDemo(ctx)
		if err != nil {
			ln.Close()
			return err
		}
		printDemo(g, cfg, creds)
	} else if err := printFirstSteps(ctx, g, s.Store, cfg.PublicURL); err != nil {
		ln.Close()
		return err
	}
	log.Info("gatehouse listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL,
		"database", config.RedactURL(cfg.DatabaseURL), "tls", cfg.TLSCert != "", "gateway", opts.Upstream != nil || cfg.Upstream != "")
	err = s.Run(ctx, ln)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func printDemo(g *globals, cfg config.Config, c *server.DemoCredentials) {
	w := g.stdout
	line := strings.Repeat("─", 72)
	fmt.Fprintln(w, line)
	fmt.Fprintln(w, "Gatehouse demo — these secrets are shown once and stored only hashed;")
	fmt.Fprintln(w, "the token the previous start printed is revoked.")
	fmt.Fprintf(w, "  Console:   %s/console/\n", cfg.PublicURL)
	fmt.Fprintf(w, "  Email:     %s\n", c.Email)
	fmt.Fprintf(w, "  Password:  %s\n", c.Password)
	fmt.Fprintf(w, "  Token:     %s\n", c.Token)
	fmt.Fprintf(w, "  Scopes:    %s\n", strings.Join(c.Scopes, " "))
	fmt.Fprintln(w, "Try:")
	fmt.Fprintf(w, "  export TOKEN=%s\n", c.Token)
	fmt.Fprintf(w, "  curl -s %s/rest/V1/products -H \"Authorization: Bearer $TOKEN\"\n", cfg.PublicURL)
	fmt.Fprintln(w, line)
}
