package bench

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestRunTarget measures a running Gatehouse with --target: the verify and
// issuance scenarios run against it with the credentials given, the
// scenarios that need the store or the upstream are skipped and said so.
func TestRunTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Gatehouse and loads it")
	}
	ctx := context.Background()
	opts := Options{Duration: 100 * time.Millisecond, Concurrency: 4, Tokens: 10, Progress: io.Discard}
	up, err := listen(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	tg, err := startInProcess(ctx, &opts, up.URL, &Report{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.close()

	rep, err := Run(ctx, Options{Duration: 100 * time.Millisecond, Concurrency: 4, Tokens: 1, Progress: io.Discard,
		Target: tg.base + "/", Token: tg.callerToken, ClientID: tg.clientID, ClientSecret: tg.clientSecret})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Name)
		if r.RPS <= 0 || r.Errors != 0 {
			t.Errorf("%s: %v/s, %d errors (%s)", r.Name, r.RPS, r.Errors, r.FirstError)
		}
	}
	if len(names) != 3 || names[0] != Ceiling || names[1] != Verify || names[2] != Issuance {
		t.Fatalf("scenarios = %v, want ceiling, verify, issuance", names)
	}
	if len(rep.Run.Skipped) != 3 || rep.Ratios.VerifyVsCeiling == nil || rep.Ratios.IssuanceVsCeiling == nil ||
		rep.Ratios.GatewayVsDirect != nil || rep.GatewayAddedP50 != nil {
		t.Fatalf("skipped %v, ratios %+v", rep.Run.Skipped, rep.Ratios)
	}

	// A wrong token is every request failing, reported, not a crash.
	rep, err = Run(ctx, Options{Duration: 50 * time.Millisecond, Concurrency: 2, Tokens: 1, Progress: io.Discard,
		Target: tg.base, Token: tg.token})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[1]; r.Name != Verify || r.Errors == 0 || r.FirstError == "" {
		t.Fatalf("verify with a token lacking the verify resource: %+v", r)
	}
}
