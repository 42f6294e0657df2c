package mobileapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/mobile-api/client"
	"valise/policy"
	"valise/pouch"
)

// Refusal reasons of a synced record (client.Result.Reason) besides the
// pouch's own (not_custodian, no_courier_sheet, handoff_open, ...).
const (
	ReasonMalformed      = "malformed"              // not a record: bad JSON, base64 or fields
	ReasonBadSignature   = "bad_signature"          // not signed by this device's key
	ReasonWrongDevice    = "wrong_device"           // the payload names another device
	ReasonKeyReused      = "idempotency_key_reused" // the key was used for a different record
	ReasonCounter        = "counter_not_increasing" // the counter went backwards or repeated
	ReasonChainBroken    = "chain_broken"           // prev is not the hash of the device's previous record
	ReasonNotOnSheet     = "bag_not_on_sheet"       // no valid courier sheet of the device's courier names the bag
	ReasonInProgress     = "in_progress"            // an earlier sync of this record was interrupted
	ReasonNotProcessed   = "not_processed"          // a server error stopped the batch before this record: re-send it
	ReasonServer         = "server_error"
	FlagClockAhead       = "device_clock_ahead" // device time ahead of the server beyond the tolerance
	FlagTimeBeforePrev   = "device_time_before_previous_record"
	FlagCounterGap       = "counter_gap" // records are missing before this one
	FlagTimeOutsideStale = "device_time_older_than_offline_period"
	FlagRelayed          = "synced_by_receiver" // a release embedded in the receiving phone's confirmation
)

type syncRequest struct {
	Records []json.RawMessage `json:"records"`
}

// chain is a device's position, read once per sync under the device's
// lock, and the batch's caches: the stored results of its idempotency keys
// (one query per batch) and which bags are on the courier's sheets.
type chain struct {
	counter    int64
	hash       []byte
	deviceTime *time.Time
	tolerance  time.Duration
	offlineFor time.Duration
	stored     map[string]storedRecord
	sheets     map[string]bool
	// relayed are the stored results of other devices' records embedded in
	// this batch (device id + "/" + key).
	relayed map[string]storedRecord
	// pending are the device records of the batch, written with the chain's
	// new position in one statement at its end (flush).
	pending []pendingRecord
	// run are consecutive checkpoint scans of one bag waiting to be
	// recorded together (flushRun, pouch.ScanMany); index is the record
	// being verified, results the batch's answers.
	run     []deferred
	index   int
	results []client.Result
	// fresh are the records this sync recorded (by index).
	fresh map[int]bool
}

// deferred is a verified scan record of a run: its place in the chain is
// taken, its result waits for the run.
type deferred struct {
	index int
	p     client.Payload
	sum   []byte
	flags []string
	// before is the chain's position before the record.
	before position
}

type position struct {
	counter    int64
	hash       []byte
	deviceTime *time.Time
}

func (c *chain) position() position { return position{c.counter, c.hash, c.deviceTime} }

func (c *chain) moveTo(p position) { c.counter, c.hash, c.deviceTime = p.counter, p.hash, p.deviceTime }

// joins reports whether record p may join the run waiting.
func (c *chain) joins(p client.Payload) bool {
	if p.Kind != client.KindScan || p.Release != nil || validAction(p) != "" {
		return false
	}
	for _, r := range c.run {
		if r.p.BagID != p.BagID || r.p.IdempotencyKey == p.IdempotencyKey {
			return false
		}
	}
	return true
}

type pendingRecord struct {
	device, key string
	counter     int64
	hash        []byte
	result      []byte
}

// keep queues the device record of key (with its result) for flush.
func (c *chain) keep(device, key string, counter int64, hash, result []byte) {
	c.pending = append(c.pending, pendingRecord{device: device, key: key, counter: counter, hash: hash, result: result})
}

type storedRecord struct {
	hash   []byte
	result []byte // nil: claimed, not yet applied
}

// queueBegin queues in b the reads that begin the batch: the device's row,
// locked so that one sync of a device runs at a time across processes, with
// its chain and the settings; and the stored results of every idempotency
// key of the batch.
func queueBegin(b *pgx.Batch, device string, c *chain, keys []string) {
	c.stored, c.sheets, c.relayed, c.fresh = map[string]storedRecord{}, map[string]bool{}, map[string]storedRecord{}, map[int]bool{}
	b.Queue(`SELECT d.last_counter, d.last_hash, d.last_device_time,
			(SELECT extract(epoch FROM value::interval) FROM mobile_settings WHERE key = 'clock.tolerance'),
			(SELECT extract(epoch FROM value::interval) FROM mobile_settings WHERE key = 'bundle.offline_for')
			FROM devices d WHERE d.id = $1 FOR UPDATE`, device).QueryRow(func(row pgx.Row) error {
		var tol, off float64
		if err := row.Scan(&c.counter, &c.hash, &c.deviceTime, &tol, &off); err != nil {
			return err
		}
		c.tolerance, c.offlineFor = time.Duration(tol)*time.Second, time.Duration(off)*time.Second
		return nil
	})
	b.Queue(`SELECT idempotency_key, payload_sha256, result FROM device_records
			WHERE device_id = $1 AND idempotency_key = ANY($2)`, device, keys).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var k string
			var st storedRecord
			if err := rows.Scan(&k, &st.hash, &st.result); err != nil {
				return err
			}
			c.stored[k] = st
		}
		return rows.Err()
	})
}

