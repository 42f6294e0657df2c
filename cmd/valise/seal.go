package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // photographed seals
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"valise/crypto/keyring"
	"valise/crypto/seal"
	"valise/crypto/trust"
)

const sealUsage = `Usage: valise seal verify [TEXT|-] [--png FILE] --trust FILE [--root-key B64 | --root-key-file FILE] [--allow-stale] [--now RFC3339]

Verifies a seal fully offline: no database, no network. The seal is TEXT,
standard input ("-" or no argument), or the QR code in a PNG/JPEG image.
The trust list is a saved copy of GET /api/v1/trust-list (or 'valise keys
trust-list'); its root public key must be pinned with --root-key or
--root-key-file; without either, the pin that 'valise serve' (with demo data
or a root key) and 'valise keys root' write: $VALISE_DATA_DIR/seal-root.pub,
by default ./.valise/seal-root.pub.

Exit status: 0 valid; 1 invalid (signature, key, revocation, expiry, a trust
list that is forged, from the future, or stale without --allow-stale);
2 unusable input (no readable seal, unreadable files, missing flags).`

// runSeal is `valise seal verify`.
func runSeal(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, sealUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	return sealVerify(args[1:], os.Stdin, stdout, stderr)
}

func sealVerify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("valise seal verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, sealUsage+"\n\nFlags:"); fs.PrintDefaults() }
	pngFile := fs.String("png", "", "read the seal from the QR code in this image")
	trustFile := fs.String("trust", "", "saved trust list (required)")
	rootKey := fs.String("root-key", "", "root public key, base64")
	rootKeyFile := fs.String("root-key-file", "", "file holding the root public key, base64")
	allowStale := fs.Bool("allow-stale", false, "accept a trust list past its stale-after time")
	nowArg := fs.String("now", "", "verify as of this time (RFC 3339); default now")
	// Flags may come before or after the seal text.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	unusable := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "valise seal verify: unusable input: "+format+"\n", a...)
		return 2
	}
	if len(positional) > 1 || len(positional) == 1 && *pngFile != "" {
		return unusable("give one seal: TEXT, - or --png FILE")
	}
	if *trustFile == "" {
		return unusable("--trust FILE is required (save it from GET /api/v1/trust-list)")
	}
	now := time.Now()
	if *nowArg != "" {
		t, err := time.Parse(time.RFC3339, *nowArg)
		if err != nil {
			return unusable("--now: %v", err)
		}
		now = t
	}
	root, err := rootPublicKey(*rootKey, *rootKeyFile)
	if err != nil {
		return unusable("%v", err)
	}

	// The seal text.
	var text string
	switch {
	case *pngFile != "":
		if text, err = decodeQRFile(*pngFile); err != nil {
			return unusable("%v", err)
		}
	case len(positional) == 1 && positional[0] != "-":
		text = positional[0]
	default:
		b, err := io.ReadAll(io.LimitReader(stdin, seal.MaxTextLen+2))
		if err != nil {
			return unusable("reading standard input: %v", err)
		}
		text = strings.TrimRight(string(b), "\r\n")
	}

	// The trust list.
	doc, err := os.ReadFile(*trustFile)
	if err != nil {
		return unusable("trust list: %v", err)
	}
	list, err := trust.ParseAt(doc, root, now)
	switch {
	case errors.Is(err, trust.ErrTooLarge) || errors.Is(err, trust.ErrFormat):
		return unusable("trust list %s: %v", *trustFile, err)
	case err != nil:
		fmt.Fprintf(stdout, "INVALID: trust list refused: %v\n", err)
		return 1
	}
	age := list.Age(now).Round(time.Second)
	fmt.Fprintf(stdout, "trust list: sequence %d, issued %s, %s old, stale after %s\n", list.Sequence,
		list.IssuedAt.UTC().Format(time.RFC3339), age, list.StaleAfter.UTC().Format(time.RFC3339))

	sealed, err := seal.Parse(text)
	if err != nil {
		return unusable("not a readable seal (%s): %v", seal.Code(err), err)
	}
	v := keyring.View(sealed)
	verr := sealed.Verify(list, now)
	if verr == nil {
		fmt.Fprintln(stdout, "claims (signed):")
	} else {
		fmt.Fprintln(stdout, "claims (NOT trustworthy):")
	}
	fmt.Fprintf(stdout, "  bag            %s\n  registry no.   %s\n  from -> to     %s -> %s\n  package        %d of %d\n",
		v.BagID, v.Registry, v.Origin, v.Destination, v.Package, v.Packages)
	if v.PhysicalSeal != "" {
		fmt.Fprintf(stdout, "  physical seal  %s\n", v.PhysicalSeal)
	}
	fmt.Fprintf(stdout, "  manifest hash  %s\n  issued         %s\n  expires        %s\n  seal serial    %s\n  key            %s\n",
		v.ManifestHash, v.IssuedAt.Format(time.RFC3339), v.Expires.Format(time.RFC3339), v.Serial, v.KID)
	if verr != nil {
		fmt.Fprintf(stdout, "INVALID: %s: %v\n", seal.Code(verr), verr)
		return 1
	}
	if list.Stale(now) && !*allowStale {
		fmt.Fprintf(stdout, "INVALID: trust_list_stale: the trust list is %s old (stale since %s); fetch a fresh one or pass --allow-stale\n",
			age, list.StaleAfter.UTC().Format(time.RFC3339))
		return 1
	}
	if list.Stale(now) {
		fmt.Fprintf(stdout, "VALID (against a STALE trust list, %s old: revocations since then are unknown)\n", age)
		return 0
	}
	fmt.Fprintln(stdout, "VALID")
	return 0
}

// rootPublicKey reads the pinned root key. There is deliberately no
// fallback (such as the key inside the trust list): a verifier that took the
// root from the document it verifies would accept any forger's list.
func rootPublicKey(b64, file string) (ed25519.PublicKey, error) {
	switch {
	case b64 != "" && file != "":
		return nil, errors.New("give --root-key or --root-key-file, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("root key: %w", err)
		}
		b64 = string(b)
	case b64 == "":
		// The pin `valise serve` and `valise keys root` write in the data directory.
		path := filepath.Join(defaultDataDir(), RootKeyFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("the root public key must be pinned: --root-key B64 or --root-key-file FILE "+
				"(default %s, written by 'valise serve' and 'valise keys root'): %w", path, err)
		}
		b64 = string(b)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(k) != ed25519.PublicKeySize {
		return nil, errors.New("root key: want the base64 of a 32-byte Ed25519 public key")
	}
	return k, nil
}

// maxImageBytes bounds the image read; a seal photo or print is far smaller.
const maxImageBytes = 16 << 20

// decodeQRFile reads the QR code in a PNG or JPEG image with gozxing.
func decodeQRFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if len(b) > maxImageBytes {
		return "", fmt.Errorf("%s: image larger than %d bytes", path, maxImageBytes)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("%s: not a PNG or JPEG image: %w", path, err)
	}
	if cfg.Width*cfg.Height > 64<<20 {
		return "", fmt.Errorf("%s: image of %dx%d pixels is too large", path, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	text, err := seal.ReadQR(img)
	if err != nil {
		return "", fmt.Errorf("%s: no readable QR code: %w", path, err)
	}
	return text, nil
}
