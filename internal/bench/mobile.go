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

// PhoneSyncs measures POST /mobile/v1/sync through the reference client:
// each phone sends batches of batch signed checkpoint-scan records (with
// the bag's VS1 seals) of its pair's bag, every one verified and applied
// through the pouch. Ops counts records; the latencies are per batch.
func PhoneSyncs(ctx context.Context, phones []*client.Client, pairs []*Pair, batch int, d time.Duration) (Rate, error) {
	r, err := run(ctx, fmt.Sprintf("phone sync records (%d phones, batches of %d)", len(phones), batch), len(phones), d,
		func(ctx context.Context, w, _ int) error {
			recs := make([]client.Record, batch)
			for i := range recs {
				recs[i] = phones[w].Sign(client.Payload{Kind: client.KindScan, BagID: pairs[w].BagID, Seals: pairs[w].Seals, Place: "bench"})
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