// flush writes the batch's device records and the chain's new position
// (one round trip), in the batch's transaction.
func flush(ctx context.Context, q db.Querier, device string, c *chain) error {
	b := &pgx.Batch{}
	if n := len(c.pending); n > 0 {
		devs, keys, counters, hashes, results := make([]string, n), make([]string, n), make([]int64, n), make([][]byte, n), make([]string, n)
		for i, r := range c.pending {
			devs[i], keys[i], counters[i], hashes[i], results[i] = r.device, r.key, r.counter, r.hash, string(r.result)
		}
		b.Queue(`INSERT INTO device_records (device_id, idempotency_key, counter, payload_sha256, result)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bytea[], $5::jsonb[]) ON CONFLICT DO NOTHING`,
			devs, keys, counters, hashes, results)
	}
	b.Queue(`UPDATE devices SET last_counter = $2, last_hash = $3, last_device_time = $4, last_seen_at = now() WHERE id = $1`,
		device, c.counter, c.hash, c.deviceTime)
	return q.SendBatch(ctx, b).Close()
}

// sync verifies and applies a batch of the device's signed records, in
// order; every record gets its own result, stored under (device,
// idempotency key) so that a re-sent batch changes nothing and gets the
// same results (receipts are added once the log has integrated the events).
func (a *API) sync(w http.ResponseWriter, r *http.Request) {
	d := deviceFrom(r.Context())
	in, err := a.readBatch(r)
	if err != nil {
		a.Error(w, r, err)
		return
	}
	if len(in.Records) == 0 {
		a.Error(w, r, valise.Invalid("the batch is empty", valise.FieldError{Field: "records", Reason: "send 1 to " + strconv.Itoa(client.MaxBatch) + " records"}))
		return
	}
	if len(in.Records) > client.MaxBatch {
		a.Error(w, r, &valise.Error{Code: valise.ETOOLARGE,
			Message: fmt.Sprintf("a batch holds at most %d records; this one has %d: split it", client.MaxBatch, len(in.Records)),
			Extra:   map[string]any{"reason": "batch_too_large", "max_records": client.MaxBatch}})
		return
	}
	// One sync per device at a time in this process; across processes the
	// device's row lock (begin) orders them.
	mu, _ := a.devLocks.LoadOrStore(d.ID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	// The whole batch is one request of the write group (db.Grouped, keyed
	// by the device): it runs in the group's transaction, every record's
	// work in a savepoint of its own (a db.Scope on that transaction), so a
	// refused or failed record leaves no trace and the others stay; the
	// answer is sent only after the group's commit. It runs to its end even
	// if the phone goes away (the phone re-sends; the answer is the same).
	ctx := context.WithoutCancel(r.Context())
	parsed := make([]checked, len(in.Records))
	keys := make([]string, 0, len(in.Records))
	for i, raw := range in.Records {
		parsed[i] = parse(d, raw)
		if parsed[i].refusal == nil {
			keys = append(keys, parsed[i].p.IdempotencyKey)
		}
	}
	var (
		c       chain
		results []client.Result
	)
	err = db.InTxBatch(db.Grouped(ctx, d.ID), a.Pool, db.ReadCommitted, func(b *pgx.Batch) error {
		c = chain{}
		queueBegin(b, d.ID, &c, keys)
		return nil
	}, func(tx pgx.Tx) error {
		sc := db.ScopeOn(a.Pool, tx)
		var err error
		results, err = a.syncBatch(db.WithScope(ctx, sc), sc, tx, d, &c, parsed)
		return err
	})
	if err != nil {
		a.Error(w, r, err)
		return
	}
	for _, res := range results {
		if res.Status != "accepted" {
			a.Log.InfoContext(r.Context(), "sync record refused", "device", d.ID, "courier", d.Subject.Username,
				"index", res.Index, "counter", res.Counter, "reason", res.Reason)
		}
	}
	a.addReceipts(r.Context(), results, c.fresh)
	a.JSON(w, http.StatusOK, client.SyncResponse{Results: results})
}

// syncBatch verifies and applies records in sc's transaction. An error
// dooms the batch (the caller rolls it back); a server failure of one
// record that leaves the transaction usable stops the batch there, and the
// records before it stay.
func (a *API) syncBatch(ctx context.Context, sc *db.Scope, q pgx.Tx, d *device, c *chain, records []checked) ([]client.Result, error) {
	results := make([]client.Result, len(records))
	c.results = results
	stopped := false
	for i, pr := range records {
		c.index = i
		if stopped {
			results[i] = client.Result{Index: i, Status: "refused", Reason: ReasonNotProcessed,
				Detail: "a server error stopped the batch before this record; re-send it"}
			continue
		}
		res, err := a.one(ctx, q, d, c, pr)
		if err == nil && res.Status == statusDeferred {
			continue // its result comes with its run
		}
		if err != nil {
			if sc.Failed() != nil {
				return nil, sc.Failed()
			}
			a.Log.ErrorContext(ctx, "sync record failed", "device", d.ID, "index", i, "err", err)
			res = client.Result{Status: "refused", Reason: ReasonServer, Detail: "the server could not record this; re-send it"}
			stopped = true
		}
		res.Index = i
		results[i] = res
	}
	if err := a.flushRun(ctx, q, d, c); err != nil {
		if sc.Failed() != nil {
			return nil, sc.Failed()
		}
		a.Log.ErrorContext(ctx, "sync records failed", "device", d.ID, "err", err)
	}
	if err := flush(ctx, q, d.ID, c); err != nil {
		return nil, err
	}
	return results, nil
}

func refused(reason, detail string) client.Result {
	return client.Result{Status: "refused", Reason: reason, Detail: detail}
}

// checked is a record as parse found it: its payload, or why it is
// refused before it has a place in the chain.
type checked struct {
	p       client.Payload
	sum     [32]byte
	refusal *client.Result
}

// parse decodes a record and verifies its signature: the work of a record
// that needs no database, done for the whole batch before its transaction
// (and on every core) rather than in it.
func parse(d *device, raw json.RawMessage) checked {
	no := func(r client.Result) checked { return checked{refusal: &r} }
	rec, ok := plainRecord(raw)
	if !ok {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return no(refused(ReasonMalformed, "a record is {\"payload\": base64, \"signature\": base64}"))
		}
	}
	payload, err1 := base64.StdEncoding.DecodeString(rec.Payload)
	sig, err2 := base64.StdEncoding.DecodeString(rec.Signature)
	if err1 != nil || err2 != nil || len(payload) == 0 {
		return no(refused(ReasonMalformed, "payload and signature must be standard base64"))
	}
	var p client.Payload
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return no(refused(ReasonMalformed, "the payload is not a record: "+jsonProblem(err)))
	}
	if p.DeviceID != d.ID {
		return no(refused(ReasonWrongDevice, "the record names another device; a device syncs only its own records"))
	}
	if !ed25519.Verify(d.Key, payload, sig) {
		return no(refused(ReasonBadSignature, "the signature does not verify with this device's key"))
	}
	if detail := validPayload(p); detail != "" {
		r := refused(ReasonMalformed, detail)
		r.IdempotencyKey, r.Counter = p.IdempotencyKey, p.Counter
		return no(r)
	}
	return checked{p: p, sum: sha256.Sum256(payload)}
}

