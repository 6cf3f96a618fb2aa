package gatehouse_test

import (
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestKindTable checks the table's invariants that code relying on it
// assumes: kinds and prefixes unique, Index and KindAt inverse, the
// prefix functions inverse, and guest outside the table.
func TestKindTable(t *testing.T) {
	seenKind, seenPrefix := map[gatehouse.Kind]bool{}, map[string]bool{}
	for i, s := range gatehouse.Kinds() {
		if s.Kind == "" || seenKind[s.Kind] {
			t.Errorf("row %d: kind %q empty or repeated", i, s.Kind)
		}
		seenKind[s.Kind] = true
		if got := s.Kind.Index(); got != i+1 || gatehouse.KindAt(got) != s.Kind {
			t.Errorf("%s: Index %d, KindAt %q", s.Kind, got, gatehouse.KindAt(got))
		}
		if s.Holder == "" || s.DisplayKey == "" {
			t.Errorf("%s: holder %q, display key %q", s.Kind, s.Holder, s.DisplayKey)
		}
		if (s.NameField == "") == (s.NameLimit > 0) {
			t.Errorf("%s: a name field wants a limit and a limit a field (%q, %d)", s.Kind, s.NameField, s.NameLimit)
		}
		if s.NameField != "" && s.FixedName != "" {
			t.Errorf("%s: both a name field and a fixed name", s.Kind)
		}
		if s.Noun == "" {
			t.Errorf("%s: no noun for messages", s.Kind)
		}
		// The management path (admin's credentials.go) creates the kinds
		// that name a Created action; it knows three holders, and ends
		// each credential one way.
		managed := s.Holder == gatehouse.HolderSelf || s.Holder == gatehouse.HolderMember || s.Holder == gatehouse.HolderTenant
		if (s.Created != "") != managed {
			t.Errorf("%s: created by the management path %v, but holder %q", s.Kind, s.Created != "", s.Holder)
		}
		if managed && (s.Revoked == "") == (s.Deleted == "") {
			t.Errorf("%s: wants exactly one of Revoked %q and Deleted %q", s.Kind, s.Revoked, s.Deleted)
		}
		if managed && s.NameField == "" && s.FixedName == "" {
			t.Errorf("%s: neither a name field nor a fixed name", s.Kind)
		}
		// The store counts a live cap per user, or per tenant for a
		// credential without one; a member's token has its own rule.
		if s.LiveLimit < 0 || s.LiveLimit > 0 && s.Holder != gatehouse.HolderSelf && s.Holder != gatehouse.HolderTenant {
			t.Errorf("%s: live limit %d for holder %q", s.Kind, s.LiveLimit, s.Holder)
		}
		if s.Prefix == "" {
			continue
		}
		if seenPrefix[s.Prefix] {
			t.Errorf("%s: prefix %q repeated", s.Kind, s.Prefix)
		}
		seenPrefix[s.Prefix] = true
		if k, ok := gatehouse.KindForPrefix(s.Prefix); !ok || k != s.Kind || s.Kind.TokenPrefix() != s.Prefix {
			t.Errorf("%s: prefix %q round trip gave %q %v", s.Kind, s.Prefix, k, ok)
		}
	}
	if len(seenKind) != gatehouse.NumKinds {
		t.Errorf("NumKinds %d, table has %d", gatehouse.NumKinds, len(seenKind))
	}
	for _, k := range []gatehouse.Kind{gatehouse.KindGuest, "", "PAT"} {
		if _, ok := k.Spec(); ok || k.Index() != 0 {
			t.Errorf("%q is in the table", k)
		}
	}
	if _, ok := gatehouse.KindForPrefix(""); ok {
		t.Error(`KindForPrefix("") found a kind`)
	}
}
