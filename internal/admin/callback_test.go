package admin_test

import (
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
)

// TestCallbackPolicy: callback and identity link hosts must be public
// unless the operator allows otherwise (issue 11, hole 7).
func TestCallbackPolicy(t *testing.T) {
	refused := []string{
		"https://169.254.169.254/latest/meta-data/",
		"https://10.0.0.1/cb", "https://172.16.5.4/", "https://192.168.0.1/",
		"https://127.0.0.1:8443/", "https://127.1/", "https://2130706433/", "https://0x7f000001/", "https://0177.0.0.1/",
		"https://0.0.0.0/", "https://100.64.0.1/", "https://[::1]/", "https://[fd00::1]/", "https://[fe80::1%25eth0]/",
		"https://[::ffff:10.0.0.1]/", "https://[::ffff:127.0.0.1]/", "https://[64:ff9b::a9fe:a9fe]/", "https://[2002:a00:1::]/",
		"https://[::]/", "https://224.0.0.1/", "https://255.255.255.255/",
		"https://localhost/", "https://LOCALHOST./", "https://app.localhost/", "https://metadata.google.internal/",
		"https://metadata/", "https://redis:6379/", "https://printer.local/", "https://nas.home.arpa/",
	}
	allowed := []string{
		"https://partner.example/cb", "https://93.184.215.14/cb", "https://[2606:4700::1111]/",
		"https://cafe.example/", "https://xn--80ak6aa92e.xn--p1ai/", "",
	}
	// Not https: refused whatever the host (issue 14), AllowPrivate or
	// not; http loopback needs AllowHTTP.
	for _, u := range []string{"http://127.0.0.1:8080/cb", "http://erp.example/login", "ftp://erp.example/"} {
		for _, p := range []admin.CallbackPolicy{{}, {AllowPrivate: true}} {
			err := p.CheckURL("identity_link_url", u)
			if ge, ok := err.(*gatehouse.Error); !ok || ge.Field != "identity_link_url" || ge.ID != "error.identity_link_url.https" {
				t.Errorf("%s with %+v: %v, want refused for its scheme", u, p, err)
			}
		}
	}
	var none admin.CallbackPolicy
	for _, u := range refused {
		err := none.CheckURL("callback_url", u)
		if te, ok := err.(*admin.TargetError); !ok || te.Err.Field != "callback_url" || gatehouse.ErrorCode(err) != gatehouse.EINVALID {
			t.Errorf("%s: %v (%T), want a refused target", u, err, err)
		}
		if err := (admin.CallbackPolicy{AllowPrivate: true}).CheckURL("callback_url", u); err != nil {
			t.Errorf("%s with AllowPrivate: %v", u, err)
		}
	}
	for _, u := range allowed {
		if err := none.CheckURL("callback_url", u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	dev := admin.CallbackPolicy{AllowHTTP: true}
	for u, ok := range map[string]bool{
		"http://127.0.0.1:8080/cb": true, "http://localhost:8080/cb": true, "http://[::1]/": true,
		"https://127.0.0.1/cb": false, "http://10.0.0.1/cb": false,
	} {
		if err := dev.CheckURL("callback_url", u); (err == nil) != ok {
			t.Errorf("%s with AllowHTTP: %v, want allowed %v", u, err, ok)
		}
	}
	for a, want := range map[string]bool{"8.8.8.8": true, "2001:4860:4860::8888": true, "169.254.169.254": false,
		"::ffff:169.254.169.254": false, "fc00::1": false, "192.0.0.8": false, "198.18.0.1": false, "2001:db8::1": false} {
		if got := admin.PublicAddr(netip.MustParseAddr(a)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", a, got, want)
		}
	}
}