// readBatch reads a sync body. A body of the one shape a batch has,
// {"records": [ {...}, ... ]}, is split into its records by their brackets
// (the strict checks have run: api.ReadJSON) instead of by encoding/json,
// which reads every byte of every record twice; anything else is decoded
// as any body is (unknown fields refused).
func (a *API) readBatch(r *http.Request) (syncRequest, error) {
	var in syncRequest
	body, err := a.ReadJSON(r)
	if err != nil {
		return in, err
	}
	if recs, ok := splitRecords(body); ok {
		return syncRequest{Records: recs}, nil
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	return in, a.Decode(r2, &in)
}

// splitRecords returns the objects of body's "records" array when body is
// exactly {"records": [objects]} (JSON white space anywhere), ok false
// otherwise. body is strict JSON already: only the brackets outside
// strings need counting.
func splitRecords(body []byte) (recs []json.RawMessage, ok bool) {
	i := 0
	ws := func() {
		for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
			i++
		}
	}
	expect := func(tok string) bool {
		ws()
		if !bytes.HasPrefix(body[i:], []byte(tok)) {
			return false
		}
		i += len(tok)
		return true
	}
	if !expect("{") || !expect(`"records"`) || !expect(":") || !expect("[") {
		return nil, false
	}
	recs = []json.RawMessage{}
	if expect("]") {
		return recs, expect("}") && func() bool { ws(); return i == len(body) }()
	}
	for {
		ws()
		if i >= len(body) || body[i] != '{' {
			return nil, false
		}
		start, depth, inString := i, 0, false
		for ; i < len(body); i++ {
			c := body[i]
			if inString {
				switch c {
				case '\\':
					i++
				case '"':
					inString = false
				}
				continue
			}
			switch c {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			if depth == 0 {
				i++
				break
			}
		}
		if depth != 0 {
			return nil, false
		}
		recs = append(recs, json.RawMessage(body[start:i]))
		if expect(",") {
			continue
		}
		if !expect("]") || !expect("}") {
			return nil, false
		}
		ws()
		return recs, i == len(body)
	}
}

// plainRecord reads a record written as every client writes one,
// {"payload":"...","signature":"..."} with no space or escape (the body
// is already strict JSON: api.Decode checked it), without the reflection
// of encoding/json; anything else (ok false) goes through json.Decoder.
func plainRecord(raw []byte) (rec client.Record, ok bool) {
	field := func(b []byte, name string) (string, []byte, bool) {
		if !bytes.HasPrefix(b, []byte(`"`+name+`":"`)) {
			return "", nil, false
		}
		b = b[len(name)+4:]
		end := bytes.IndexByte(b, '"')
		if end < 0 || bytes.IndexByte(b[:end], '\\') >= 0 {
			return "", nil, false
		}
		return string(b[:end]), b[end+1:], true
	}
	if len(raw) < 2 || raw[0] != '{' || raw[len(raw)-1] != '}' {
		return rec, false
	}
	b := raw[1 : len(raw)-1]
	var rest []byte
	if rec.Payload, rest, ok = field(b, "payload"); !ok || len(rest) == 0 || rest[0] != ',' {
		return rec, false
	}
	if rec.Signature, rest, ok = field(rest[1:], "signature"); !ok || len(rest) != 0 {
		return rec, false
	}
	return rec, true
}

// one applies one parsed record in the batch's transaction q. An error is
// a server failure: the record leaves no trace (its device record is not
// kept, the chain does not move), so re-sending it is safe.
func (a *API) one(ctx context.Context, q db.Querier, d *device, c *chain, pr checked) (client.Result, error) {
	if pr.refusal != nil {
		return *pr.refusal, nil
	}
	p, sum := pr.p, pr.sum
	base := client.Result{IdempotencyKey: p.IdempotencyKey, Counter: p.Counter}
	// The scans waiting are recorded before anything of another kind or
	// bag (the bag's history keeps the records' order).
	if !c.joins(p) {
		if err := a.flushRun(ctx, q, d, c); err != nil {
			return client.Result{}, err
		}
	}
	// A record already seen: its stored result, whatever happened since.
	st, seen := c.stored[p.IdempotencyKey]
	storedHash, stored := st.hash, st.result
	err := pgx.ErrNoRows
	if seen {
		err = nil
	}
	switch {
	case err == nil && !bytes.Equal(storedHash, sum[:]):
		r := refused(ReasonKeyReused, "this idempotency key was used for a different record")
		r.IdempotencyKey, r.Counter = p.IdempotencyKey, p.Counter
		return r, nil
	case err == nil && stored == nil:
		r := refused(ReasonInProgress, "an earlier sync of this record was interrupted; it may have been recorded: check the bag's history")
		r.IdempotencyKey, r.Counter = p.IdempotencyKey, p.Counter
		return r, nil
	case err == nil:
		var r client.Result
		if err := json.Unmarshal(stored, &r); err != nil {
			return client.Result{}, err
		}
		// A record the receiving phone synced first (a release embedded in
		// its confirmation, accepted or refused) takes its place in this
		// device's chain now.
		if p.Counter > c.counter && r.Reason != ReasonChainBroken && r.Reason != ReasonCounter {
			a.advance(ctx, q, d, c, p, sum[:])
		}
		return r, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return client.Result{}, err
	}
	// The chain: counter and link.
	var flags []string
	var anomaly string
	switch {
	case p.Counter <= c.counter || p.Counter == c.counter+1 && p.Prev != hex.EncodeToString(c.hash) || p.Counter > c.counter+1:
		// An anomaly opens an incident on the bag: after the scans waiting.
		if err := a.flushRun(ctx, q, d, c); err != nil {
			return client.Result{}, err
		}
	}
	switch {
	case p.Counter <= c.counter:
		anomaly = fmt.Sprintf("device %s: record counter %d is not after the last recorded %d (replayed or reordered)", d.ID, p.Counter, c.counter)
		r := refused(ReasonCounter, fmt.Sprintf("counter %d is not after the device's last record (%d)", p.Counter, c.counter))
		r.IdempotencyKey, r.Counter = p.IdempotencyKey, p.Counter
		r.IncidentID = a.incident(ctx, q, d, p, anomaly)
		return r, a.remember(d.ID, c, p, sum[:], r)
	case p.Counter == c.counter+1 && p.Prev != hex.EncodeToString(c.hash):
		anomaly = fmt.Sprintf("device %s: record %d does not chain to record %d (forged or lost link)", d.ID, p.Counter, c.counter)
		r := refused(ReasonChainBroken, "prev is not the hash of the device's previous record")
		r.IdempotencyKey, r.Counter = p.IdempotencyKey, p.Counter
		r.IncidentID = a.incident(ctx, q, d, p, anomaly)
		return r, a.remember(d.ID, c, p, sum[:], r)
	case p.Counter > c.counter+1:
		flags = append(flags, FlagCounterGap)
		anomaly = fmt.Sprintf("device %s: records %d to %d are missing before record %d", d.ID, c.counter+1, p.Counter-1, p.Counter)
	}
	// Time: never silently trusted.
	now := a.now()
	if p.DeviceTime.After(now.Add(c.tolerance)) {
		flags = append(flags, FlagClockAhead)
	}
	if c.deviceTime != nil && p.DeviceTime.Before(*c.deviceTime) {
		flags = append(flags, FlagTimeBeforePrev)
	}
	if p.DeviceTime.Before(now.Add(-c.offlineFor)) {
		flags = append(flags, FlagTimeOutsideStale)
	}
	// The record takes its place in the chain (written with the batch at
	// flush, in the same transaction as its event).
	prev := *c
	c.counter, c.hash, c.deviceTime = p.Counter, sum[:], &p.DeviceTime
	var res client.Result
	err = nil
	if detail := validAction(p); detail != "" {
		res = refused(ReasonMalformed, detail)
	} else if p.Release != nil {
		// A phone-to-phone hand-off: the releasing phone's signed release
		// lands first (if it has not yet), then this confirmation of it.
		var handoff string
		if handoff, res, err = a.relayed(ctx, q, d, c, *p.Release); err == nil && handoff != "" {
			p.HandoffID = handoff
		}
	}
	if err == nil && res.Status == "" && anomaly == "" && c.joins(p) {
		c.run = append(c.run, deferred{index: c.index, p: p, sum: sum[:], flags: flags,
			before: position{prev.counter, prev.hash, prev.deviceTime}})
		return client.Result{Status: statusDeferred}, nil
	}
	if err == nil && res.Status == "" {
		if err = a.flushRun(ctx, q, d, c); err == nil {
			res, err = a.apply(ctx, q, d, p, hex.EncodeToString(sum[:]), flags, c.sheets)
		}
	}
	if err != nil {
		c.counter, c.hash, c.deviceTime = prev.counter, prev.hash, prev.deviceTime
		c.pending = prev.pending
		return client.Result{}, err
	}
	res.IdempotencyKey, res.Counter = base.IdempotencyKey, base.Counter
	res.Flags = flags
	if anomaly != "" {
		res.IncidentID = a.incident(ctx, q, d, p, anomaly)
	}
	b, _ := json.Marshal(res)
	c.keep(d.ID, p.IdempotencyKey, p.Counter, sum[:], b)
	c.stored[p.IdempotencyKey] = storedRecord{hash: sum[:], result: b}
	c.fresh[c.index] = true
	return res, nil
}

// statusDeferred marks a scan record whose result comes with its run.
const statusDeferred = "deferred"

// flushRun records the run of scans waiting (pouch.ScanMany: two round
// trips for the run; a scan it leaves goes through apply alone) and gives
// each its result. After a server failure the records not recorded are
// answered not_processed and leave the chain where it was before the first
// of them.
func (a *API) flushRun(ctx context.Context, q db.Querier, d *device, c *chain) error {
	run := c.run
	c.run = nil
	for len(run) > 0 {
		dr := run[0]
		n, err := a.applyRun(ctx, q, d, c, run)
		if err == nil && n == 0 { // the first is refused or needs an incident: alone
			var res client.Result
			if res, err = a.apply(ctx, q, d, dr.p, hex.EncodeToString(dr.sum), dr.flags, c.sheets); err == nil {
				a.finish(c, dr, res)
				n = 1
			}
		}
		if err != nil {
			for _, r := range run {
				c.results[r.index] = client.Result{Index: r.index, Status: "refused", Reason: ReasonNotProcessed,
					Detail: "a server error stopped the batch before this record; re-send it"}
			}
			c.moveTo(dr.before)
			return err
		}
		run = run[n:]
	}
	return nil
}

// applyRun records the longest prefix of run that pouch.ScanMany records
// and returns its length.
func (a *API) applyRun(ctx context.Context, q db.Querier, d *device, c *chain, run []deferred) (int, error) {
	if len(run) == 1 {
		return 0, nil
	}
	bagID := run[0].p.BagID
	onSheet, err := a.onSheet(ctx, q, d, bagID, c.sheets)
	if err != nil || !onSheet {
		return 0, err
	}
	ins := make([]pouch.ScanInput, len(run))
	for i, r := range run {
		ins[i] = pouch.ScanInput{SealScan: scanOf(r.p), Where: whereOf(d, r.p, hex.EncodeToString(r.sum), r.flags)}
	}
	sub := d.Subject
	evs, err := a.bags.ScanMany(ctx, sub, bagID, ins, func(ctx context.Context, action string, res policy.Resource) error {
		return a.Authz.Authorize(ctx, sub, action, res)
	})
	if err != nil {
		return 0, err
	}
	for i, ev := range evs {
		a.finish(c, run[i], client.Result{Status: "accepted", EventID: ev.ID})
	}
	return len(evs), nil
}

// finish gives a recorded record of a run its result and keeps it.
func (a *API) finish(c *chain, dr deferred, res client.Result) {
	res.Index, res.IdempotencyKey, res.Counter, res.Flags = dr.index, dr.p.IdempotencyKey, dr.p.Counter, dr.flags
	b, _ := json.Marshal(res)
	c.keep(dr.p.DeviceID, dr.p.IdempotencyKey, dr.p.Counter, dr.sum, b)
	c.stored[dr.p.IdempotencyKey] = storedRecord{hash: dr.sum, result: b}
	c.results[dr.index] = res
	c.fresh[dr.index] = true
}

// advance moves the device's chain to record p (hash sum) out of the usual
// order: a record already applied; a gap opens an incident.
func (a *API) advance(ctx context.Context, q db.Querier, d *device, c *chain, p client.Payload, sum []byte) {
	switch {
	case p.Counter > c.counter+1:
		a.incident(ctx, q, d, p, fmt.Sprintf("device %s: records %d to %d are missing before record %d", d.ID, c.counter+1, p.Counter-1, p.Counter))
	case p.Prev != hex.EncodeToString(c.hash):
		a.incident(ctx, q, d, p, fmt.Sprintf("device %s: record %d (synced by the receiver) does not chain to record %d", d.ID, p.Counter, c.counter))
	}
	c.counter, c.hash, c.deviceTime = p.Counter, sum, &p.DeviceTime
}

// relayed lands the releasing phone's signed release embedded in the
// receiver's confirmation (both signatures), unless it landed already, and
// returns its hand-off. A release that cannot land refuses the
// confirmation (res is that refusal). The releasing device's chain is not
// checked now: its record takes its place there when that phone syncs.
func (a *API) relayed(ctx context.Context, q db.Querier, receiver *device, c *chain, rec client.Record) (string, client.Result, error) {
	bad := func(reason, detail string) (string, client.Result, error) {
		return "", refused(reason, "the embedded release: "+detail), nil
	}
	payload, err1 := base64.StdEncoding.DecodeString(rec.Payload)
	sig, err2 := base64.StdEncoding.DecodeString(rec.Signature)
	var p client.Payload
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err1 != nil || err2 != nil || dec.Decode(&p) != nil {
		return bad(ReasonMalformed, "not a signed record")
	}
	if detail := validPayload(p) + validAction(p); detail != "" || p.Kind != client.KindRelease || p.Release != nil {
		return bad(ReasonMalformed, "not a release record "+detail)
	}
	if p.To != receiver.Subject.Username {
		return bad("not_receiver", "it does not release the bag to you")
	}
	var key []byte
	var status, userID string
	err := q.QueryRow(ctx, `SELECT public_key, status, user_id FROM devices WHERE id = $1`, p.DeviceID).Scan(&key, &status, &userID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", client.Result{}, err
	}
	if err != nil || status != "active" || p.DeviceID == receiver.ID || !ed25519.Verify(key, payload, sig) {
		a.Log.WarnContext(ctx, "embedded release refused", "receiver", receiver.ID, "device", p.DeviceID, "status", status)
		return bad(ReasonBadSignature, "it is not signed by another active enrolled device")
	}
	sum := sha256.Sum256(payload)
	var storedHash, stored []byte
	st, seen := c.relayed[p.DeviceID+"/"+p.IdempotencyKey]
	if seen {
		storedHash, stored = st.hash, st.result
	} else {
		err = q.QueryRow(ctx, `SELECT payload_sha256, result FROM device_records WHERE device_id = $1 AND idempotency_key = $2`,
			p.DeviceID, p.IdempotencyKey).Scan(&storedHash, &stored)
	}
	if seen || err == nil {
		var r client.Result
		switch {
		case !bytes.Equal(storedHash, sum[:]):
			return bad(ReasonKeyReused, "its idempotency key was used for a different record")
		case stored == nil:
			return bad(ReasonInProgress, "it is being synced; retry")
		case json.Unmarshal(stored, &r) != nil || r.Status != "accepted":
			return bad("release_refused", "it was refused ("+r.Reason+")")
		}
		return r.HandoffID, client.Result{}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", client.Result{}, err
	}
	u, err := a.Ident.GetUser(ctx, userID)
	if err != nil || !u.Active || !slices.Contains(u.Roles, policy.RoleCourier) {
		return bad(ReasonBadSignature, "its device's courier is not an active courier")
	}
	from := &device{ID: p.DeviceID, UserID: userID, Subject: u.Subject(), Key: key}
	var flags []string
	if p.DeviceTime.After(a.now().Add(c.tolerance)) {
		flags = append(flags, FlagClockAhead)
	}
	flags = append(flags, FlagRelayed)
	res, err := a.apply(ctx, q, from, p, hex.EncodeToString(sum[:]), flags, nil)
	if err != nil {
		return "", client.Result{}, err
	}
	res.IdempotencyKey, res.Counter, res.Flags = p.IdempotencyKey, p.Counter, flags
	b, _ := json.Marshal(res)
	c.keep(p.DeviceID, p.IdempotencyKey, p.Counter, sum[:], b)
	c.relayed[p.DeviceID+"/"+p.IdempotencyKey] = storedRecord{hash: sum[:], result: b}
	if res.Status != "accepted" {
		return bad("release_refused", "it was refused ("+res.Reason+": "+res.Detail+")")
	}
	return res.HandoffID, client.Result{}, nil
}

// remember keeps the refusal of a signed record that does not advance the
// chain, so that re-sending it answers the same and opens no second
// incident.
func (a *API) remember(device string, c *chain, p client.Payload, sum []byte, r client.Result) error {
	b, _ := json.Marshal(r)
	c.stored[p.IdempotencyKey] = storedRecord{hash: sum, result: b}
	c.keep(device, p.IdempotencyKey, p.Counter, sum, b)
	return nil
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field + " has the wrong type"
	}
	return err.Error()
}

