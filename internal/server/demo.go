package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// Demo names the demo tenant and its owner.
const (
	DemoTenant = "demo"
	DemoOwner  = "owner@demo.test"
)

// DemoCredentials are printed once when `serve --demo` starts.
type DemoCredentials struct {
	Email    string
	Password string
	Token    string
	Scopes   []string
}

// DemoTokenName is the name of the personal access token SeedDemo mints.
const DemoTokenName = "serve --demo"

// SeedDemo makes sure the demo tenant and its owner exist, gives the owner
// a fresh password, and generates a fresh personal access token for the
// README's tour. Both are returned to be printed once; they are stored only
// hashed. Re-running it on an existing database keeps everything else but
// the previous start's demo token, which it revokes: the token holds
// manage and never expires, and since its plaintext is not stored it
// cannot be printed again, so each start replaces it rather than adding
// one more (docs/decisions.md, issue 14).
func (s *Server) SeedDemo(ctx context.Context) (*DemoCredentials, error) {
	st := s.Store
	t, err := st.FindTenantBySlug(ctx, DemoTenant)
	if gatehouse.IsCode(err, gatehouse.ENOTFOUND) {
		t, err = s.Admin.CreateTenant(ctx, DemoTenant, "Demo Store", gatehouse.PlanEnterprise)
	}
	if err != nil {
		return nil, fmt.Errorf("demo tenant: %w", err)
	}
	password := secret.RandomString(16, "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
	op := admin.Actor{TenantID: t.ID, Name: admin.OperatorName, Operator: true}
	u, err := st.FindUserByEmail(ctx, DemoOwner)
	switch {
	case gatehouse.IsCode(err, gatehouse.ENOTFOUND):
		if _, err := s.Admin.AddMember(ctx, op, admin.NewMember{Email: DemoOwner, Role: gatehouse.RoleOwner, Password: password}); err != nil {
			return nil, fmt.Errorf("demo owner: %w", err)
		}
		if u, err = st.FindUserByEmail(ctx, DemoOwner); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		u.PasswordHash = secret.HashPassword(password)
		if err := st.UpdateUser(ctx, u); err != nil {
			return nil, fmt.Errorf("demo owner password: %w", err)
		}
	}
	a, err := s.Admin.ActorFor(ctx, t.ID, u.ID, "")
	if err != nil {
		return nil, err
	}
	a.Name = admin.OperatorName
	if err := s.revokeDemoTokens(ctx, a); err != nil {
		return nil, err
	}
	scopes := []string{"catalog", "sales", gatehouse.ScopeManage, gatehouse.ScopeVerify}
	c, tok, err := s.Admin.CreateCredential(ctx, a, gatehouse.KindPAT, admin.CredentialInput{
		Name:   DemoTokenName,
		Scopes: scopes,
	})
	if err != nil {
		return nil, fmt.Errorf("demo token: %w", err)
	}
	return &DemoCredentials{Email: DemoOwner, Password: password, Token: tok, Scopes: c.Scopes}, nil
}

// revokeDemoTokens revokes the demo owner's (a's) live demo tokens: the
// one named DemoTokenName and those of earlier releases, named "demo "
// and the time they were made. Tokens the owner made are kept.
func (s *Server) revokeDemoTokens(ctx context.Context, a admin.Actor) error {
	live, err := gatehouse.Collect(func(q gatehouse.PageQuery) (gatehouse.Page[*gatehouse.Credential], error) {
		return s.Admin.Credentials(ctx, a, gatehouse.KindPAT, gatehouse.CredentialFilter{UserID: a.UserID, Page: q})
	})
	if err != nil {
		return fmt.Errorf("demo tokens: %w", err)
	}
	for _, c := range live {
		if !isDemoToken(c.Name) {
			continue
		}
		if err := s.Admin.RevokeCredential(ctx, a, gatehouse.KindPAT, c.ID); err != nil {
			return fmt.Errorf("revoke the previous demo token: %w", err)
		}
	}
	return nil
}

func isDemoToken(name string) bool {
	if name == DemoTokenName {
		return true
	}
	at, ok := strings.CutPrefix(name, "demo ")
	if !ok {
		return false
	}
	_, err := time.Parse(time.DateTime, at)
	return err == nil
}
