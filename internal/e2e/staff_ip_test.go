package e2e

// Issue 3, done-means 2: staff API tokens (seed 001) with IP whitelists and
// the API Portal's keys (seed 003), end to end over the real gateway and
// /api/v1/verify. The client address is a REAL TCP peer: loopback owns all
// of 127.0.0.0/8 (and ::1), so each client dials from a chosen local
// address; X-Forwarded-For only matters behind a configured trusted proxy.
// Credentials are made through admin.Service, as the console and the
// management API make them, and expiry is played with an injected clock.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

// wlEnv is a running Gatehouse (testenv: SQLite, demo store API behind
// the gateway) with one tenant, its owner, a staff user for a vendor and a
// personal access token holding only "verify" (a resource server's caller
// token).
type wlEnv struct {
	s         *server.Server
	url       string // base URL of the real listener
	clock     *testclock.Clock
	owner     admin.Actor
	staffID   string
	verifyPAT string
	tenant    string
}

type wlOptions struct {
	trustedProxies string       // cfg.TrustedProxies
	listener       net.Listener // nil: 127.0.0.1:0
	databaseURL    string       // "": a fresh SQLite file
}

func newWLEnv(t *testing.T, o wlOptions) *wlEnv {
	t.Helper()
	e := &wlEnv{tenant: "vendorshop", clock: testclock.Running()}
	te := testenv.New(t, testenv.Options{
		Config: func(c *config.Config) {
			c.ServiceToken = serviceToken
			c.TrustedProxies = o.trustedProxies
		},
		Clock:       e.clock,
		Listener:    o.listener,
		DatabaseURL: o.databaseURL,
		Demo:        true,
		Tenant:      testenv.Seed{Slug: e.tenant, Name: "Vendor Shop", Email: "owner@vendorshop.test", Plan: gatehouse.PlanStandard},
	})
	ctx := context.Background()
	s := te.Server
	e.s, e.url = s, te.URL
	var err error
	if e.owner, err = s.Admin.ActorFor(ctx, te.Tenant.ID, te.Owner.UserID, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	// Seed 001: one staff user per vendor, for API use.
	staff, err := s.Admin.AddMember(ctx, e.owner, admin.NewMember{Email: "erp-vendor@vendorshop.test", Role: gatehouse.RoleStaff})
	if err != nil {
		t.Fatal(err)
	}
	e.staffID = staff.UserID
	if _, e.verifyPAT, err = s.Admin.CreateCredential(ctx, e.owner, gatehouse.KindPAT, admin.CredentialInput{Name: "resource server", Scopes: []string{gatehouse.ScopeVerify}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// generate is the API Auth tab's Generate: APIs sales and catalog, and an
// optional Expired At.
func (e *wlEnv) generate(t *testing.T, expires *time.Time) (*gatehouse.Credential, string) {
	t.Helper()
	c, tok, err := e.s.Admin.CreateCredential(context.Background(), e.owner, gatehouse.KindStaff, admin.CredentialInput{UserID: e.staffID, Scopes: []string{"sales", "catalog"}, ExpiresAt: expires})
	if err != nil {
		t.Fatalf("generate staff token: %v", err)
	}
	if !strings.HasPrefix(tok, "gate_stf_") || len(c.AllowList) != 0 {
		t.Fatalf("generated %q with whitelist %v; want a gate_stf_ token with an empty whitelist", tok, c.AllowList)
	}
	return c, tok
}

// allow is +New IP Whitelist; it must succeed.
func (e *wlEnv) allow(t *testing.T, name, cidr string) *gatehouse.AllowEntry {
	t.Helper()
	ent, err := e.s.Admin.AddStaffAllowEntry(context.Background(), e.owner, e.staffID, name, cidr)
	if err != nil {
		t.Fatalf("add whitelist entry %q %q: %v", name, cidr, err)
	}
	return ent
}

// entries is the whitelist as "name=prefix#id" strings, for comparisons.
func (e *wlEnv) entries(t *testing.T) []string {
	t.Helper()
	list, err := e.s.Admin.StaffAllowList(context.Background(), e.owner, e.staffID)
	if err != nil {
		t.Fatalf("list whitelist: %v", err)
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, x.Name+"="+x.Prefix.String()+"#"+x.ID)
	}
	slices.Sort(out)
	return out
}

// wlSkipWithoutAliases skips when 127.0.0.2 cannot be bound (loopback is
// 127.0.0.0/8 on Linux; other systems configure only 127.0.0.1).
func wlSkipWithoutAliases(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2 (loopback is not all of 127.0.0.0/8 here): %v", err)
	}
	ln.Close()
}

// wlClientFrom is an HTTP client whose connections come from local: the
// server sees it as the TCP peer.
func wlClientFrom(t *testing.T, local string) *http.Client {
	t.Helper()
	ip := net.ParseIP(local)
	if ip == nil {
		t.Fatalf("bad local address %q", local)
	}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			LocalAddr: &net.TCPAddr{IP: ip},
			Timeout:   5 * time.Second,
		}).DialContext,
		ResponseHeaderTimeout: 10 * time.Second,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// gwResult is a gateway answer: the status, the refusal code of the JSON
// error body, the challenge, and (when forwarded) the caller the demo API
// was told about.
type gwResult struct {
	status    int
	code      string
	challenge string
	kind      string // X-Gatehouse-Kind as the upstream saw it
	tenant    string
	body      string
}

// gateway calls GET /rest/V1/orders (resource sales.orders) with hdr.
func (e *wlEnv) gateway(t *testing.T, c *http.Client, hdr http.Header) gwResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/rest/V1/orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("gateway call: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Caller *struct {
			Tenant string `json:"tenant"`
			Kind   string `json:"kind"`
		} `json:"caller"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("gateway answered %d with a non-JSON body: %v\n%s", resp.StatusCode, err, b)
	}
	r := gwResult{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), body: string(b)}
	if body.Error != nil {
		r.code = body.Error.Code
		if body.Error.Message == "" {
			t.Errorf("refusal %s has no message", r.code)
		}
	}
	if body.Caller != nil {
		r.kind, r.tenant = body.Caller.Kind, body.Caller.Tenant
	}
	return r
}

// wantGateway checks a gateway answer: 200 forwarded for kind, or a
// refusal with code (401 and 403 with a WWW-Authenticate challenge).
func (e *wlEnv) wantGateway(t *testing.T, what string, got gwResult, code gatehouse.Code, kind gatehouse.Kind) {
	t.Helper()
	wantStatus := httpx.CodeStatus(code)
	if got.status != wantStatus {
		t.Fatalf("%s: gateway answered %d %s, want %d %s\n%s", what, got.status, got.code, wantStatus, code, got.body)
	}
	if code == gatehouse.CodeValid {
		if got.kind != string(kind) || got.tenant != e.tenant {
			t.Fatalf("%s: forwarded with caller kind %q tenant %q, want %q %q", what, got.kind, got.tenant, kind, e.tenant)
		}
		return
	}
	if got.code != string(code) {
		t.Fatalf("%s: refusal code %q, want %q\n%s", what, got.code, code, got.body)
	}
	if got.challenge == "" {
		t.Fatalf("%s: %d %s without a WWW-Authenticate challenge", what, got.status, got.code)
	}
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// verify asks /api/v1/verify about credential with caller's token.
func (e *wlEnv) verify(t *testing.T, caller, credential, resource, ip string) verifyAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	body := map[string]string{"credential": credential}
	if resource != "" {
		body["resource"] = resource
	}
	if ip != "" {
		body["ip"] = ip
	}
	var ans verifyAnswer
	client := &http.Client{Timeout: 15 * time.Second}
	status, err := doJSON(ctx, client, http.MethodPost, e.url+"/api/v1/verify", caller, body, &ans)
	if err != nil || status != http.StatusOK {
		t.Fatalf("verify %v: %d %v", body, status, err)
	}
	return ans
}

func wantVerify(t *testing.T, what string, ans verifyAnswer, code gatehouse.Code) {
	t.Helper()
	if ans.Code != string(code) || ans.Valid != (code == gatehouse.CodeValid) {
		t.Fatalf("%s: /api/v1/verify answered %+v, want code %s", what, ans, code)
	}
}

// wantAdminErr checks an admin.Service refusal: its code and the field it
// names ("" = any).
func wantAdminErr(t *testing.T, what string, err error, code, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted, want %s", what, code)
	}
	if !gatehouse.IsCode(err, code) {
		t.Fatalf("%s: %v, want code %s", what, err, code)
	}
	var ge *gatehouse.Error
	if field != "" && (!errors.As(err, &ge) || ge.Field != field) {
		t.Fatalf("%s: %v, want it to name field %q", what, err, field)
	}
}

type wlCase struct {
	from string      // TCP peer
	hdr  http.Header // extra headers (X-Forwarded-For …)
	want gatehouse.Code
}

// run calls the gateway with tok for each case, as subtests.
func (e *wlEnv) run(t *testing.T, tok string, clients map[string]*http.Client, cases map[string]wlCase) {
	t.Helper()
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			c := clients[tc.from]
			if c == nil {
				c = wlClientFrom(t, tc.from)
			}
			h := bearer(tok)
			for k, vs := range tc.hdr {
				h[k] = vs
			}
			e.wantGateway(t, "from "+tc.from, e.gateway(t, c, h), tc.want, gatehouse.KindStaff)
		})
	}
}

func clientsFor(t *testing.T, addrs ...string) map[string]*http.Client {
	m := map[string]*http.Client{}
	for _, a := range addrs {
		m[a] = wlClientFrom(t, a)
	}
	return m
}

// TestStaffWhitelistIPv4: with real TCP peers, whitelisted IPv4 addresses
// and CIDRs pass the gateway and every other address gets 403
// IP_NOT_ALLOWED; an empty whitelist restricts nothing; adding and deleting
// entries takes effect on the next call; /api/v1/verify agrees and fails
// closed when the resource server omits the address.
func TestStaffWhitelistIPv4(t *testing.T) {
	wlSkipWithoutAliases(t)
	e := newWLEnv(t, wlOptions{})
	_, tok := e.generate(t, nil)
	clients := clientsFor(t, "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.9", "127.0.1.9", "127.0.2.1")

	t.Run("empty whitelist allows every address", func(t *testing.T) {
		e.run(t, tok, clients, map[string]wlCase{
			"127.0.0.1": {from: "127.0.0.1", want: gatehouse.CodeValid},
			"127.0.0.3": {from: "127.0.0.3", want: gatehouse.CodeValid},
			"127.0.2.1": {from: "127.0.2.1", want: gatehouse.CodeValid},
		})
		wantVerify(t, "no ip, empty whitelist", e.verify(t, e.verifyPAT, tok, "sales.orders", ""), gatehouse.CodeValid)
	})

	office := e.allow(t, "office", "127.0.0.2")
	t.Run("single address", func(t *testing.T) {
		e.run(t, tok, clients, map[string]wlCase{
			"whitelisted 127.0.0.2 passes": {from: "127.0.0.2", want: gatehouse.CodeValid},
			"127.0.0.3 refused":            {from: "127.0.0.3", want: gatehouse.CodeIPNotAllowed},
			"127.0.0.1 refused":            {from: "127.0.0.1", want: gatehouse.CodeIPNotAllowed},
			"127.0.0.9 refused":            {from: "127.0.0.9", want: gatehouse.CodeIPNotAllowed},
		})
		wantVerify(t, "ip 127.0.0.2", e.verify(t, e.verifyPAT, tok, "sales.orders", "127.0.0.2"), gatehouse.CodeValid)
		wantVerify(t, "ip 127.0.0.3", e.verify(t, e.verifyPAT, tok, "sales.orders", "127.0.0.3"), gatehouse.CodeIPNotAllowed)
		wantVerify(t, "ip ::ffff:127.0.0.2", e.verify(t, serviceToken, tok, "sales.orders", "::ffff:127.0.0.2"), gatehouse.CodeValid)
		// Fail closed: a resource server that forgets "ip" does not turn the whitelist off.
		wantVerify(t, "no ip", e.verify(t, e.verifyPAT, tok, "sales.orders", ""), gatehouse.CodeIPNotAllowed)
	})

	e.allow(t, "branch", "127.0.1.0/24")
	t.Run("address and CIDR", func(t *testing.T) {
		e.run(t, tok, clients, map[string]wlCase{
			"127.0.0.2 still passes":        {from: "127.0.0.2", want: gatehouse.CodeValid},
			"127.0.1.9 in 127.0.1.0/24":     {from: "127.0.1.9", want: gatehouse.CodeValid},
			"127.0.2.1 outside the CIDR":    {from: "127.0.2.1", want: gatehouse.CodeIPNotAllowed},
			"127.0.0.3 on neither entry":    {from: "127.0.0.3", want: gatehouse.CodeIPNotAllowed},
			"127.0.0.9 on neither entry":    {from: "127.0.0.9", want: gatehouse.CodeIPNotAllowed},
			"127.0.1.250 in 127.0.1.0/24":   {from: "127.0.1.250", want: gatehouse.CodeValid},
			"127.0.0.1 (server's own addr)": {from: "127.0.0.1", want: gatehouse.CodeIPNotAllowed},
		})
		wantVerify(t, "ip 127.0.1.77", e.verify(t, e.verifyPAT, tok, "sales.orders", "127.0.1.77"), gatehouse.CodeValid)
		wantVerify(t, "ip 127.0.2.1", e.verify(t, e.verifyPAT, tok, "sales.orders", "127.0.2.1"), gatehouse.CodeIPNotAllowed)
	})

	if err := e.s.Admin.DeleteStaffAllowEntry(context.Background(), e.owner, e.staffID, office.ID); err != nil {
		t.Fatalf("delete entry: %v", err)
	}
	t.Run("deleted entry stops passing at once", func(t *testing.T) {
		e.run(t, tok, clients, map[string]wlCase{
			"127.0.0.2 refused now":  {from: "127.0.0.2", want: gatehouse.CodeIPNotAllowed},
			"127.0.1.9 still passes": {from: "127.0.1.9", want: gatehouse.CodeValid},
		})
	})

	e.allow(t, "loopback /24", "127.0.0.0/24")
	t.Run("127.0.0.0/24", func(t *testing.T) {
		e.run(t, tok, clients, map[string]wlCase{
			"127.0.0.9 passes":  {from: "127.0.0.9", want: gatehouse.CodeValid},
			"127.0.0.3 passes":  {from: "127.0.0.3", want: gatehouse.CodeValid},
			"127.0.0.2 passes":  {from: "127.0.0.2", want: gatehouse.CodeValid},
			"127.0.2.1 refused": {from: "127.0.2.1", want: gatehouse.CodeIPNotAllowed},
		})
	})
}

// TestStaffWhitelistSpoofedXFF: without trusted proxies, X-Forwarded-For
// (and its relatives) from the client change nothing: the TCP peer decides.
func TestStaffWhitelistSpoofedXFF(t *testing.T) {
	wlSkipWithoutAliases(t)
	e := newWLEnv(t, wlOptions{})
	_, tok := e.generate(t, nil)
	e.allow(t, "office", "127.0.0.2")
	clients := clientsFor(t, "127.0.0.1", "127.0.0.2", "127.0.0.3")
	xff := func(v ...string) http.Header { return http.Header{"X-Forwarded-For": v} }
	e.run(t, tok, clients, map[string]wlCase{
		"refused peer claims the whitelisted address": {from: "127.0.0.3", hdr: xff("127.0.0.2"), want: gatehouse.CodeIPNotAllowed},
		"refused peer claims it twice":                {from: "127.0.0.3", hdr: xff("127.0.0.2, 127.0.0.2"), want: gatehouse.CodeIPNotAllowed},
		"refused peer in two header lines":            {from: "127.0.0.3", hdr: xff("127.0.0.2", "127.0.0.2"), want: gatehouse.CodeIPNotAllowed},
		"refused peer claims it as IPv4-mapped":       {from: "127.0.0.3", hdr: xff("::ffff:127.0.0.2"), want: gatehouse.CodeIPNotAllowed},
		"refused peer with Forwarded and X-Real-IP": {from: "127.0.0.3", hdr: http.Header{
			"Forwarded": {"for=127.0.0.2"}, "X-Real-Ip": {"127.0.0.2"}, "X-Forwarded-For": {"127.0.0.2"},
		}, want: gatehouse.CodeIPNotAllowed},
		"loopback 127.0.0.1 is not trusted implicitly": {from: "127.0.0.1", hdr: xff("127.0.0.2"), want: gatehouse.CodeIPNotAllowed},
		"allowed peer claims another address":          {from: "127.0.0.2", hdr: xff("198.51.100.7"), want: gatehouse.CodeValid},
		"allowed peer sends garbage":                   {from: "127.0.0.2", hdr: xff("not-an-address"), want: gatehouse.CodeValid},
		"allowed peer without the header":              {from: "127.0.0.2", want: gatehouse.CodeValid},
	})
}

// TestStaffWhitelistIPv4MappedEntry: an entry added as an IPv4-mapped IPv6
// address (or CIDR) is stored as its IPv4 form and matches the IPv4 client.
func TestStaffWhitelistIPv4MappedEntry(t *testing.T) {
	wlSkipWithoutAliases(t)
	e := newWLEnv(t, wlOptions{})
	_, tok := e.generate(t, nil)
	if ent := e.allow(t, "mapped", "::ffff:127.0.0.2"); ent.Prefix.String() != "127.0.0.2/32" {
		t.Fatalf("::ffff:127.0.0.2 stored as %s, want 127.0.0.2/32", ent.Prefix)
	}
	if ent := e.allow(t, "mapped net", "::ffff:127.0.1.0/120"); ent.Prefix.String() != "127.0.1.0/24" {
		t.Fatalf("::ffff:127.0.1.0/120 stored as %s, want 127.0.1.0/24", ent.Prefix)
	}
	e.run(t, tok, clientsFor(t), map[string]wlCase{
		"127.0.0.2 matches ::ffff:127.0.0.2":     {from: "127.0.0.2", want: gatehouse.CodeValid},
		"127.0.1.5 matches ::ffff:127.0.1.0/120": {from: "127.0.1.5", want: gatehouse.CodeValid},
		"127.0.0.3 refused":                      {from: "127.0.0.3", want: gatehouse.CodeIPNotAllowed},
		"127.0.2.5 refused":                      {from: "127.0.2.5", want: gatehouse.CodeIPNotAllowed},
	})
	wantVerify(t, "ip 127.0.0.2", e.verify(t, e.verifyPAT, tok, "sales.orders", "127.0.0.2"), gatehouse.CodeValid)
	wantVerify(t, "ip ::ffff:127.0.0.2", e.verify(t, e.verifyPAT, tok, "sales.orders", "::ffff:127.0.0.2"), gatehouse.CodeValid)
}

// TestStaffWhitelistIPv6: a real IPv6 peer (::1) passes an IPv6 address or
// CIDR entry and is refused by a whitelist without one.
func TestStaffWhitelistIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("IPv6 loopback unavailable, cannot use ::1 as a real peer: %v", err)
	}
	e := newWLEnv(t, wlOptions{listener: ln})
	_, tok := e.generate(t, nil)
	v6 := clientsFor(t, "::1")
	run := func(name string, want gatehouse.Code) {
		t.Run(name, func(t *testing.T) {
			e.wantGateway(t, "from ::1", e.gateway(t, v6["::1"], bearer(tok)), want, gatehouse.KindStaff)
		})
	}

	e.allow(t, "v4 loopback", "127.0.0.1")
	run("IPv4 entry does not match ::1", gatehouse.CodeIPNotAllowed)
	v6host := e.allow(t, "v6 loopback", "::1")
	run("::1 entry passes ::1", gatehouse.CodeValid)
	if err := e.s.Admin.DeleteStaffAllowEntry(context.Background(), e.owner, e.staffID, v6host.ID); err != nil {
		t.Fatal(err)
	}
	e.allow(t, "docs net", "2001:db8::/32")
	run("::1 outside 2001:db8::/32", gatehouse.CodeIPNotAllowed)
	e.allow(t, "v6 low net", "::/64")
	run("::1 inside ::/64", gatehouse.CodeValid)
	wantVerify(t, "ip ::1", e.verify(t, e.verifyPAT, tok, "sales.orders", "::1"), gatehouse.CodeValid)
	wantVerify(t, "ip 2001:db9::1", e.verify(t, e.verifyPAT, tok, "sales.orders", "2001:db9::1"), gatehouse.CodeIPNotAllowed)
}

// TestStaffWhitelistTrustedProxy: behind a configured trusted proxy
// (127.0.0.1/32), X-Forwarded-For names the client, read from the right:
// IPv6 addresses and CIDRs pass, others are refused, an IPv4 entry matches
// a client seen as ::ffff:a.b.c.d, a client cannot prepend a spoofed hop,
// a garbled hop fails closed, and a peer that is not the proxy is still
// judged by its own address.
func TestStaffWhitelistTrustedProxy(t *testing.T) {
	wlSkipWithoutAliases(t)
	e := newWLEnv(t, wlOptions{trustedProxies: "127.0.0.1/32"})
	_, tok := e.generate(t, nil)
	e.allow(t, "v6 host", "2001:db8::5")
	e.allow(t, "v4 host", "203.0.113.7")
	clients := clientsFor(t, "127.0.0.1", "127.0.0.2")
	xff := func(v ...string) http.Header { return http.Header{"X-Forwarded-For": v} }

	t.Run("addresses", func(t *testing.T) {
		e.run(t, tok, clients, map[string]wlCase{
			"2001:db8::5 passes":                         {from: "127.0.0.1", hdr: xff("2001:db8::5"), want: gatehouse.CodeValid},
			"2001:db8::6 refused":                        {from: "127.0.0.1", hdr: xff("2001:db8::6"), want: gatehouse.CodeIPNotAllowed},
			"203.0.113.7 passes":                         {from: "127.0.0.1", hdr: xff("203.0.113.7"), want: gatehouse.CodeValid},
			"::ffff:203.0.113.7 matches the IPv4 entry":  {from: "127.0.0.1", hdr: xff("::ffff:203.0.113.7"), want: gatehouse.CodeValid},
			"::ffff:203.0.113.8 refused":                 {from: "127.0.0.1", hdr: xff("::ffff:203.0.113.8"), want: gatehouse.CodeIPNotAllowed},
			"trusted hop on the right is skipped":        {from: "127.0.0.1", hdr: xff("2001:db8::5, 127.0.0.1"), want: gatehouse.CodeValid},
			"spoofed left hop: the rightmost one counts": {from: "127.0.0.1", hdr: xff("2001:db8::5, 198.51.100.9"), want: gatehouse.CodeIPNotAllowed},
			"spoofed first header line":                  {from: "127.0.0.1", hdr: xff("2001:db8::5", "198.51.100.9"), want: gatehouse.CodeIPNotAllowed},
			"garbled hop fails closed":                   {from: "127.0.0.1", hdr: xff("not-an-address"), want: gatehouse.CodeIPNotAllowed},
			"hop with a port fails closed":               {from: "127.0.0.1", hdr: xff("[2001:db8::5]:443"), want: gatehouse.CodeIPNotAllowed},
			"no header: the proxy itself is the client":  {from: "127.0.0.1", want: gatehouse.CodeIPNotAllowed},
			"untrusted peer's header is not read":        {from: "127.0.0.2", hdr: xff("2001:db8::5"), want: gatehouse.CodeIPNotAllowed},
			"untrusted peer's mapped header is not read": {from: "127.0.0.2", hdr: xff("::ffff:203.0.113.7"), want: gatehouse.CodeIPNotAllowed},
		})
	})

	e.allow(t, "v6 range", "2001:db8::/32")
	t.Run("IPv6 CIDR", func(t *testing.T) {
		e.run(t, tok, clients, map[string]wlCase{
			"2001:db8::6 in 2001:db8::/32":       {from: "127.0.0.1", hdr: xff("2001:db8::6"), want: gatehouse.CodeValid},
			"2001:db8:ffff::1 in 2001:db8::/32":  {from: "127.0.0.1", hdr: xff("2001:db8:ffff::1"), want: gatehouse.CodeValid},
			"2001:db9::1 outside":                {from: "127.0.0.1", hdr: xff("2001:db9::1"), want: gatehouse.CodeIPNotAllowed},
			"203.0.113.8 outside":                {from: "127.0.0.1", hdr: xff("203.0.113.8"), want: gatehouse.CodeIPNotAllowed},
			"2001:db8::6 from an untrusted peer": {from: "127.0.0.2", hdr: xff("2001:db8::6"), want: gatehouse.CodeIPNotAllowed},
		})
	})
	wantVerify(t, "ip 2001:db8::5", e.verify(t, e.verifyPAT, tok, "sales.orders", "2001:db8::5"), gatehouse.CodeValid)
	wantVerify(t, "ip 2001:db8:1::1", e.verify(t, e.verifyPAT, tok, "sales.orders", "2001:db8:1::1"), gatehouse.CodeValid)
	wantVerify(t, "ip ::ffff:203.0.113.7", e.verify(t, e.verifyPAT, tok, "sales.orders", "::ffff:203.0.113.7"), gatehouse.CodeValid)
	wantVerify(t, "ip 2001:db9::1", e.verify(t, e.verifyPAT, tok, "sales.orders", "2001:db9::1"), gatehouse.CodeIPNotAllowed)
}

// TestStaffWhitelistLimits: names count characters (a 20-character Chinese
// name is accepted, 21 characters are not), a token holds at most 20
// entries, and addresses are parsed strictly (no leading-zero, octal or hex
// octets, no out-of-range prefix lengths). Every refusal is EINVALID naming
// the field, and leaves the whitelist unchanged.
func TestStaffWhitelistLimits(t *testing.T) {
	e := newWLEnv(t, wlOptions{})
	ctx := context.Background()
	add := func(name, cidr string) error {
		_, err := e.s.Admin.AddStaffAllowEntry(ctx, e.owner, e.staffID, name, cidr)
		return err
	}

	t.Run("no token yet", func(t *testing.T) {
		wantAdminErr(t, "whitelist before Generate", add("office", "10.0.0.1"), gatehouse.ECONFLICT, "")
	})
	_, tok := e.generate(t, nil)

	zh20 := "上海仓库接口令牌测试一二三四五六七八九十" // 20 characters, 60 bytes
	if n := utf8.RuneCountInString(zh20); n != 20 || len(zh20) != 60 {
		t.Fatalf("test name has %d characters, %d bytes", n, len(zh20))
	}
	t.Run("20-character Chinese name accepted", func(t *testing.T) {
		ent := e.allow(t, zh20, "10.0.0.1")
		if ent.Name != zh20 {
			t.Fatalf("name stored as %q", ent.Name)
		}
		list, err := e.s.Admin.StaffAllowList(ctx, e.owner, e.staffID)
		if err != nil || len(list) != 1 || list[0].Name != zh20 || list[0].Prefix.String() != "10.0.0.1/32" {
			t.Fatalf("whitelist after adding the Chinese name: %+v %v", list, err)
		}
	})
	t.Run("name is trimmed", func(t *testing.T) {
		if ent := e.allow(t, "  dock 3  ", "10.0.0.3"); ent.Name != "dock 3" {
			t.Fatalf("name stored as %q, want %q", ent.Name, "dock 3")
		}
	})
	before := e.entries(t)

	t.Run("names", func(t *testing.T) {
		for _, tc := range []struct{ what, name string }{
			{"21 ASCII characters", strings.Repeat("a", 21)},
			{"21 Chinese characters", zh20 + "零"},
			{"empty", ""},
			{"blank", "   "},
		} {
			t.Run(tc.what, func(t *testing.T) {
				wantAdminErr(t, "name "+tc.what, add(tc.name, "10.0.0.2"), gatehouse.EINVALID, "name")
				if got := e.entries(t); !slices.Equal(got, before) {
					t.Fatalf("whitelist changed: %v, want %v", got, before)
				}
			})
		}
	})

	t.Run("addresses", func(t *testing.T) {
		for _, cidr := range []string{
			"010.0.0.1",        // leading zero
			"10.0.0.01",        // leading zero, last octet
			"0x7f.0.0.1",       // hex octet
			"0x7f000001",       // hex integer
			"0177.0.0.1",       // octal octet
			"017700000001",     // octal integer
			"2130706433",       // decimal integer
			"127.1",            // short form
			"::ffff:010.0.0.1", // leading zero inside IPv4-mapped
			"10.0.0.0/33",      // prefix length out of range
			"2001:db8::/129",
			"10.0.0.0/-1",
			"10.0.0.0/08", // leading zero in the length
			"10.0.0.0/0x8",
			"10.0.0.0/",
			"10.0.0.1/8",     // host bits set
			"fe80::1%eth0",   // zone
			"::ffff:0:0/95",  // mapped prefix shorter than /96
			"gatehouse.test", // a name, not an address
			"10.0.0.1-10.0.0.9",
			"",
		} {
			t.Run(cidr, func(t *testing.T) {
				wantAdminErr(t, "cidr "+cidr, add("bad", cidr), gatehouse.EINVALID, "cidr")
				if got := e.entries(t); !slices.Equal(got, before) {
					t.Fatalf("whitelist changed: %v, want %v", got, before)
				}
			})
		}
	})

	t.Run("21st entry refused", func(t *testing.T) {
		for i := len(before); i < gatehouse.MaxAllowEntries; i++ {
			e.allow(t, "entry "+string(rune('A'+i)), "10.1."+strconv.Itoa(i)+".0/24")
		}
		full := e.entries(t)
		if len(full) != gatehouse.MaxAllowEntries {
			t.Fatalf("%d entries, want %d", len(full), gatehouse.MaxAllowEntries)
		}
		wantAdminErr(t, "21st entry", add("one too many", "10.2.0.1"), gatehouse.EINVALID, "cidr")
		if got := e.entries(t); !slices.Equal(got, full) {
			t.Fatalf("whitelist changed by the refused 21st entry: %v", got)
		}
		// Deleting one makes room again.
		list, _ := e.s.Admin.StaffAllowList(ctx, e.owner, e.staffID)
		if err := e.s.Admin.DeleteStaffAllowEntry(ctx, e.owner, e.staffID, list[0].ID); err != nil {
			t.Fatal(err)
		}
		e.allow(t, "one more", "10.2.0.1")
	})

	t.Run("the token still works from a whitelisted address", func(t *testing.T) {
		wantVerify(t, "ip 10.2.0.1", e.verify(t, e.verifyPAT, tok, "sales.orders", "10.2.0.1"), gatehouse.CodeValid)
		wantVerify(t, "ip 10.3.0.1", e.verify(t, e.verifyPAT, tok, "sales.orders", "10.3.0.1"), gatehouse.CodeIPNotAllowed)
	})
}

// TestStaffTokenExpiredRegenerate follows seed 001: a token with an
// Expired At and a whitelist works, then expires (401 EXPIRED with a
// challenge at the gateway, EXPIRED at /api/v1/verify); it cannot be
// regenerated in place, only deleted (whitelist and all) and generated
// again, and the new token starts with an empty whitelist, so it works from
// any address, while the old one answers REVOKED.
func TestStaffTokenExpiredRegenerate(t *testing.T) {
	wlSkipWithoutAliases(t)
	e := newWLEnv(t, wlOptions{})
	ctx := context.Background()
	exp := e.clock.Now().Add(48 * time.Hour)
	old, oldTok := e.generate(t, &exp)
	e.allow(t, "office", "127.0.0.2")
	e.allow(t, "warehouse", "127.0.1.0/24")
	clients := clientsFor(t, "127.0.0.2", "127.0.0.3", "127.0.0.9")

	e.wantGateway(t, "before expiry, whitelisted", e.gateway(t, clients["127.0.0.2"], bearer(oldTok)), gatehouse.CodeValid, gatehouse.KindStaff)
	e.wantGateway(t, "before expiry, not whitelisted", e.gateway(t, clients["127.0.0.3"], bearer(oldTok)), gatehouse.CodeIPNotAllowed, "")
	ans := e.verify(t, e.verifyPAT, oldTok, "sales.orders", "127.0.0.2")
	wantVerify(t, "before expiry", ans, gatehouse.CodeValid)
	if ans.Kind != string(gatehouse.KindStaff) || ans.Subject != e.staffID || ans.Tenant != e.tenant || ans.ExpiresAt == nil {
		t.Fatalf("VALID answer does not name the staff token: %+v", ans)
	}

	e.clock.Advance(48*time.Hour + time.Minute) // past Expired At
	got := e.gateway(t, clients["127.0.0.2"], bearer(oldTok))
	e.wantGateway(t, "after expiry", got, gatehouse.CodeExpired, "")
	if !strings.Contains(got.challenge, `error="invalid_token"`) {
		t.Fatalf("EXPIRED challenge %q lacks error=\"invalid_token\"", got.challenge)
	}
	wantVerify(t, "after expiry", e.verify(t, e.verifyPAT, oldTok, "sales.orders", "127.0.0.2"), gatehouse.CodeExpired)
	wantVerify(t, "after expiry (service token)", e.verify(t, serviceToken, oldTok, "", "127.0.0.2"), gatehouse.CodeExpired)

	_, _, err := e.s.Admin.CreateCredential(ctx, e.owner, gatehouse.KindStaff, admin.CredentialInput{UserID: e.staffID, Scopes: []string{"sales"}})
	wantAdminErr(t, "Generate while the expired token exists", err, gatehouse.ECONFLICT, "")
	if n := len(e.entries(t)); n != 2 {
		t.Fatalf("expired token's whitelist has %d entries, want 2", n)
	}

	if err := e.s.Admin.DeleteCredential(ctx, e.owner, gatehouse.KindStaff, old.ID); err != nil {
		t.Fatalf("delete token: %v", err)
	}
	if _, err := e.s.Admin.StaffAllowList(ctx, e.owner, e.staffID); !gatehouse.IsCode(err, gatehouse.ECONFLICT) {
		t.Fatalf("whitelist after deleting the token: %v, want ECONFLICT (no token)", err)
	}
	if c, err := e.s.Store.FindCredential(ctx, e.owner.TenantID, old.ID); err != nil || !c.Revoked() {
		t.Fatalf("deleted token: %+v, %v; want it kept revoked", c, err)
	}

	fresh, tok := e.generate(t, nil)
	if tok == oldTok || fresh.ID == old.ID {
		t.Fatal("regenerated token equals the old one")
	}
	if got := e.entries(t); len(got) != 0 {
		t.Fatalf("regenerated token's whitelist = %v, want empty (nothing carried over)", got)
	}
	t.Run("new token works from any address", func(t *testing.T) {
		e.run(t, tok, clients, map[string]wlCase{
			"127.0.0.2 (was whitelisted)": {from: "127.0.0.2", want: gatehouse.CodeValid},
			"127.0.0.3 (was refused)":     {from: "127.0.0.3", want: gatehouse.CodeValid},
			"127.0.0.9":                   {from: "127.0.0.9", want: gatehouse.CodeValid},
		})
		ans := e.verify(t, e.verifyPAT, tok, "sales.orders", "")
		wantVerify(t, "new token without ip", ans, gatehouse.CodeValid)
		if ans.ExpiresAt != nil {
			t.Fatalf("token generated without Expired At answers expires_at %v", *ans.ExpiresAt)
		}
	})
	t.Run("old token no longer verifies", func(t *testing.T) {
		// Deleted answers REVOKED, as every ended credential does.
		e.wantGateway(t, "old token", e.gateway(t, clients["127.0.0.2"], bearer(oldTok)), gatehouse.CodeRevoked, "")
		wantVerify(t, "old token", e.verify(t, e.verifyPAT, oldTok, "sales.orders", "127.0.0.2"), gatehouse.CodeRevoked)
	})
}

// TestAPIKeyGatewayAndVerify follows seed 003: an API Portal key passes the
// gateway as X-Api-Key and as Authorization: Bearer, and /api/v1/verify
// gives a consuming application every answer its "missing, invalid or
// expired key" prompt needs: MISSING, MALFORMED, UNKNOWN, EXPIRED, REVOKED,
// VALID — for a PAT caller with "verify" and for the operator's service
// token alike.
func TestAPIKeyGatewayAndVerify(t *testing.T) {
	e := newWLEnv(t, wlOptions{})
	ctx := context.Background()
	c, key, err := e.s.Admin.CreateCredential(ctx, e.owner, gatehouse.KindAPIKey, admin.CredentialInput{Name: "Amazon Sales Channel"})
	if err != nil {
		t.Fatalf("Add New: %v", err)
	}
	if !strings.HasPrefix(key, "gate_key_") || !slices.Equal(c.Scopes, []string{gatehouse.ScopeAll}) {
		t.Fatalf("API key %q with scopes %v; want gate_key_ and [all]", key, c.Scopes)
	}
	exp := e.clock.Now().Add(time.Hour)
	_, expKey, err := e.s.Admin.CreateCredential(ctx, e.owner, gatehouse.KindAPIKey, admin.CredentialInput{Name: "trial", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	revoked, revKey, err := e.s.Admin.CreateCredential(ctx, e.owner, gatehouse.KindAPIKey, admin.CredentialInput{Name: "old connector"})
	if err != nil {
		t.Fatal(err)
	}
	typo := []byte(key)
	if typo[15] == 'A' { // one character off, still base62
		typo[15] = 'B'
	} else {
		typo[15] = 'A'
	}
	client := &http.Client{Timeout: 15 * time.Second}

	t.Run("gateway", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			hdr  http.Header
			want gatehouse.Code
		}{
			{"X-Api-Key", http.Header{"X-Api-Key": {key}}, gatehouse.CodeValid},
			{"Authorization: Bearer", bearer(key), gatehouse.CodeValid},
			{"no credential", http.Header{}, gatehouse.CodeMissing},
			{"X-Api-Key typo", http.Header{"X-Api-Key": {string(typo)}}, gatehouse.CodeMalformed},
			{"unknown key", http.Header{"X-Api-Key": {secret.NewToken(gatehouse.KindAPIKey)}}, gatehouse.CodeUnknown},
			{"both transports", http.Header{"X-Api-Key": {key}, "Authorization": {"Bearer " + key}}, gatehouse.CodeMalformed},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.wantGateway(t, tc.name, e.gateway(t, client, tc.hdr), tc.want, gatehouse.KindAPIKey)
			})
		}
	})

	if err := e.s.Admin.RevokeCredential(ctx, e.owner, gatehouse.KindAPIKey, revoked.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	e.wantGateway(t, "revoked key", e.gateway(t, client, http.Header{"X-Api-Key": {revKey}}), gatehouse.CodeRevoked, "")
	e.wantGateway(t, "trial key before expiry", e.gateway(t, client, http.Header{"X-Api-Key": {expKey}}), gatehouse.CodeValid, gatehouse.KindAPIKey)
	e.clock.Advance(time.Hour + time.Second)
	e.wantGateway(t, "trial key after expiry", e.gateway(t, client, http.Header{"X-Api-Key": {expKey}}), gatehouse.CodeExpired, "")

	for _, caller := range []struct{ name, token string }{{"PAT with verify", e.verifyPAT}, {"service token", serviceToken}} {
		t.Run("verify as "+caller.name, func(t *testing.T) {
			for _, tc := range []struct {
				name, credential string
				want             gatehouse.Code
			}{
				{"missing", "", gatehouse.CodeMissing},
				{"typo", string(typo), gatehouse.CodeMalformed},
				{"not a key at all", "amzn-sales-channel-key", gatehouse.CodeMalformed},
				{"well-formed but unknown", secret.NewToken(gatehouse.KindAPIKey), gatehouse.CodeUnknown},
				{"expired", expKey, gatehouse.CodeExpired},
				{"revoked", revKey, gatehouse.CodeRevoked},
				{"valid", key, gatehouse.CodeValid},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ans := e.verify(t, caller.token, tc.credential, "sales.orders", "")
					wantVerify(t, tc.name, ans, tc.want)
					if tc.want == gatehouse.CodeValid && (ans.Kind != string(gatehouse.KindAPIKey) || ans.Tenant != e.tenant || ans.ExpiresAt != nil) {
						t.Fatalf("VALID answer does not describe the API key: %+v", ans)
					}
				})
			}
		})
	}

	t.Run("verify without a caller token is 401", func(t *testing.T) {
		var body map[string]any
		status, err := doJSON(ctx, client, http.MethodPost, e.url+"/api/v1/verify", "", map[string]string{"credential": key}, &body)
		if err != nil || status != http.StatusUnauthorized {
			t.Fatalf("unauthenticated verify: %d %v %v", status, err, body)
		}
	})
}
