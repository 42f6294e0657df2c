package demo

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Unit codes of the demo organization tree.
const (
	UnitMFA    = "MFA"     // the ministry (HQ)
	UnitDCS    = "MFA-DCS" // its diplomatic courier service department
	UnitBerlin = "DE-BER"  // embassy in Berlin
	UnitTokyo  = "JP-TYO"  // embassy in Tokyo
)

type demoUnit struct {
	code, name, kind, country, parent string
}

var demoUnits = []demoUnit{
	{UnitMFA, "Ministry of Foreign Affairs", "ministry", "KZ", ""},
	{UnitDCS, "Diplomatic Courier Service", "department", "KZ", UnitMFA},
	{UnitBerlin, "Embassy in the Federal Republic of Germany", "embassy", "DE", UnitMFA},
	{UnitTokyo, "Embassy in Japan", "embassy", "JP", UnitMFA},
	{"MOD", "Ministry of Defence", "state_body", "KZ", ""},
	{"NB", "National Bank", "state_body", "KZ", ""},
	{"AIR-ASTANA", "Air Astana JSC", "carrier", "KZ", ""},
}

func loadUnits(ctx context.Context, tx pgx.Tx, _ Options) error {
	for _, u := range demoUnits {
		_, err := tx.Exec(ctx, `
			INSERT INTO units (code, name, kind, country, parent_id)
			VALUES ($1, $2, $3, $4, (SELECT id FROM units WHERE code = nullif($5, '')))
			ON CONFLICT (code) DO NOTHING`, u.code, u.name, u.kind, u.country, u.parent)
		if err != nil {
			return err
		}
	}
	return nil
}
