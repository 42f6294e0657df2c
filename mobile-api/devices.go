package mobileapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"valise"
	"valise/crypto/keyring"
	"valise/internal/db"
	"valise/mobile-api/client"
	"valise/policy"
	"valise/tlog"
)

// Device is an enrolled phone as officers see it.
type Device struct {
	ID              string     `json:"id"`
	UserID          string     `json:"user_id"`
	Username        string     `json:"username"`
	Label           string     `json:"label"`
	Status          string     `json:"status"` // active, suspended, revoked
	StatusReason    string     `json:"status_reason,omitempty"`
	StatusChangedBy string     `json:"status_changed_by,omitempty"`
	StatusChangedAt *time.Time `json:"status_changed_at,omitempty"`
	PublicKey       string     `json:"public_key"` // base64 Ed25519
	EnrolledAt      time.Time  `json:"enrolled_at"`
	EnrolledBy      string     `json:"enrolled_by"`
	LastCounter     int64      `json:"last_counter"`
	LastSeenAt      *time.Time `json:"last_seen_at,omitempty"`
}

const deviceColumns = `d.id, d.user_id, u.username, d.label, d.status, d.status_reason, d.status_changed_by,
	d.status_changed_at, d.public_key, d.enrolled_at, d.enrolled_by, d.last_counter, d.last_seen_at`

func scanDevice(row pgx.Row) (*Device, error) {
	var d Device
	var key []byte
	err := row.Scan(&d.ID, &d.UserID, &d.Username, &d.Label, &d.Status, &d.StatusReason, &d.StatusChangedBy,
		&d.StatusChangedAt, &key, &d.EnrolledAt, &d.EnrolledBy, &d.LastCounter, &d.LastSeenAt)
	d.PublicKey = base64.StdEncoding.EncodeToString(key)
	return &d, err
}

// Enrolment validity: default and most minutes a code is valid.
const (
	defaultEnrolMinutes = 15
	maxEnrolMinutes     = 60
)

// QRPrefix starts the text of an enrolment QR code.
const QRPrefix = "VALISE-ENROL:1:"

var codeEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// normalCode is the code as hashed: upper case, no dashes or spaces.
func normalCode(s string) string {
	return strings.NewReplacer("-", "", " ", "").Replace(strings.ToUpper(strings.TrimPrefix(strings.TrimSpace(s), QRPrefix)))
}

func hashCode(code string) []byte {
	h := sha256.Sum256([]byte("valise-enrolment-code\x00" + normalCode(code)))
	return h[:]
}

// createEnrolment: a security officer creates a one-time code for a courier.
func (a *API) createEnrolment(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username     string `json:"username"`
		ValidMinutes int    `json:"valid_minutes,omitempty"`
	}
	if err := a.Decode(r, &in); err != nil {
		a.Error(w, r, err)
		return
	}
	sub, ok := a.officer(w, r)
	if !ok {
		return
	}
	if in.ValidMinutes == 0 {
		in.ValidMinutes = defaultEnrolMinutes
	}
	var fe []valise.FieldError
	if strings.TrimSpace(in.Username) == "" {
		fe = append(fe, valise.FieldError{Field: "username", Reason: "required: the courier the phone is for"})
	}
	if in.ValidMinutes < 1 || in.ValidMinutes > maxEnrolMinutes {
		fe = append(fe, valise.FieldError{Field: "valid_minutes", Reason: "1 to " + strconv.Itoa(maxEnrolMinutes)})
	}
	if fe != nil {
		a.Error(w, r, valise.Invalid("the enrolment is incomplete", fe...))
		return
	}
	var userID, unit string
	var roles []string
	var active bool
	err := a.Pool.QueryRow(r.Context(), `SELECT u.id, n.code, u.roles, u.active FROM users u JOIN units n ON n.id = u.unit_id
		WHERE u.username = $1`, in.Username).Scan(&userID, &unit, &roles, &active)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (!active || !slices.Contains(roles, policy.RoleCourier) || !covers(sub, unit))) {
		a.Error(w, r, valise.Invalid("no such courier", valise.FieldError{Field: "username", Reason: "not an active courier you oversee"}))
		return
	}
	if err != nil {
		a.Error(w, r, err)
		return
	}
	var raw [15]byte
	_, _ = rand.Read(raw[:])
	c := codeEncoding.EncodeToString(raw[:]) // 24 characters, 120 bits
	code := c[0:6] + "-" + c[6:12] + "-" + c[12:18] + "-" + c[18:24]
	var id string
	var expires time.Time
	err = a.Pool.QueryRow(r.Context(), `INSERT INTO device_enrolments (code_hash, user_id, created_by, expires_at)
		VALUES ($1, $2, $3, now() + make_interval(mins => $4)) RETURNING id, expires_at`,
		hashCode(code), userID, sub.Username, in.ValidMinutes).Scan(&id, &expires)
	if err != nil {
		a.Error(w, r, err)
		return
	}
	a.Log.InfoContext(r.Context(), "device enrolment code created", "enrolment", id, "courier", in.Username, "by", sub.Username)
	w.Header().Set("Cache-Control", "no-store")
	a.JSON(w, http.StatusCreated, map[string]any{"id": id, "username": in.Username, "code": code,
		"qr_text": QRPrefix + code, "expires_at": expires})
}

