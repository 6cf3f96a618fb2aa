package sqlstore

import (
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestListenerDecode(t *testing.T) {
	l := &listener{schema: "s1", origin: "me"}
	tests := []struct {
		payload string
		want    gatehouse.Change
		ok      bool
	}{
		{`{"tenant_id":"t","credential_id":"c","hash":"AAE=","schema":"s1","origin":"you"}`, gatehouse.Change{TenantID: "t", CredentialID: "c", Hash: []byte{0, 1}}, true},
		{`{"tenant_id":"t","schema":"s1","origin":"me"}`, gatehouse.Change{}, false},
		{`{"tenant_id":"t","schema":"s2","origin":"you"}`, gatehouse.Change{}, false},
		// An older node's message: no schema or origin.
		{`{"tenant_id":"t"}`, gatehouse.Change{TenantID: "t"}, true},
		// Undecodable: drop everything.
		{`not json`, gatehouse.Change{}, true},
	}
	for _, tt := range tests {
		got, _, ok := l.decode(&pgconn.Notification{Payload: tt.payload})
		if ok != tt.ok || !cmp.Equal(got, tt.want) {
			t.Errorf("decode(%s) = %+v, %v; want %+v, %v", tt.payload, got, ok, tt.want, tt.ok)
		}
	}
}
