package gatehouse_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse"
)

func commerce(t *testing.T) *gatehouse.ResourceTree {
	t.Helper()
	tree, err := gatehouse.NewResourceTree(gatehouse.CommerceResources())
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestGrants(t *testing.T) {
	tree := commerce(t)
	cases := []struct {
		scopes   []string
		resource string
		want     bool
	}{
		{[]string{"sales"}, "sales.orders", true},
		{[]string{"sales"}, "sales", true},
		{[]string{"sales.orders"}, "sales", false},
		{[]string{"sales.orders"}, "sales.invoices", false},
		{[]string{"all"}, "catalog.products", true},
		{[]string{"all"}, "manage", false},
		{[]string{"all"}, "verify", false},
		{[]string{"manage"}, "manage", true},
		{[]string{"sales", "verify"}, "verify", true},
		{[]string{"all"}, "no.such.resource", false},
		{[]string{"catalog"}, "catalogx", false},
		{nil, "sales", false},
	}
	for _, c := range cases {
		if got := tree.Grants(c.scopes, c.resource); got != c.want {
			t.Errorf("Grants(%v, %q) = %v, want %v", c.scopes, c.resource, got, c.want)
		}
	}
}

func TestNormalizeScopes(t *testing.T) {
	tree := commerce(t)
	got, err := tree.NormalizeScopes([]string{"verify", "sales.orders", "catalog", "sales.orders"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"catalog", "sales.orders", "verify"}; !slices.Equal(got, want) {
		t.Fatalf("NormalizeScopes = %v, want %v", got, want)
	}
	if got, _ := tree.NormalizeScopes([]string{"sales", "all", "manage"}); !slices.Equal(got, []string{"all", "manage"}) {
		t.Fatalf("all did not absorb tree scopes: %v", got)
	}
	for _, bad := range [][]string{nil, {"sales.nope"}, {""}} {
		if _, err := tree.NormalizeScopes(bad); !gatehouse.IsCode(err, gatehouse.EINVALID) {
			t.Errorf("NormalizeScopes(%q) err = %v, want EINVALID", bad, err)
		}
	}
	if !tree.Subset([]string{"sales.orders"}, []string{"sales"}) || tree.Subset([]string{"sales"}, []string{"sales.orders"}) {
		t.Fatal("Subset wrong")
	}
}

func TestAllowList(t *testing.T) {
	list := []gatehouse.AllowEntry{
		{Name: "office", Prefix: netip.MustParsePrefix("203.0.113.0/24")},
		{Name: "v6", Prefix: netip.MustParsePrefix("2001:db8::/32")},
	}
	for addr, want := range map[string]bool{
		"203.0.113.9":        true,
		"::ffff:203.0.113.9": true,
		"2001:db8::5":        true,
		"198.51.100.1":       false,
		"2001:db9::1":        false,
	} {
		if got := gatehouse.AllowListPermits(list, netip.MustParseAddr(addr)); got != want {
			t.Errorf("permits %s = %v, want %v", addr, got, want)
		}
	}
	if !gatehouse.AllowListPermits(nil, netip.Addr{}) {
		t.Error("an empty list must allow everyone")
	}
	if gatehouse.AllowListPermits(list, netip.Addr{}) {
		t.Error("an unknown address must not pass a non-empty list")
	}
	name := "倉庫辦公室一二三四五六七八九十壹貳參肆伍" // 20 characters, 60 bytes
	e := gatehouse.AllowEntry{Name: name, Prefix: list[0].Prefix}
	if err := e.Validate(); err != nil {
		t.Errorf("20-character name refused: %v", err)
	}
	e.Name += "陸"
	if err := e.Validate(); err == nil {
		t.Error("21-character name accepted")
	}
}

func TestNormalizeEmail(t *testing.T) {
	if got, err := gatehouse.NormalizeEmail("  Owner@Example.TEST "); err != nil || got != "owner@example.test" {
		t.Fatalf("NormalizeEmail = %q, %v", got, err)
	}
	for _, bad := range []string{"", "nope", "a@b@c", "Name <a@b.c>"} {
		if _, err := gatehouse.NormalizeEmail(bad); err == nil {
			t.Errorf("NormalizeEmail(%q) accepted", bad)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	good := map[string]string{
		"203.0.113.7":            "203.0.113.7/32",
		"203.0.113.0/24":         "203.0.113.0/24",
		"2001:db8::1":            "2001:db8::1/128",
		"2001:db8::/32":          "2001:db8::/32",
		"::ffff:203.0.113.7":     "203.0.113.7/32",
		"::ffff:203.0.113.0/120": "203.0.113.0/24",
		" 10.0.0.1 ":             "10.0.0.1/32",
	}
	for in, want := range good {
		p, err := gatehouse.ParsePrefix(in)
		if err != nil || p.String() != want {
			t.Errorf("gatehouse.ParsePrefix(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	bad := []string{"", "010.0.0.1", "0x7f.0.0.1", "1.2.3", "1.2.3.4/33", "2001:db8::/129", "1.2.3.4/-1",
		"10.0.0.1/24", "fe80::1%eth0", "1.2.3.4/", "::ffff:1.2.3.4/90", "300.1.1.1"}
	for _, in := range bad {
		if p, err := gatehouse.ParsePrefix(in); err == nil {
			t.Errorf("gatehouse.ParsePrefix(%q) = %v, want error", in, p)
		}
	}
}

func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "1.2.3.0/24", "::1", "::ffff:1.2.3.4/128", "010.1.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := gatehouse.ParsePrefix(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p.Masked() != p || p.Addr().Is4In6() {
			t.Fatalf("gatehouse.ParsePrefix(%q) = %v: not canonical", s, p)
		}
		q, err := gatehouse.ParsePrefix(p.String())
		if err != nil || q != p {
			t.Fatalf("round trip of %v: %v, %v", p, q, err)
		}
	})
}

// TestResourceTitles: the built-in tree names every resource in every
// console language, and a title falls back to the base language, then to
// English.
func TestResourceTitles(t *testing.T) {
	tree := commerce(t)
	for _, id := range tree.IDs() {
		r, _ := tree.Find(id)
		for _, lang := range []string{"ru", "zh-Hans", "zh-Hant"} {
			if r.Titles[lang] == "" || r.Titles[lang] == r.Title {
				t.Errorf("%s has no %s title (%q)", id, lang, r.Titles[lang])
			}
		}
	}
	r, _ := tree.Find("sales.orders")
	for lang, want := range map[string]string{"": "Orders", "en": "Orders", "ru": "Заказы", "ru-RU": "Заказы", "zh-Hans": "订单", "zh-Hant": "訂單", "de": "Orders", "zh": "Orders"} {
		if got := r.TitleIn(lang); got != want {
			t.Errorf("TitleIn(%q) = %q, want %q", lang, got, want)
		}
	}
	for _, bad := range []map[string]string{{"": "x"}, {"ru": ""}, {"r u": "x"}, {"ru_RU": "x"}, {"ru": "x\ny"}} {
		if _, err := gatehouse.NewResourceTree([]*gatehouse.Resource{{ID: "a", Titles: bad}}); err == nil {
			t.Errorf("titles %q accepted", bad)
		}
	}
}

// TestErrorWithID: an error's message id rides along its English message,
// which is what Error() and ErrorMessage keep saying.
func TestErrorWithID(t *testing.T) {
	err := gatehouse.Errorf(gatehouse.ECONFLICT, "the limit of %d is reached", 100).WithID("error.limit.self", "Max", 100)
	if err.ID != "error.limit.self" || err.Args["Max"] != 100 || len(err.Args) != 1 {
		t.Errorf("WithID: %+v", err)
	}
	if gatehouse.ErrorMessage(err) != "the limit of 100 is reached" || err.Error() != "gatehouse: conflict: the limit of 100 is reached" {
		t.Errorf("message: %q / %q", gatehouse.ErrorMessage(err), err.Error())
	}
	if e := gatehouse.Errorf(gatehouse.EINVALID, "x").WithID("error.x"); e.Args != nil {
		t.Errorf("args without pairs: %+v", e.Args)
	}
}