// validPayload names what is wrong with a signed payload's chain fields
// ("" if nothing): without them the record has no place in the chain.
func validPayload(p client.Payload) string {
	switch {
	case p.IdempotencyKey == "" || len(p.IdempotencyKey) > 100:
		return "idempotency_key: 1 to 100 characters"
	case p.Counter < 1:
		return "counter: starts at 1"
	case len(p.Prev) != 64:
		return "prev: 64 hex digits"
	case p.DeviceTime.IsZero():
		return "device_time: required"
	}
	if _, err := hex.DecodeString(p.Prev); err != nil {
		return "prev: 64 hex digits"
	}
	return ""
}

// validAction names what is wrong with a record's action fields ("" if
// nothing). A record with bad action fields but a good signature and chain
// position still takes its place in the device's chain (it is refused, and
// the refusal stored, like one the custody rules refuse).
func validAction(p client.Payload) string {
	switch {
	case !slices.Contains([]string{client.KindScan, client.KindRelease, client.KindConfirm, client.KindCancel,
		client.KindBearerRelease, client.KindBearerReceipt}, p.Kind):
		return "kind: scan, release, confirm, cancel, bearer_release or bearer_receipt"
	case (p.Kind == client.KindScan || p.Kind == client.KindRelease || p.Kind == client.KindBearerRelease ||
		p.Kind == client.KindBearerReceipt) && p.BagID == "":
		return "bag_id: required for a " + p.Kind
	case p.Kind != client.KindBearerRelease && (p.BearerKind != "" || p.BearerName != "" || p.BearerDocument != ""):
		return "bearer_kind, bearer_name, bearer_document: only in a bearer_release"
	case (p.Kind == client.KindConfirm || p.Kind == client.KindCancel) && p.BagID == "" && p.HandoffID == "" && p.Release == nil:
		return "handoff_id (or bag_id, for the bag's open hand-off, or the embedded release): required for a " + p.Kind
	case p.Release != nil && p.Kind != client.KindConfirm:
		return "release: only a confirm embeds the release it confirms"
	}
	return ""
}

