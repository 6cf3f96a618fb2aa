package oauth1

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// DeliveryTimeout is Magento's: the callback must answer within 5 s.
const DeliveryTimeout = 5 * time.Second

// DeliverOptions configure NewDeliverer.
type DeliverOptions struct {
	// Callbacks says which addresses may be dialled (the same policy admin
	// applies when a URL is saved).
	Callbacks admin.CallbackPolicy
	// Log receives the detail of failed deliveries, for the operator
	// (default slog.Default()).
	Log *slog.Logger
	// RootCAs verifies callbacks' certificates (nil: the system's).
	RootCAs *x509.CertPool
}

// Delivery failures as stored and shown to the tenant: a fixed set, so the
// text never tells a closed port from an open one or a refused address
// from an unknown name (the detail goes to the operator's log).
const (
	deliveryUnreachable = "the callback could not be reached"
	deliveryTimeout     = "the callback did not answer within 5s"
)

// NewDeliverer returns the admin.Deliverer that POSTs an activation's
// credentials (oauth_consumer_key, oauth_consumer_secret, store_base_url,
// oauth_verifier — the form admin builds) to an integration's callback
// URL, form-encoded, as Magento does: 5 s timeout and no redirects
// followed (a 3xx answer is a failed delivery, since following it would
// send the consumer secret somewhere nobody registered).
//
// Security: the URL must be https, and the address actually dialled —
// after DNS resolution, checked in the dialer's Control hook — must be
// public (admin.PublicAddr) unless Callbacks.AllowPrivate, so neither an
// address nor a name that resolves to one reaches loopback, private,
// link-local (cloud metadata) or unique-local targets. No proxy is used:
// the address checked is the address connected to. With
// Callbacks.AllowHTTP (GATEHOUSE_ALLOW_HTTP_CALLBACKS, for development)
// http is allowed too, but only to a loopback host, and the address
// dialled is checked to be loopback, so a name that resolves elsewhere
// cannot carry the secret over plain http.
func NewDeliverer(opts DeliverOptions) admin.Deliverer {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	policy := opts.Callbacks
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	secure := &http.Client{
		Timeout:       DeliveryTimeout,
		CheckRedirect: noRedirect,
		Transport: &http.Transport{
			Proxy: nil, // a proxy would do the dialling elsewhere, unchecked
			DialContext: (&net.Dialer{Timeout: DeliveryTimeout, Control: func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil || (!policy.AllowPrivate && !admin.PublicAddr(ap.Addr())) {
					return fmt.Errorf("callbacks may only reach public addresses, not %s (GATEHOUSE_ALLOW_PRIVATE_CALLBACKS)", address)
				}
				return nil
			}}).DialContext,
			TLSClientConfig:     &tls.Config{RootCAs: opts.RootCAs},
			TLSHandshakeTimeout: DeliveryTimeout,
			MaxIdleConns:        4,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	loopback := &http.Client{
		Timeout:       DeliveryTimeout,
		CheckRedirect: noRedirect,
		Transport: &http.Transport{
			Proxy: nil, // a proxy would do the dialling elsewhere
			DialContext: (&net.Dialer{Timeout: DeliveryTimeout, Control: func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil || !ap.Addr().Unmap().IsLoopback() {
					return fmt.Errorf("http callbacks may only reach loopback addresses, not %s", address)
				}
				return nil
			}}).DialContext,
			MaxIdleConns:    4,
			IdleConnTimeout: 30 * time.Second,
		},
	}
	return func(ctx context.Context, callbackURL string, form url.Values) (int, error) {
		u, err := url.Parse(callbackURL)
		if err != nil || u.Host == "" {
			return 0, errors.New("the callback URL is not an absolute URL")
		}
		// The rule saving applies (admin.CallbackPolicy.CheckScheme), so
		// only an integration saved before it can be refused here; the
		// text is stored and shown to the tenant, in the admin's words.
		if err := policy.CheckScheme("callback_url", u); err != nil {
			return 0, errors.New(gatehouse.ErrorMessage(err))
		}
		client := secure
		if u.Scheme == "http" {
			client = loopback
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		if err != nil {
			return 0, errors.New("the callback URL is not an absolute URL")
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("User-Agent", "Gatehouse integration activation")
		resp, err := client.Do(req)
		if err != nil {
			log.WarnContext(ctx, "oauth1: callback delivery failed", "host", u.Host, "err", redact(err, form))
			var ue *url.Error
			if errors.As(err, &ue) && ue.Timeout() {
				return 0, errors.New(deliveryTimeout)
			}
			return 0, errors.New(deliveryUnreachable)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return resp.StatusCode, fmt.Errorf("the callback answered %d with a redirect; redirects are not followed", resp.StatusCode)
		}
		return resp.StatusCode, nil
	}
}

// redact keeps the form's values (the consumer secret above all) out of
// an error text that is logged.
func redact(err error, form url.Values) string {
	s := err.Error()
	for _, vs := range form {
		for _, v := range vs {
			if v != "" {
				s = strings.ReplaceAll(s, v, "…")
			}
		}
	}
	return s
}