// covers reports whether an officer's scope covers unit.
func covers(s policy.Subject, unit string) bool {
	return slices.Contains(s.Scope, "*") || slices.Contains(s.Scope, unit)
}

func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// enrol: the phone presents the one-time code and its public key.
func (a *API) enrol(w http.ResponseWriter, r *http.Request) {
	if !a.enrolLimit.allow(remoteHost(r)) {
		w.Header().Set("Retry-After", "60")
		a.Error(w, r, valise.Errorf(valise.ETOOMANY, "too many enrolment attempts; try again later"))
		return
	}
	var in struct {
		Code      string `json:"code"`
		PublicKey string `json:"public_key"`
		Label     string `json:"label,omitempty"`
	}
	if err := a.Decode(r, &in); err != nil {
		a.Error(w, r, err)
		return
	}
	key, err := base64.StdEncoding.DecodeString(in.PublicKey)
	var fe []valise.FieldError
	if err != nil || len(key) != ed25519.PublicKeySize {
		fe = append(fe, valise.FieldError{Field: "public_key", Reason: "base64 of a 32-byte Ed25519 public key"})
	}
	if strings.TrimSpace(in.Code) == "" {
		fe = append(fe, valise.FieldError{Field: "code", Reason: "required"})
	}
	if len(in.Label) > 100 {
		fe = append(fe, valise.FieldError{Field: "label", Reason: "at most 100 characters"})
	}
	if fe != nil {
		a.Error(w, r, valise.Invalid("the enrolment is incomplete", fe...))
		return
	}
	var out struct {
		DeviceID string    `json:"device_id"`
		UserID   string    `json:"user_id"`
		Username string    `json:"username"`
		Status   string    `json:"status"`
		Root     string    `json:"trust_root"`
		LogKey   string    `json:"log_key"`
		At       time.Time `json:"enrolled_at"`
	}
	err = db.InTx(r.Context(), a.Pool, func(tx pgx.Tx) error {
		var enrolment, by string
		var used *time.Time
		var expired bool
		err := tx.QueryRow(r.Context(), `SELECT e.id, e.user_id, u.username, e.created_by, e.used_at, e.expires_at <= now()
			FROM device_enrolments e JOIN users u ON u.id = e.user_id WHERE e.code_hash = $1 FOR UPDATE OF e`, hashCode(in.Code)).
			Scan(&enrolment, &out.UserID, &out.Username, &by, &used, &expired)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return enrolRefused("enrolment_code_unknown", "no such enrolment code")
		case err != nil:
			return err
		case used != nil:
			return enrolRefused("enrolment_code_used", "the enrolment code was already used; ask a security officer for a new one")
		case expired:
			return enrolRefused("enrolment_code_expired", "the enrolment code has expired; ask a security officer for a new one")
		}
		err = tx.QueryRow(r.Context(), `INSERT INTO devices (user_id, public_key, label, enrolled_by)
			VALUES ($1, $2, $3, $4) RETURNING id, status, enrolled_at`, out.UserID, key, in.Label, by).
			Scan(&out.DeviceID, &out.Status, &out.At)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return &valise.Error{Code: valise.ECONFLICT, Message: "this public key is already enrolled; generate a new key pair",
				Extra: map[string]any{"reason": "key_enrolled"}}
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(r.Context(), `UPDATE device_enrolments SET used_at = now(), device_id = $2 WHERE id = $1`,
			enrolment, out.DeviceID); err != nil {
			return err
		}
		_, root, err := keyring.Root(r.Context(), tx)
		if err != nil {
			return err
		}
		out.Root = base64.StdEncoding.EncodeToString(root)
		out.LogKey, _ = tlog.VerifierKey(r.Context(), tx) // none yet before the integrator first runs
		return nil
	})
	if err != nil {
		a.Log.WarnContext(r.Context(), "device enrolment refused", "addr", remoteHost(r), "reason", valise.ErrorMessage(err))
		a.Error(w, r, err)
		return
	}
	a.Log.InfoContext(r.Context(), "device enrolled", "device", out.DeviceID, "courier", out.Username)
	a.JSON(w, http.StatusCreated, out)
}

