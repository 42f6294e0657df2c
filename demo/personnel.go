package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/personnel"
	"valise/policy"
)

// UnitIstanbul is the third demo foreign institution (a consulate general),
// added by the personnel step.
const UnitIstanbul = "TR-IST"

// Demo staff the README walkthrough names.
const (
	DemoShortStaff   = "D-001" // an attaché one day short of the minimum time in rank
	DemoDelayedStaff = "D-002" // a third secretary under a rank delay
	DemoPendingStaff = "D-003" // a second secretary whose dismissal takes effect in two weeks
	DemoFamilyStaff  = "D-004" // a first secretary in Tokyo with family
)

type demoStaff struct {
	number, name, position, unit string
	rank                         int // 0: none (administrative-technical staff)
	rankYearsAgo                 int
	account                      string
}

// demoStaffList: about forty people across all eleven ranks and both kinds, in the
// ministry and three foreign institutions.
var demoStaffList = func() []demoStaff {
	list := []demoStaff{
		{DemoShortStaff, "Aruzhan Bekova", "attache", UnitMFA, 1, 0, ""},
		{DemoDelayedStaff, "Timur Sadykov", "third_secretary", UnitBerlin, 2, 3, ""},
		{DemoPendingStaff, "Madina Nurlanova", "second_secretary", UnitTokyo, 3, 4, ""},
		{DemoFamilyStaff, "Yerlan Abenov", "first_secretary", UnitTokyo, 5, 2, ""},
		{"D-005", "Kairat Career Courier", "diplomatic_courier", UnitDCS, 2, 1, "courier"},
		{"D-006", "Berik Registry (Berlin)", "registry_officer", UnitBerlin, 0, 0, "clerk.ber"},
	}
	positions := map[int]string{1: "attache", 2: "third_secretary", 3: "second_secretary", 4: "second_secretary",
		5: "first_secretary", 6: "first_secretary", 7: "counsellor", 8: "minister_counsellor", 9: "department_director",
		10: "permanent_representative", 11: "ambassador"}
	units := []string{UnitMFA, UnitBerlin, UnitTokyo, UnitIstanbul}
	names := []string{"Aibek", "Gulnara", "Daniyar", "Saule", "Nursultan", "Dana", "Askar", "Zhanar", "Bolat", "Aliya",
		"Marat", "Assel", "Yerzhan", "Kamila", "Ruslan", "Dinara", "Serik", "Laura", "Azamat", "Togzhan", "Olzhas",
		"Ainur", "Nurlan", "Meruyert", "Galym", "Zarina", "Arman", "Botagoz", "Samat", "Indira"}
	n := 7
	for rank := 1; rank <= 11; rank++ {
		for k := 0; k < 2; k++ {
			unit := units[(rank+k)%len(units)]
			pos := positions[rank]
			if pos == "department_director" {
				unit = UnitMFA
			}
			list = append(list, demoStaff{fmt.Sprintf("D-%03d", n), names[(n-7)%len(names)] + " " + []string{"Akhmetov", "Iskakova"}[k], pos, unit, rank, 1 + (rank+k)%4, ""})
			n++
		}
	}
	for i, pos := range []string{"registry_officer", "accountant", "driver", "registry_officer", "accountant", "driver", "registry_officer", "accountant", "driver", "registry_officer"} {
		list = append(list, demoStaff{fmt.Sprintf("D-%03d", n), names[(n+3)%len(names)] + " Omarov", pos, units[i%len(units)], 0, 0, ""})
		n++
	}
	// Issue 15: a career courier of the courier service, on leave (demo/personnel_passports.go).
	list = append(list, demoStaff{DemoLeaveCourier, "Daulet Courier", "diplomatic_courier", UnitDCS, 2, 1, DemoLeaveCourierAcc})
	return list
}()

