package gatehouse

import (
	"strings"
	"testing"
	"time"
)

func TestCursor(t *testing.T) {
	c := Cursor{Sort: SortNewest, Time: time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC), ID: "cred_abc"}
	tok := c.Encode("ten_a GET /api/v1/tokens ")
	got, err := ParseCursor(tok, "ten_a GET /api/v1/tokens ", "")
	if err != nil || *got != c {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, c)
	}
	for name, bad := range map[string]string{
		"other scope": c.Encode("ten_b GET /api/v1/tokens "),
		"garbage":     "garbage!",
		"empty":       "",
		"short":       tok[:10],
		"edited":      tok[:5] + string(tok[5]^1) + tok[6:],
		"long":        strings.Repeat("A", MaxCursorLen+1),
	} {
		if _, err := ParseCursor(bad, "ten_a GET /api/v1/tokens ", SortNewest); ErrorCode(err) != EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}

// TestSortedCursor: a cursor carries its order's key (a text, a time or
// none) and is its order's only: in another order it is refused with a
// message that names both, never read as a key of the other.
func TestSortedCursor(t *testing.T) {
	const scope = "ten_a GET /api/v1/tokens "
	at := time.Date(2026, 3, 1, 12, 0, 0, 5000, time.UTC)
	for _, c := range []Cursor{
		{Sort: SortOldest, Time: at, ID: "cred_1"},
		{Sort: SortName, Text: "Ночной экспорт", ID: "cred_2"},
		{Sort: SortName, Text: "", ID: "cred_3"},
		{Sort: SortEmail, Text: strings.Repeat("e", 200), ID: "user_4"},
		{Sort: SortName, Text: strings.Repeat("名", 255), ID: "int_0123456789abcdefghijklmnopqrst"},
		{Sort: SortExpires, Time: at, ID: "cred_5"},
		{Sort: SortExpires, Null: true, ID: "cred_6"},
		{Sort: SortLastUsed, Null: true, ID: "cred_7"},
	} {
		tok := c.Encode(scope)
		got, err := ParseCursor(tok, scope, c.Sort)
		if err != nil || *got != c {
			t.Errorf("round trip of %+v = %+v, %v", c, got, err)
		}
		other := SortNewest
		if c.Sort == SortNewest {
			other = SortName
		}
		_, err = ParseCursor(tok, scope, other)
		if ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), "sort="+string(c.Sort)) || !strings.Contains(err.Error(), "sort="+string(other)) {
			t.Errorf("%+v in a list by %s: %v", c, other, err)
		}
	}
	// A null key says so: the zero time is no key.
	tok := TimeCursor(SortExpires, nil, "cred_x").Encode(scope)
	if got, err := ParseCursor(tok, scope, SortExpires); err != nil || !got.Null || !got.Time.IsZero() {
		t.Errorf("no expiry: %+v, %v", got, err)
	}
}

func TestParseSort(t *testing.T) {
	if s, err := ParseSort("", CredentialSorts); s != SortNewest || err != nil {
		t.Errorf(`"" = %q, %v`, s, err)
	}
	if s, err := ParseSort("expires", CredentialSorts); s != SortExpires || err != nil {
		t.Errorf("expires = %q, %v", s, err)
	}
	_, err := ParseSort("expires", ClientSorts)
	if ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), "newest, oldest, name") {
		t.Errorf("expires of apps: %v", err)
	}
}

func TestPageOf(t *testing.T) {
	at := func(i int, s Sort) Cursor { return Cursor{ID: string(rune('a' + i))} }
	p := PageOf([]int{0, 1, 2}, PageQuery{Limit: 2}, at)
	if len(p.Items) != 2 || p.Next == nil || p.Next.ID != "b" || p.Next.Sort != SortNewest {
		t.Errorf("a full page and one more = %+v", p)
	}
	if p := PageOf([]int{0, 1, 2}, PageQuery{Limit: 2, Sort: SortName}, at); p.Next == nil || p.Next.Sort != SortName {
		t.Errorf("a page by name = %+v", p)
	}
	if p := PageOf([]int{0, 1}, PageQuery{Limit: 2}, at); p.Next != nil {
		t.Errorf("the last page has a next: %+v", p)
	}
	if q := (PageQuery{Limit: 50}).Plus1(); q.Limit != 51 {
		t.Errorf("Plus1 = %d", q.Limit)
	}
	if q := (PageQuery{}).Plus1(); q.Limit != 0 {
		t.Errorf("Plus1 of all = %d", q.Limit)
	}
}

// FuzzParseCursor: any input is a cursor that encodes back to itself, or
// EINVALID; never a panic.
func FuzzParseCursor(f *testing.F) {
	f.Add(Cursor{Time: time.Unix(1, 0), ID: "cred_x"}.Encode("s"))
	f.Add(Cursor{Sort: SortName, Text: "a b", ID: "cred_x"}.Encode("s"))
	f.Add(Cursor{Sort: SortExpires, Null: true, ID: "cred_x"}.Encode("s"))
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s, "s", "")
		if ErrorCode(err) == EINVALID {
			c, err = ParseCursor(s, "s", SortName)
		}
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if got := c.Encode("s"); got != s {
			t.Fatalf("%q parses to %+v, which encodes to %q", s, c, got)
		}
	})
}