func enrolRefused(reason, msg string) error {
	return &valise.Error{Code: valise.EFORBIDDEN, Message: msg, Extra: map[string]any{"reason": reason}}
}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request) {
	sub, ok := a.officer(w, r)
	if !ok {
		return
	}
	rows, err := a.Pool.Query(r.Context(), `SELECT `+deviceColumns+`, n.code FROM devices d JOIN users u ON u.id = d.user_id
		JOIN units n ON n.id = u.unit_id WHERE ($1 = '' OR u.username = $1) ORDER BY d.enrolled_at, d.id`, r.URL.Query().Get("username"))
	if err != nil {
		a.Error(w, r, err)
		return
	}
	list := []*Device{}
	for rows.Next() {
		var d Device
		var key []byte
		var unit string
		if err := rows.Scan(&d.ID, &d.UserID, &d.Username, &d.Label, &d.Status, &d.StatusReason, &d.StatusChangedBy,
			&d.StatusChangedAt, &key, &d.EnrolledAt, &d.EnrolledBy, &d.LastCounter, &d.LastSeenAt, &unit); err != nil {
			rows.Close()
			a.Error(w, r, err)
			return
		}
		d.PublicKey = base64.StdEncoding.EncodeToString(key)
		if covers(sub, unit) {
			list = append(list, &d)
		}
	}
	if err := rows.Err(); err != nil {
		a.Error(w, r, err)
		return
	}
	a.JSON(w, http.StatusOK, map[string]any{"devices": list})
}

// loadDevice reads a device an officer oversees; any other is not found.
func (a *API) loadDevice(r *http.Request, sub policy.Subject, q db.Querier, lock string) (*Device, error) {
	id := chi.URLParam(r, "id")
	if !db.ValidUUID(id) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such device")
	}
	var unit string
	d, err := scanDevice(q.QueryRow(r.Context(), `SELECT `+deviceColumns+` FROM devices d JOIN users u ON u.id = d.user_id
		WHERE d.id = $1`+lock, id))
	if err == nil {
		err = q.QueryRow(r.Context(), `SELECT n.code FROM users u JOIN units n ON n.id = u.unit_id WHERE u.id = $1`, d.UserID).Scan(&unit)
	}
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !covers(sub, unit)) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such device")
	}
	return d, err
}

func (a *API) getDevice(w http.ResponseWriter, r *http.Request) {
	sub, ok := a.officer(w, r)
	if !ok {
		return
	}
	d, err := a.loadDevice(r, sub, a.Pool, "")
	if err != nil {
		a.Error(w, r, err)
		return
	}
	a.JSON(w, http.StatusOK, d)
}