// loadPersonnel admits the demo staff through the personnel service, so
// every record has its real events; it does nothing when they exist.
func loadPersonnel(ctx context.Context, pool *pgxpool.Pool, _ Options) error {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM staff WHERE personnel_number = $1)`, DemoShortStaff).Scan(&exists); err != nil || exists {
		return err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO units (code, name, kind, country, parent_id)
		SELECT $1, 'Consulate General in Istanbul', 'consulate', 'TR', id FROM units WHERE code = $2
		ON CONFLICT (code) DO NOTHING`, UnitIstanbul, UnitMFA); err != nil {
		return err
	}
	svc := personnel.New(pool)
	by := policy.Subject{Username: "demo"}
	trust := func(context.Context, string, policy.Resource) error { return nil } // the loader is trusted
	today := personnel.Today(time.Now())
	change := func(reason string) personnel.Change {
		return personnel.Change{Reason: reason, Act: personnel.Act{Number: "Demo order " + reason, Date: today.AddDate(-10, 0, 0)}}
	}
	ids := map[string]string{}
	for _, p := range demoStaffList {
		// The rank was assigned rankYearsAgo years ago; the attaché one day short got it 2 years less a day ago.
		since := today.AddDate(-p.rankYearsAgo, 0, 0)
		if p.number == DemoShortStaff {
			since = today.AddDate(-2, 0, 1)
		}
		admitted := since.AddDate(-1, 0, 0)
		auth := "minister"
		if p.position == "ambassador" || p.position == "permanent_representative" {
			auth = "president"
		}
		in := personnel.AdmissionInput{
			PersonnelNumber: p.number, FullName: p.name, BirthDate: admitted.AddDate(-28, -3, 0), Citizenships: []string{"KZ"},
			Languages:    []personnel.Language{{Language: "kk", Level: "native"}, {Language: "ru", Level: "C2"}, {Language: "en", Level: "C1"}},
			Education:    []personnel.Education{{Level: "master", Institution: "Al-Farabi Kazakh National University", Year: admitted.Year() - 2}},
			Health:       personnel.Clearance{Result: "positive", Date: admitted.AddDate(0, 0, -20), Ref: "HC-" + p.number},
			SpecialCheck: personnel.Clearance{Result: "positive", Date: admitted.AddDate(0, 0, -10), Ref: "SC-" + p.number},
			FirstEntry:   true,
			Appointment:  personnel.AppointmentInput{Position: p.position, Unit: p.unit, StartDate: admitted, Authority: auth},
			Change:       change("admission"),
		}
		if p.position == "ambassador" && p.unit == UnitMFA {
			in.Appointment.LocatedInRK, in.Appointment.Accreditations = true, []string{"MN", "KR"}
		}
		st, err := svc.Admit(ctx, trust, by, in)
		if err != nil {
			return fmt.Errorf("admit %s: %w", p.number, err)
		}
		ids[p.number] = st.ID
		if p.rank > 0 {
			ri := personnel.RankInput{Change: personnel.RankAssign, Rank: p.rank, EffectiveDate: since, Authority: "minister", ChangeInfo: change("rank")}
			if p.rank >= 9 {
				ri.Authority, ri.Submission = "president", &personnel.Act{Number: "Minister's submission " + p.number, Date: since.AddDate(0, 0, -14)}
			}
			if _, err := svc.ChangeRank(ctx, trust, by, st.ID, ri); err != nil {
				return fmt.Errorf("rank of %s: %w", p.number, err)
			}
		}
		if p.account != "" {
			if _, err := svc.LinkAccount(ctx, trust, by, st.ID, personnel.LinkInput{Username: p.account, Change: change("account")}); err != nil {
				return fmt.Errorf("link %s: %w", p.number, err)
			}
		}
	}
	// A rank delay running: imposed two months ago for ten months.
	if _, err := svc.Impose(ctx, trust, by, ids[DemoDelayedStaff], personnel.PenaltyInput{Kind: "rank_delay", ImposedOn: today.AddDate(0, -2, 0),
		DelayUntil: today.AddDate(0, 8, 0), Change: change("penalty")}); err != nil {
		return fmt.Errorf("rank delay: %w", err)
	}
	// A pending dismissal: the contract ends in two weeks.
	if _, err := svc.Terminate(ctx, trust, by, ids[DemoPendingStaff], personnel.TerminationInput{Ground: "contract_ended",
		EffectiveDate: today.AddDate(0, 0, 14), Authority: "minister", Change: change("termination")}); err != nil {
		return fmt.Errorf("pending dismissal: %w", err)
	}
	// Family in Tokyo: with and without a medical conclusion.
	mc := &personnel.MedicalConclusion{Organisation: "Astana City Polyclinic No. 4", Number: "MC-2291", Date: today.AddDate(0, -6, 0)}
	for _, f := range []personnel.FamilyInput{
		{Relation: "spouse", FullName: "Aigul Abenova", BirthDate: today.AddDate(-36, 0, 0), Documents: []personnel.Document{{Kind: "marriage_certificate", Number: "MC-77", Date: today.AddDate(-10, 0, 0)}}},
		{Relation: "child", FullName: "Alikhan Abenov", BirthDate: today.AddDate(-9, 0, 0), Documents: []personnel.Document{{Kind: "birth_certificate", Number: "BC-12", Date: today.AddDate(-9, 0, 5)}}},
		{Relation: "child", FullName: "Dilnaz Abenova", BirthDate: today.AddDate(-22, 0, 0), MedicalConclusion: mc},
		{Relation: "parent", FullName: "Saule Abenova", BirthDate: today.AddDate(-70, 0, 0)},
	} {
		f.Change = change("family")
		if _, err := svc.AddFamily(ctx, trust, by, ids[DemoFamilyStaff], f); err != nil {
			return fmt.Errorf("family: %w", err)
		}
	}
	// A former counsellor who resigned last year is in the reserve.
	if _, err := svc.Terminate(ctx, trust, by, ids["D-019"], personnel.TerminationInput{Ground: "own_resignation",
		EffectiveDate: today.AddDate(-1, 0, 0), Authority: "minister", Change: change("resignation")}); err != nil {
		return fmt.Errorf("resignation: %w", err)
	}
	return nil
}
