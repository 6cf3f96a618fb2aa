package bench

import (
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gateway"
)

// TestFloorForwarders checks that both forwarders of --floor pass the
// path, query, status, headers and body through, so their rates measure
// real forwarding.
func TestFloorForwarders(t *testing.T) {
	up, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.URL.RequestURI())
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "answer")
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	floor, bare, err := startFloor(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer floor.Close()
	defer bare.Close()
	for _, base := range []string{floor.URL, bare.URL} {
		resp, err := http.Get(base + "/v1/items%2Fx?q=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Seen") != "/v1/items%2Fx?q=1" || string(body) != "answer" {
			t.Errorf("%s: %d %q %q", base, resp.StatusCode, resp.Header.Get("X-Seen"), body)
		}
	}

	// An upstream that is gone is a 502, not a hang or a panic.
	u, _ := url.Parse("http://127.0.0.1:1")
	srv, err := listen(floorProxy(u, gateway.NewTransport()))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("upstream down: %d, want 502", resp.StatusCode)
	}
}
