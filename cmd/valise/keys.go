package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/crypto/secret"
	"valise/internal/db"
)

// RootKeyFile is where `valise keys init-root` pins the root public key
// (base64, one line) inside the data directory. Copy it to verifiers along
// with the trust list: `valise seal verify --root-key-file` reads it.
const RootKeyFile = "seal-root.pub"

const keysUsage = `usage: valise keys <verb> [flags]
  init-root                         create the root key; writes <data-dir>/` + RootKeyFile + `
  issue   --office CODE [--not-before RFC3339]   create an office's seal key
  rotate  --office CODE [--overlap 720h]         new key; the old one stays listed for the overlap
  retire  --kid KID [--overlap 720h]             stop a key signing
  revoke  --kid KID [--reason TEXT]              the key is compromised: all its seals fail
  root                              print the root public key and pin it in <data-dir>/` + RootKeyFile + `
  list                              list office keys
  trust-list [--out FILE]           write the current signed trust list (stdout by default)
Database and data-directory flags are those of 'valise serve'.`

// runKeys manages seal-signing keys in the configured database.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, keysUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	verb, rest := args[0], args[1:]
	office, rest := takeFlag(rest, "office")
	kidArg, rest := takeFlag(rest, "kid")
	overlapArg, rest := takeFlag(rest, "overlap")
	reason, rest := takeFlag(rest, "reason")
	notBeforeArg, rest := takeFlag(rest, "not-before")
	out, rest := takeFlag(rest, "out")

	need := func(ok bool, what string) bool {
		if !ok {
			fmt.Fprintf(stderr, "valise keys %s: %s is required\n\n%s\n", verb, what, keysUsage)
		}
		return ok
	}
	var overlap time.Duration
	var notBefore time.Time
	var kid seal.KID
	var err error
	switch verb {
	case "init-root", "root", "list", "trust-list":
	case "issue":
		if !need(office != "", "--office") {
			return 2
		}
		if notBeforeArg != "" {
			if notBefore, err = time.Parse(time.RFC3339, notBeforeArg); err != nil {
				fmt.Fprintln(stderr, "valise keys: --not-before:", err)
				return 2
			}
		}
	case "rotate", "retire", "revoke":
		if verb == "rotate" && !need(office != "", "--office") || verb != "rotate" && !need(kidArg != "", "--kid") {
			return 2
		}
		if kidArg != "" {
			if kid, err = seal.ParseKID(kidArg); err != nil {
				fmt.Fprintln(stderr, "valise keys:", err)
				return 2
			}
		}
		if overlapArg != "" {
			if overlap, err = time.ParseDuration(overlapArg); err != nil || overlap <= 0 {
				fmt.Fprintf(stderr, "valise keys: --overlap %q is not a positive duration\n", overlapArg)
				return 2
			}
		}
	default:
		fmt.Fprintf(stderr, "valise keys: unknown verb %q\n\n%s\n", verb, keysUsage)
		return 2
	}

	c, _, err := parseConfig("keys "+verb, rest, stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	master, err := secret.LoadMasterKey(c.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "valise keys:", err)
		return 1
	}
	kr, err := keyring.New(master, keyring.Options{StaleAfter: c.TrustStale, SealLifetime: c.SealLifetime})
	if err != nil {
		fmt.Fprintln(stderr, "valise keys:", err)
		return 2
	}
	d, err := openDatabase(ctx, c, c.logger(stderr))
	if err != nil {
		fmt.Fprintln(stderr, "valise keys:", err)
		return 1
	}
	defer d.Close()
	if _, err := migrateUp(ctx, d.Pool); err != nil {
		fmt.Fprintln(stderr, "valise keys:", err)
		return 1
	}
	actor := "cli:" + os.Getenv("USER")

	err = db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
		switch verb {
		case "init-root":
			rkid, pub, err := kr.InitRoot(ctx, tx)
			if err != nil {
				return err
			}
			if _, err := kr.Publish(ctx, tx); err != nil {
				return err
			}
			path := filepath.Join(c.DataDir, RootKeyFile)
			if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644); err != nil {
				return fmt.Errorf("pin root key: %w", err)
			}
			fmt.Fprintf(stdout, "root key %s created\npublic key %s\npinned in %s (give it to verifiers: --root-key-file)\n",
				rkid, base64.StdEncoding.EncodeToString(pub), path)
		case "root":
			rkid, pub, err := keyring.Root(ctx, tx)
			if err != nil {
				return err
			}
			path := filepath.Join(c.DataDir, RootKeyFile)
			if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644); err != nil {
				return fmt.Errorf("pin root key: %w", err)
			}
			fmt.Fprintf(stdout, "root key %s\npublic key %s\npinned in %s\n", rkid, base64.StdEncoding.EncodeToString(pub), path)
		case "issue":
			k, err := kr.IssueKey(ctx, tx, office, actor, notBefore)
			if err != nil {
				return err
			}
			printKey(stdout, k)
		case "rotate":
			nk, old, err := kr.Rotate(ctx, tx, office, actor, overlap)
			if err != nil {
				return err
			}
			printKey(stdout, old)
			printKey(stdout, nk)
		case "retire":
			k, err := kr.Retire(ctx, tx, kid, overlap)
			if err != nil {
				return err
			}
			printKey(stdout, k)
		case "revoke":
			k, err := kr.Revoke(ctx, tx, kid, reason)
			if err != nil {
				return err
			}
			printKey(stdout, k)
		case "list":
			ks, err := keyring.Keys(ctx, tx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-11s  %-10s %-8s %-20s %-20s %s\n", "KID", "OFFICE", "STATUS", "NOT BEFORE", "NOT AFTER", "LISTED UNTIL")
			for _, k := range ks {
				printKey(stdout, k)
			}
		case "trust-list":
			p, err := kr.Current(ctx, tx)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = stdout.Write(append(p.Document, '\n'))
				return err
			}
			if err := os.WriteFile(out, p.Document, 0o644); err != nil {
				return fmt.Errorf("write trust list: %w", err)
			}
			fmt.Fprintf(stderr, "trust list %d (issued %s, stale after %s) written to %s\n", p.Sequence,
				p.IssuedAt.Format(time.RFC3339), p.StaleAfter.Format(time.RFC3339), out)
		}
		return nil
	})
	if err != nil {
		var ve *valise.Error
		if errors.As(err, &ve) {
			fmt.Fprintln(stderr, "valise keys:", ve.Message)
			for _, f := range ve.Fields {
				fmt.Fprintf(stderr, "  %s: %s\n", f.Field, f.Reason)
			}
		} else {
			fmt.Fprintln(stderr, "valise keys:", err)
		}
		return 1
	}
	return 0
}

func printKey(w io.Writer, k *keyring.KeyInfo) {
	listed := ""
	if k.ListedUntil != nil {
		listed = k.ListedUntil.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "%-11s  %-10s %-8s %-20s %-20s %s\n", k.KID, k.Office, k.Status,
		k.NotBefore.UTC().Format(time.RFC3339), k.NotAfter.UTC().Format(time.RFC3339), listed)
}
