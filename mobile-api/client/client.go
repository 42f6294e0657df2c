package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"valise/crypto/seal"
	"valise/crypto/trust"
	"valise/tlog"
)

// Client is one phone: its key, its device id once enrolled, and its
// record chain (the next counter and the hash of the last payload).
type Client struct {
	Base string // server base URL, e.g. https://valise.example
	HTTP *http.Client
	Key  ed25519.PrivateKey
	// DeviceID, TrustRoot and LogKey are set by Enrol (a phone stores them).
	DeviceID  string
	TrustRoot ed25519.PublicKey
	LogKey    string
	// Now is the device clock (default time.Now).
	Now func() time.Time

	mu      sync.Mutex
	counter int64  // the last counter used
	prev    []byte // SHA-256 of the last payload
}

// New returns a client with a fresh Ed25519 key pair (the private key never
// leaves the device).
func New(base string, hc *http.Client) *Client {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{Base: base, HTTP: hc, Key: key, prev: make([]byte, sha256.Size)}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Problem is an error answer (RFC 9457).
type Problem struct {
	Status int            `json:"status"`
	Detail string         `json:"detail"`
	Type   string         `json:"type"`
	Body   map[string]any `json:"-"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Type, p.Detail) }

// Enrol enrols the device with a one-time code from a security officer.
func (c *Client) Enrol(ctx context.Context, code, label string) (*Enrolment, error) {
	body, _ := json.Marshal(map[string]string{"code": code, "label": label,
		"public_key": b64(c.Key.Public().(ed25519.PublicKey))})
	var e Enrolment
	if _, err := c.do(ctx, "POST", "/mobile/v1/enrol", body, false, nil, &e); err != nil {
		return nil, err
	}
	root, err := base64.StdEncoding.DecodeString(e.TrustRoot)
	if err != nil || len(root) != ed25519.PublicKeySize {
		return nil, errors.New("enrol: the server sent no valid trust root")
	}
	c.DeviceID, c.TrustRoot, c.LogKey = e.DeviceID, root, e.LogKey
	return &e, nil
}

// Bundle downloads the trust bundle; with etag set (from an earlier
// download) an unchanged bundle answers (nil, etag, nil). The trust list in
// it is checked against the pinned root.
func (c *Client) Bundle(ctx context.Context, etag string) (*Bundle, string, error) {
	h := http.Header{}
	if etag != "" {
		h.Set("If-None-Match", etag)
	}
	var b Bundle
	res, err := c.do(ctx, "GET", "/mobile/v1/bundle", nil, true, h, &b)
	if err != nil {
		return nil, "", err
	}
	if res.StatusCode == http.StatusNotModified {
		return nil, etag, nil
	}
	if _, err := trust.ParseAt(b.TrustList, c.TrustRoot, c.now()); err != nil {
		return nil, "", fmt.Errorf("bundle: the trust list does not verify with the pinned root: %w", err)
	}
	return &b, res.Header.Get("ETag"), nil
}

// Sign builds the device's next record from p: it sets the device id, the
// next counter, the previous record's hash, a fresh idempotency key (unless
// p has one) and the device time (unless set), and signs the payload bytes.
func (c *Client) Sign(p Payload) Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counter++
	p.DeviceID, p.Counter, p.Prev = c.DeviceID, c.counter, hex.EncodeToString(c.prev)
	if p.IdempotencyKey == "" {
		var k [16]byte
		_, _ = rand.Read(k[:])
		p.IdempotencyKey = hex.EncodeToString(k[:])
	}
	if p.DeviceTime.IsZero() {
		p.DeviceTime = c.now().UTC()
	}
	b, _ := json.Marshal(p)
	h := sha256.Sum256(b)
	c.prev = h[:]
	return sign(c.Key, b)
}

// SignRaw signs payload bytes as they are (tests of malformed and forged
// records); it does not advance the chain.
func (c *Client) SignRaw(b []byte) Record { return sign(c.Key, b) }

// Sync sends a batch of records and returns one result per record.
func (c *Client) Sync(ctx context.Context, recs []Record) ([]Result, error) {
	body, _ := json.Marshal(map[string]any{"records": recs})
	var out SyncResponse
	if _, err := c.do(ctx, "POST", "/mobile/v1/sync", body, true, nil, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// do sends a request (signed by the device key when signed) and decodes a
// 2xx JSON answer into out; an error answer is a *Problem.
func (c *Client) do(ctx context.Context, method, path string, body []byte, signed bool, h http.Header, out any) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if signed {
		ts := c.now().Unix()
		req.Header.Set(HeaderDevice, c.DeviceID)
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, b64(ed25519.Sign(c.Key, RequestMessage(method, path, ts, body))))
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 400 {
		p := &Problem{Status: res.StatusCode}
		_ = json.Unmarshal(raw, p)
		_ = json.Unmarshal(raw, &p.Body)
		return res, p
	}
	if res.StatusCode == http.StatusNotModified || out == nil {
		return res, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return res, fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return res, nil
}

// VerifySeal checks a scanned seal offline against a saved bundle: its
// signature under a key of the bundle's trust list (checked against the
// pinned root), not revoked, and that it is one of the bundle's bags; a
// bundle past its offline_until is refused.
func VerifySeal(b *Bundle, root ed25519.PublicKey, text string, now time.Time) (seal.Claims, *BundleBag, error) {
	if now.After(b.OfflineUntil) {
		return seal.Claims{}, nil, fmt.Errorf("the bundle may be used offline only until %s: download a new one", b.OfflineUntil.Format(time.RFC3339))
	}
	l, err := trust.ParseAt(b.TrustList, root, now)
	if err != nil {
		return seal.Claims{}, nil, fmt.Errorf("trust list: %w", err)
	}
	cl, err := seal.Verify(text, l, now)
	if err != nil {
		return cl, nil, err
	}
	for i := range b.Bags {
		if b.Bags[i].ID == cl.BagID.String() {
			return cl, &b.Bags[i], nil
		}
	}
	return cl, nil, errors.New("the seal is authentic but its bag is not on this courier's sheets")
}

// VerifyReceipt checks a C2SP tlog-proof receipt offline with the log key
// saved in the bundle (or pinned at enrolment); it returns the leaf.
func VerifyReceipt(logKey, receipt string) (*tlog.VerifiedReceipt, error) {
	v, err := note.NewVerifier(logKey)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	return tlog.VerifyReceipt([]byte(receipt), nil, v)
}

// RecordQRPrefix starts the text of a QR code carrying a signed record
// (the releasing phone shows its release so the receiver can embed it).
const RecordQRPrefix = "VALISE-REC:1:"

// RecordQR is the QR text of a signed record.
func RecordQR(r Record) string {
	b, _ := json.Marshal(r)
	return RecordQRPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ParseRecordQR reads a record from its QR text.
func ParseRecordQR(text string) (Record, error) {
	var r Record
	s, ok := strings.CutPrefix(text, RecordQRPrefix)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if !ok || err != nil || json.Unmarshal(b, &r) != nil {
		return r, errors.New("not a Valise record QR code")
	}
	return r, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
