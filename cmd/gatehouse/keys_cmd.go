package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/signing"
)

// The keys commands show and rotate the issuer's signing keys (the JWKS
// of OpenID Connect and JWT access tokens, docs/oidc-keys.md). The
// janitor rotates on its own; `keys rotate` starts a rotation at once (a
// suspected key compromise, an algorithm change to take effect now).

// signingKeyJSON is a key in --json output: never the private key.
type signingKeyJSON struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	Generation  int        `json:"generation"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	UseAfter    time.Time  `json:"use_after"`
	RetireAt    *time.Time `json:"retire_at"`
	RemoveAfter *time.Time `json:"remove_after"`
}

// keyState names a key's stage at now: pending (published, not yet
// signing), signing, retired (published, verifying only) or removed.
func keyState(k *gatehouse.SigningKey, now time.Time) string {
	switch {
	case !k.Published(now):
		return "removed"
	case k.Signs(now):
		return "signing"
	case now.Before(k.UseAfter):
		return "pending"
	}
	return "retired"
}

func signingKeyOut(k *gatehouse.SigningKey, now time.Time) signingKeyJSON {
	return signingKeyJSON{KID: k.ID, Alg: k.Alg, Generation: k.Generation, State: keyState(k, now),
		CreatedAt: k.CreatedAt.UTC(), UseAfter: k.UseAfter.UTC(), RetireAt: utcPtr(k.RetireAt), RemoveAfter: utcPtr(k.RemoveAfter)}
}

func newKeysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Show and rotate the signing keys of the issuer's JWKS (OpenID Connect, JWT access tokens)"}
	cmd.AddCommand(keysListCmd(g), keysRotateCmd(g))
	return cmd
}

// withSigner opens the store and the issuer's signer for run.
func (g *globals) withSigner(run func(ctx context.Context, s *signing.Signer) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		st, err := g.openStore(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		cfg := g.cfg
		cfg.DatabaseURL = config.ResolveDatabaseURL(g.database)
		s, err := server.NewSigner(cfg, st, slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		return run(cmd.Context(), s)
	}
}

func keysListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the issuer's signing keys, newest first, with their stage (never a private key)",
		Args:  cobra.NoArgs,
		RunE: g.withSigner(func(ctx context.Context, s *signing.Signer) error {
			keys, err := s.Keys(ctx)
			if err != nil {
				return err
			}
			now := time.Now()
			out := make([]signingKeyJSON, 0, len(keys))
			for _, k := range keys {
				out = append(out, signingKeyOut(k, now))
			}
			if asJSON {
				return writeJSON(g.stdout, out)
			}
			if len(out) == 0 {
				fmt.Fprintf(g.stdout, "%s has no signing keys yet (the server makes the first when it is asked for one)\n", s.Issuer())
				return nil
			}
			tw := table(g.stdout)
			fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNS FROM\tRETIRES\tREMOVED")
			for _, k := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.State, when(&k.CreatedAt, ""), when(&k.UseAfter, ""),
					when(k.RetireAt, "-"), when(k.RemoveAfter, "-"))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print a JSON array of {"kid","alg","state",…}`)
	return cmd
}

func keysRotateCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Create the issuer's next signing key now: published at once, signing after the pre-publication (GATEHOUSE_OIDC_KEY_PREPUBLISH)",
		Args:  cobra.NoArgs,
		RunE: g.withSigner(func(ctx context.Context, s *signing.Signer) error {
			k, ok, err := s.Rotate(ctx, true)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("another rotation of %s committed at the same moment; see gatehouse keys list", s.Issuer())
			}
			if asJSON {
				return writeJSON(g.stdout, signingKeyOut(k, time.Now()))
			}
			fmt.Fprintf(g.stdout, "created signing key %s (%s); it is in the JWKS now and signs from %s\n", k.ID, k.Alg, when(&k.UseAfter, ""))
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the new key as JSON")
	return cmd
}