// apply runs the record through the pouch as the device's courier. A rule
// of the pouch refusing it is a refused result; an error is a failure.
func (a *API) apply(ctx context.Context, q db.Querier, d *device, p client.Payload, hash string, flags []string, sheets map[string]bool) (client.Result, error) {
	sub := d.Subject
	check := func(ctx context.Context, action string, res policy.Resource) error {
		return a.Authz.Authorize(ctx, sub, action, res)
	}
	bagID, handoffID := p.BagID, p.HandoffID
	if handoffID != "" {
		if err := q.QueryRow(ctx, `SELECT bag_id FROM handoffs WHERE id = $1`, handoffID).Scan(&bagID); err != nil {
			if errors.Is(err, pgx.ErrNoRows) || !db.ValidUUID(handoffID) {
				return refused("not_found", "no such hand-off"), nil
			}
			return client.Result{}, err
		}
	}
	if !db.ValidUUID(bagID) {
		return refused(ReasonNotOnSheet, "no valid courier sheet of yours names this bag"), nil
	}
	onSheet, err := a.onSheet(ctx, q, d, bagID, sheets)
	if err != nil {
		return client.Result{}, err
	}
	if !onSheet {
		return refused(ReasonNotOnSheet, "no valid courier sheet of yours names this bag"), nil
	}
	if handoffID == "" && (p.Kind == client.KindConfirm || p.Kind == client.KindCancel) {
		err := q.QueryRow(ctx, `SELECT id FROM handoffs WHERE bag_id = $1 AND status = 'released'`, bagID).Scan(&handoffID)
		if errors.Is(err, pgx.ErrNoRows) {
			return refused("no_open_handoff", "the bag has no open release"), nil
		}
		if err != nil {
			return client.Result{}, err
		}
	}
	where, scan := whereOf(d, p, hash, flags), scanOf(p)
	var res client.Result
	switch p.Kind {
	case client.KindScan:
		var ev *pouch.Event
		if ev, err = a.bags.Scan(ctx, sub, bagID, pouch.ScanInput{SealScan: scan, Where: where}, check); err == nil {
			res.EventID = ev.ID
		}
	case client.KindRelease:
		var h *pouch.Handoff
		if h, err = a.bags.Release(ctx, sub, pouch.ReleaseInput{BagID: bagID, To: p.To, ToUnit: p.ToUnit, Where: where}, check); err == nil {
			res.EventID, res.HandoffID = h.ReleaseEvent, h.ID
		}
	case client.KindConfirm:
		var h *pouch.Handoff
		if h, err = a.bags.Confirm(ctx, sub, handoffID, pouch.ConfirmInput{SealScan: scan, Where: where}, check); err == nil {
			res.HandoffID = h.ID
			if h.AcceptEvent != nil {
				res.EventID = *h.AcceptEvent
			}
			if h.IncidentID != nil {
				res.IncidentID = *h.IncidentID
			}
		}
	case client.KindBearerRelease, client.KindBearerReceipt:
		var tr *pouch.BearerTransfer
		if p.Kind == client.KindBearerRelease {
			tr, err = a.bags.ReleaseToBearer(ctx, sub, pouch.BearerReleaseInput{BagID: bagID, Kind: p.BearerKind,
				Name: p.BearerName, Document: p.BearerDocument, SealScan: scan, Where: where}, check)
		} else {
			tr, err = a.bags.ReceiveFromBearer(ctx, sub, pouch.BearerReceiptInput{BagID: bagID, SealScan: scan, Where: where}, check)
		}
		if err == nil {
			res.EventID, res.IncidentID = tr.Event.ID, tr.IncidentID
		}
	case client.KindCancel:
		var h *pouch.Handoff
		if h, err = a.bags.Cancel(ctx, sub, handoffID, where, check); err == nil {
			res.HandoffID = h.ID
			err = q.QueryRow(ctx, `SELECT id FROM bag_events WHERE bag_id = $1 AND kind = 'handoff_cancelled'
				AND custody->>'handoff_id' = $2 ORDER BY id DESC LIMIT 1`, bagID, h.ID).Scan(&res.EventID)
		}
	}
	var ve *valise.Error
	if errors.As(err, &ve) {
		reason, _ := ve.Extra["reason"].(string)
		if reason == "" {
			reason = ve.Code
		}
		if ve.Code == valise.EFORBIDDEN && reason == ve.Code || ve.Code == valise.ENOTFOUND {
			// The policy's "no" looks like a missing bag.
			return refused(ReasonNotOnSheet, "no valid courier sheet of yours names this bag"), nil
		}
		detail := ve.Message
		for _, f := range ve.Fields {
			detail += "; " + f.Field + ": " + f.Reason
		}
		return refused(reason, detail), nil
	}
	if err != nil {
		return client.Result{}, err
	}
	res.Status = "accepted"
	return res, nil
}

