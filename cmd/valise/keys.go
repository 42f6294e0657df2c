package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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

// keyVerbs are the verbs of `valise keys`, each with its synopsis and description.
var keyVerbs = []struct{ verb, synopsis, about string }{
	{"init-root", "[flags]", "Creates the root key, publishes the first trust list and writes <data-dir>/" + RootKeyFile + "."},
	{"issue", "--office CODE [--not-before RFC3339] [flags]", "Creates an office's seal key."},
	{"rotate", "--office CODE [--overlap 720h] [flags]", "Creates a new key for the office; the old one stays listed for the overlap."},
	{"retire", "--kid KID [--overlap 720h] [flags]", "Stops a key signing; it stays listed for the overlap."},
	{"revoke", "--kid KID [--reason TEXT] [flags]", "The key is compromised: every seal it signed fails."},
	{"root", "[flags]", "Prints the root public key and pins it in <data-dir>/" + RootKeyFile + "."},
	{"list", "[flags]", "Lists the office keys."},
	{"trust-list", "[--out FILE] [flags]", "Writes the current signed trust list (to standard output by default)."},
}

func keysUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: valise keys <verb> [flags]\n\nSeal-signing keys (root + one per office, sealed under the master key) and the trust list.\nVerbs:")
	for _, v := range keyVerbs {
		fmt.Fprintf(w, "  %-11s %s\n", v.verb, v.about)
	}
	fmt.Fprintln(w, "\nRun 'valise keys <verb> --help' for a verb's flags. Works while serve runs on the private cluster.")
}

// runKeys manages seal-signing keys in the configured database.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		keysUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	verb := args[0]
	var office, kidArg, reason, notBeforeArg, out string
	var overlap time.Duration
	spec := cli{name: "keys " + verb, settings: append([]string{"trust-stale-after", "seal-lifetime"}, dbSettings...)}
	for _, v := range keyVerbs {
		if v.verb == verb {
			spec.synopsis, spec.about = v.synopsis, v.about
		}
	}
	if spec.synopsis == "" {
		fmt.Fprintf(stderr, "valise keys: unknown verb %q\n\n", verb)
		keysUsage(stderr)
		return 2
	}
	spec.own = func(fs *flag.FlagSet) {
		switch verb {
		case "issue", "rotate":
			fs.StringVar(&office, "office", "", "the office's unit code (required)")
		case "retire", "revoke":
			fs.StringVar(&kidArg, "kid", "", "the key id (required)")
		}
		switch verb {
		case "issue":
			fs.StringVar(&notBeforeArg, "not-before", "", "when the key starts signing (RFC 3339; default now)")
		case "rotate", "retire":
			fs.DurationVar(&overlap, "overlap", 0, "how long the old key stays listed (default: the keyring's)")
		case "revoke":
			fs.StringVar(&reason, "reason", "", "why the key is revoked (recorded)")
		case "trust-list":
			fs.StringVar(&out, "out", "", "file to write (default standard output)")
		}
	}
	c, fs, err := spec.parse(args[1:], stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	need := func(ok bool, what string) bool {
		if !ok {
			fmt.Fprintf(stderr, "valise keys %s: %s is required\n\n", verb, what)
			spec.help(stderr)
		}
		return ok
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "valise keys %s: unexpected argument %q\n", verb, fs.Arg(0))
		return 2
	}
	var notBefore time.Time
	var kid seal.KID
	switch verb {
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
		if overlap < 0 {
			fmt.Fprintf(stderr, "valise keys: --overlap %v is not a positive duration\n", overlap)
			return 2
		}
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
			path, _, err := pinRootKey(c.DataDir, pub)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "root key %s created\npublic key %s\npinned in %s (give it to verifiers: --root-key-file)\n",
				rkid, base64.StdEncoding.EncodeToString(pub), path)
		case "root":
			rkid, pub, err := keyring.Root(ctx, tx)
			if err != nil {
				return err
			}
			path, _, err := pinRootKey(c.DataDir, pub)
			if err != nil {
				return err
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

// pinRootKey writes the seal root public key (base64, one line) to
// <dataDir>/seal-root.pub, where `valise seal verify` looks when given no
// root key. changed says whether the file held another key (or none).
func pinRootKey(dataDir string, pub ed25519.PublicKey) (path string, changed bool, err error) {
	path = filepath.Join(dataDir, RootKeyFile)
	line := base64.StdEncoding.EncodeToString(pub) + "\n"
	if old, err := os.ReadFile(path); err == nil && string(old) == line {
		return path, false, nil
	}
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		return path, false, fmt.Errorf("pin root key: %w", err)
	}
	return path, true, nil
}

// pinServedRoot pins the database's seal root key in the data directory
// when it has one, so offline verification works on this machine with no
// further step (`make run`, then `valise seal verify --trust FILE`).
func pinServedRoot(ctx context.Context, q db.Querier, dataDir string, log *slog.Logger) error {
	_, pub, err := keyring.Root(ctx, q)
	if valise.ErrorCode(err) == valise.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	path, changed, err := pinRootKey(dataDir, pub)
	if err == nil && changed {
		log.Info("pinned the seal root public key for offline verification", "file", path)
	}
	return err
}
