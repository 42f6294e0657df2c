package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"valise/identity"
	"valise/mobile-api/client"
	"valise/policy"
)

// EnrolPhones enrols one phone (the reference client) for each pair's
// courier "second", who holds the pair's bag: a security officer (created
// here) makes the one-time codes through the API at base.
func EnrolPhones(ctx context.Context, c *http.Client, base string, ident *identity.Service, pairs []*Pair) ([]*client.Client, error) {
	if _, err := ident.CreateUser(ctx, identity.UserInput{Username: "bench-officer", FullName: "bench officer", Unit: "MFA",
		Roles: []string{policy.RoleSecurityOfficer}, Clearance: policy.SpecialImportance, Scope: []string{"*"}, Password: Password}); err != nil {
		return nil, fmt.Errorf("create officer: %w", err)
	}
	tok, err := ident.Login(ctx, "bench-officer", Password, "127.0.0.1")
	if err != nil {
		return nil, err
	}
	phones := make([]*client.Client, len(pairs))
	for i, p := range pairs {
		var code struct {
			Code string `json:"code"`
		}
		if err := Call(ctx, c, "POST", base+"/api/v1/devices/enrolments", tok.AccessToken, map[string]any{"username": p.Second},
			http.StatusCreated, &code); err != nil {
			return nil, fmt.Errorf("enrolment code: %w", err)
		}
		phones[i] = client.New(base, c)
		if _, err := phones[i].Enrol(ctx, code.Code, "bench"); err != nil {
			return nil, fmt.Errorf("enrol: %w", err)
		}
	}
	return phones, nil
}

// SignAhead signs, for each phone, the batches of batch checkpoint-scan
// records of its pair's bag that PhoneSyncs sends in d (enough for 12,000
// records a second). Phones sign their records on their own CPUs, offline,
// before they sync: signing them before the clock starts keeps this
// machine's signing for the phones out of the server's figure.
func SignAhead(phones []*client.Client, pairs []*Pair, batch int, d time.Duration) [][][]client.Record {
	ahead := max(1, int(12000*d.Seconds())/batch/max(1, len(phones)))
	signed := make([][][]client.Record, len(phones))
	for w := range phones {
		for range ahead {
			signed[w] = append(signed[w], signBatch(phones[w], pairs[w], batch))
		}
	}
	return signed
}

func signBatch(phone *client.Client, pair *Pair, batch int) []client.Record {
	recs := make([]client.Record, batch)
	for i := range recs {
		recs[i] = phone.Sign(client.Payload{Kind: client.KindScan, BagID: pair.BagID, Seals: pair.Seals, Place: "bench"})
	}
	return recs
}

// PhoneSyncs measures POST /mobile/v1/sync through the reference client:
// each phone sends batches of batch signed checkpoint-scan records (with
// the bag's VS1 seals) of its pair's bag, every one verified and applied
// through the pouch: first the batches signed ahead (SignAhead), then
// batches it signs on the way. Ops counts records; the latencies are per
// batch.
func PhoneSyncs(ctx context.Context, phones []*client.Client, pairs []*Pair, signed [][][]client.Record, batch int, d time.Duration) (Rate, error) {
	r, err := run(ctx, fmt.Sprintf("phone sync records (%d phones, batches of %d)", len(phones), batch), len(phones), d,
		func(ctx context.Context, w, _ int) error {
			var recs []client.Record
			if w < len(signed) && len(signed[w]) > 0 {
				recs, signed[w] = signed[w][0], signed[w][1:]
			} else {
				recs = signBatch(phones[w], pairs[w], batch)
			}
			res, err := phones[w].Sync(ctx, recs)
			if err != nil {
				return err
			}
			for _, x := range res {
				if x.Status != "accepted" {
					return fmt.Errorf("record %d refused: %s %s", x.Index, x.Reason, x.Detail)
				}
			}
			return nil
		})
	r.Ops *= batch
	return r, err
}