// onSheet reports whether a valid courier sheet of d's courier names the
// bag (cached in sheets for the batch).
func (a *API) onSheet(ctx context.Context, q db.Querier, d *device, bagID string, sheets map[string]bool) (bool, error) {
	onSheet, known := sheets[bagID]
	if known {
		return onSheet, nil
	}
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM courier_sheet_bags sb JOIN courier_sheets cs ON cs.id = sb.sheet_id
		JOIN couriers c ON c.id = cs.courier_id WHERE sb.bag_id = $1 AND c.user_id = $2 AND cs.status = 'issued'
		AND cs.valid_from <= now() AND now() < cs.valid_until)`, bagID, d.UserID).Scan(&onSheet); err != nil {
		return false, err
	}
	if sheets != nil {
		sheets[bagID] = onSheet
	}
	return onSheet, nil
}

// whereOf is where and when a record says it happened, and the device
// block its event keeps.
func whereOf(d *device, p client.Payload, hash string, flags []string) pouch.Where {
	where := pouch.Where{Place: p.Place, Note: p.Note,
		Device: &pouch.DeviceMark{ID: d.ID, Counter: p.Counter, DeviceTime: p.DeviceTime.UTC(), PayloadSHA256: hash, Flags: flags}}
	if p.Coordinates != nil {
		where.Coordinates = &pouch.Coordinates{Lat: p.Coordinates.Lat, Lon: p.Coordinates.Lon}
	}
	if !slices.ContainsFunc(flags, func(f string) bool { return f != FlagCounterGap && f != FlagRelayed }) {
		t := p.DeviceTime.UTC()
		where.OccurredAt = &t // a trusted device time; a flagged one stays in the device block only
	}
	return where
}

func scanOf(p client.Payload) pouch.SealScan {
	return pouch.SealScan{Seals: p.Seals, PhysicalSeals: p.PhysicalSeals, SealsIntact: p.SealsIntact, PackagesCounted: p.PackagesCounted}
}

// incident opens an incident for security officers on the record's bag
// (a counter or chain anomaly of the device) and returns its id; without a
// bag it is only logged.
func (a *API) incident(ctx context.Context, q db.Querier, d *device, p client.Payload, summary string) string {
	a.Log.WarnContext(ctx, "device record anomaly", "device", d.ID, "summary", summary)
	bagID := p.BagID
	if bagID == "" && db.ValidUUID(p.HandoffID) {
		_ = q.QueryRow(ctx, `SELECT bag_id FROM handoffs WHERE id = $1`, p.HandoffID).Scan(&bagID)
	}
	if !db.ValidUUID(bagID) {
		return ""
	}
	var id string
	err := db.InTx(ctx, a.Pool, func(tx pgx.Tx) error {
		b, err := pouch.LockBag(ctx, tx, bagID)
		if err != nil {
			return err
		}
		inc, err := pouch.OpenIncident(ctx, tx, d.Subject, b, pouch.ClassIncident, "report", summary)
		if err != nil {
			return err
		}
		id = inc.ID
		return nil
	})
	if err != nil {
		a.Log.WarnContext(ctx, "device anomaly incident not opened", "device", d.ID, "bag", bagID, "err", err)
		return ""
	}
	return id
}

// onlineWait is how long a sync of a single record (a phone online, one
// operation at a time) waits for the log to integrate its event, so the
// receipt comes at once, as the online API's receipt routes wait.
const onlineWait = 2 * time.Second

// addReceipts adds the log index and the C2SP receipt of every accepted
// record whose event the log has integrated (the others get theirs on a
// later re-send); a batch of one waits up to onlineWait for it. In a larger
// batch the events this sync recorded (fresh) are not looked for: the log
// integrates them after the commit, so they are not there yet (two
// queries each for nothing); a re-send brings their receipts.
func (a *API) addReceipts(ctx context.Context, results []client.Result, fresh map[int]bool) {
	wait := time.Duration(0)
	if len(results) == 1 {
		wait = onlineWait
	}
	for i := range results {
		r := &results[i]
		if r.Status != "accepted" || r.EventID == 0 || len(results) > 1 && fresh[i] {
			continue
		}
		rec, idx, err := a.trail.EventReceipt(ctx, r.EventID, wait)
		if err != nil {
			continue
		}
		r.LogIndex, r.Receipt = &idx, string(rec)
	}
}