// setStatus suspends, reinstates or revokes a device. Revocation is final.
func (a *API) setStatus(status string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Reason string `json:"reason,omitempty"`
		}
		if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
			if err := a.Decode(r, &in); err != nil {
				a.Error(w, r, err)
				return
			}
		}
		sub, ok := a.officer(w, r)
		if !ok {
			return
		}
		if len(in.Reason) > 500 {
			a.Error(w, r, valise.Invalid("bad reason", valise.FieldError{Field: "reason", Reason: "at most 500 characters"}))
			return
		}
		var d *Device
		err := db.InTx(r.Context(), a.Pool, func(tx pgx.Tx) error {
			cur, err := a.loadDevice(r, sub, tx, " FOR UPDATE OF d")
			if err != nil {
				return err
			}
			if cur.Status == "revoked" {
				return &valise.Error{Code: valise.ECONFLICT, Message: "the device is revoked; enrol a new one",
					Extra: map[string]any{"reason": "device_revoked", "current_state": cur.Status}}
			}
			if _, err := tx.Exec(r.Context(), `UPDATE devices SET status = $2, status_reason = $3, status_changed_by = $4,
				status_changed_at = now() WHERE id = $1`, cur.ID, status, in.Reason, sub.Username); err != nil {
				return err
			}
			d, err = a.loadDevice(r, sub, tx, "")
			return err
		})
		if err != nil {
			a.Error(w, r, err)
			return
		}
		a.Log.InfoContext(r.Context(), "device status changed", "device", d.ID, "status", status, "by", sub.Username)
		a.JSON(w, http.StatusOK, d)
	}
}

// requestTolerance is how far a signed request's timestamp may be from the
// server's clock.
const requestTolerance = 5 * time.Minute

// requireDevice verifies the device's signature over the request (method,
// path, timestamp, body) and that the device is active and its courier an
// active user. Every refusal answers the same 401 (an unknown, suspended
// or revoked device, a bad signature look alike) and is logged with its
// reason.
func (a *API) requireDevice(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(reason string) {
			a.Log.WarnContext(r.Context(), "device request refused", "reason", reason, "device", r.Header.Get(client.HeaderDevice),
				"addr", remoteHost(r), "path", r.URL.Path)
			a.Error(w, r, valise.Errorf(valise.EUNAUTHORIZED, "the request is not signed by an active enrolled device"))
		}
		body, rerr := io.ReadAll(r.Body)
		if rerr != nil {
			a.Error(w, r, valise.Errorf(valise.ETOOLARGE, "the request body is too large"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		// A malformed body is answered as such, signed or not (as on the
		// online routes); that reveals nothing about devices.
		if len(body) > 0 || r.Header.Get("Content-Type") != "" {
			var v any
			probe := r.Clone(r.Context())
			probe.Body = io.NopCloser(bytes.NewReader(body))
			if err := a.Decode(probe, &v); err != nil {
				a.Error(w, r, err)
				return
			}
		}
		id := r.Header.Get(client.HeaderDevice)
		ts, err := strconv.ParseInt(r.Header.Get(client.HeaderTimestamp), 10, 64)
		sig, serr := base64.StdEncoding.DecodeString(r.Header.Get(client.HeaderSignature))
		if !db.ValidUUID(id) || err != nil || serr != nil {
			refuse("missing or malformed signature headers")
			return
		}
		if d := a.now().Sub(time.Unix(ts, 0)); d > requestTolerance || d < -requestTolerance {
			refuse("timestamp outside tolerance")
			return
		}
		var key []byte
		var status, userID string
		err = a.Pool.QueryRow(r.Context(), `SELECT public_key, status, user_id FROM devices WHERE id = $1`, id).Scan(&key, &status, &userID)
		if errors.Is(err, pgx.ErrNoRows) {
			refuse("unknown device")
			return
		}
		if err != nil {
			a.Error(w, r, err)
			return
		}
		if !ed25519.Verify(key, client.RequestMessage(r.Method, r.URL.RequestURI(), ts, body), sig) {
			refuse("bad signature")
			return
		}
		if status != "active" {
			refuse("device " + status)
			return
		}
		u, err := a.Ident.GetUser(r.Context(), userID)
		if err != nil || !u.Active || !slices.Contains(u.Roles, policy.RoleCourier) {
			refuse("the device's courier is not an active courier")
			return
		}
		ctx := policy.WithSubject(r.Context(), u.Subject())
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, deviceKey{}, &device{ID: id, UserID: userID, Subject: u.Subject(), Key: key})))
	})
}
