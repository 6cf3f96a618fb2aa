package gatehouse

import (
	"strings"
	"testing"
	"time"
)

func TestCursor(t *testing.T) {
	c := Cursor{Time: time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC), ID: "cred_abc"}
	tok := c.Encode("ten_a GET /api/v1/tokens ")
	got, err := ParseCursor(tok, "ten_a GET /api/v1/tokens ")
	if err != nil || *got != c {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, c)
	}
	for name, bad := range map[string]string{
		"other scope": c.Encode("ten_b GET /api/v1/tokens "),
		"garbage":     "garbage!",
		"empty":       "",
		"short":       tok[:10],
		"edited":      tok[:5] + string(tok[5]^1) + tok[6:],
		"long":        strings.Repeat("A", 300),
	} {
		if _, err := ParseCursor(bad, "ten_a GET /api/v1/tokens "); ErrorCode(err) != EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}

func TestPageOf(t *testing.T) {
	at := func(i int) Cursor { return Cursor{ID: string(rune('a' + i))} }
	p := PageOf([]int{0, 1, 2}, PageQuery{Limit: 2}, at)
	if len(p.Items) != 2 || p.Next == nil || p.Next.ID != "b" {
		t.Errorf("a full page and one more = %+v", p)
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
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s, "s")
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
