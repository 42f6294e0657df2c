package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/courier"
	"valise/personnel"
	"valise/policy"
)

// Demo passports and couriers the README names (issue 15).
const (
	DemoAmbassador      = "D-027" // an Ambassador E&P; the spouse holds a diplomatic passport for life (HR-38)
	DemoLeaveCourier    = "D-039" // a career courier of the courier service on leave: refused a sheet
	DemoLeaveCourierAcc = "courier.leave"
)

// loadPassports gives the demo ministry passports in every state, through
// the personnel service (so each has its events): issued (the career
// courier, who passes the courier check; the ambassador and the spouse, on
// the lifelong right), in the archive, due for surrender after a return,
// overdue after a demand, lost, and destroyed by act; and a career courier
// on leave, who fails the courier check for that stated reason. It does
// nothing when the passports exist.
func loadPassports(ctx context.Context, pool *pgxpool.Pool, _ Options) error {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM passports)`).Scan(&exists); err != nil || exists {
		return err
	}
	svc := personnel.New(pool)
	by := policy.Subject{Username: "demo"}
	trust := func(context.Context, string, policy.Resource) error { return nil } // the loader is trusted
	today := personnel.Today(time.Now())
	chg := personnel.Change{Reason: "demo passport", Act: personnel.Act{Number: "Demo order passports", Date: today.AddDate(-3, 0, 0)}}
	staff := func(number string) (string, error) {
		var id string
		err := pool.QueryRow(ctx, `SELECT id FROM staff WHERE personnel_number = $1`, number).Scan(&id)
		return id, err
	}
	docs := func(country string, on personnel.Date) personnel.PassportDocuments {
		return personnel.PassportDocuments{
			RequestLetter: &personnel.RequestLetter{Number: "01-12/" + on.Format("0102"), Date: on.AddDate(0, 0, -2), SendingBody: "Ministry of Foreign Affairs",
				Signatory: "head_of_apparatus", SignatoryName: "Yerlan Karimov", Country: country, Departure: on.AddDate(0, 0, 14), DurationDays: 365,
				Purpose: "official duties", Basis: "order of the Ministry", FundedBy: "Ministry of Foreign Affairs"},
			OrderCopy:       &personnel.OrderCopy{Number: "ORD-" + on.Format("060102"), Date: on.AddDate(0, 0, -3), CertifiedBy: "Perizat Personnel Officer"},
			ApplicationForm: true, Photos: 2, IdentityCopy: "id_card",
		}
	}
	// The blank-form ledger (R§7): the forms of every demo passport were received on the ministry's order, three
	// years and a month ago; the unused ones are in stock, one was spoiled in preparation (destroyed below).
	for _, prefix := range []struct{ typ, first string }{{personnel.PassportDiplomatic, "D4200001"}, {personnel.PassportService, "S4200001"}} {
		if _, err := svc.ReceiveBlanks(ctx, trust, by, personnel.BlankReceipt{Type: prefix.typ, First: prefix.first, Count: 40,
			ReceivedOn: today.AddDate(-3, -1, 0), Order: personnel.Act{Number: "MFA order 7-z on passport forms", Date: today.AddDate(-3, -3, 0)}, Change: chg}); err != nil {
			return fmt.Errorf("blank forms: %w", err)
		}
	}
	if _, err := svc.SpoilBlank(ctx, trust, by, "D4200040", personnel.BlankSpoilage{On: today.AddDate(0, -4, 0),
		Mistake: "the holder's name misprinted in preparation", Change: chg}); err != nil {
		return fmt.Errorf("spoiled form: %w", err)
	}
	n := 0
	// issue applies for and issues a passport received on `on`, handed out two days later.
	issue := func(staffNumber, holder, typ, basis, country string, on personnel.Date) (string, string, error) {
		id, err := staff(staffNumber)
		if err != nil {
			return "", "", fmt.Errorf("staff %s: %w", staffNumber, err)
		}
		p, err := svc.Apply(ctx, trust, by, id, personnel.PassportApplication{Type: typ, Holder: holder, Basis: basis, ReceivedOn: on,
			Documents: docs(country, on), Change: chg})
		if err != nil {
			return "", "", fmt.Errorf("apply %s: %w", staffNumber, err)
		}
		n++
		prefix := map[string]string{personnel.PassportDiplomatic: "D", personnel.PassportService: "S"}[typ]
		if _, err := svc.Issue(ctx, trust, by, id, p.ID, personnel.IssueInput{Number: fmt.Sprintf("%s%07d", prefix, 4200000+n),
			HandOut: personnel.HandOut{On: on.AddDate(0, 0, 2), Recipient: p.HolderName, RecipientDoc: personnel.IDDocument{Kind: "id_card", Number: fmt.Sprintf("0%08d", 31000000+n)},
				Signed: true}, Change: chg}); err != nil {
			return "", "", fmt.Errorf("issue %s: %w", staffNumber, err)
		}
		return id, p.ID, nil
	}
	// The career courier (account "courier"): a diplomatic passport, valid for years: passes the courier check.
	if _, _, err := issue("D-005", "", personnel.PassportDiplomatic, "dl_27", "DE", today.AddDate(-1, 0, 0)); err != nil {
		return err
	}
	// The ambassador and the spouse: the lifelong right of Art. 19(1-1) (HR-38).
	ambID, err := staff(DemoAmbassador)
	if err != nil {
		return err
	}
	spouse, err := svc.AddFamily(ctx, trust, by, ambID, personnel.FamilyInput{Relation: "spouse", FullName: "Gaukhar Akhmetova",
		BirthDate: today.AddDate(-58, 0, 0), Documents: []personnel.Document{{Kind: "marriage_certificate", Number: "MC-1990-114", Date: today.AddDate(-33, 0, 0)}}, Change: chg})
	if err != nil {
		return fmt.Errorf("ambassador's spouse: %w", err)
	}
	if _, _, err := issue(DemoAmbassador, "", personnel.PassportDiplomatic, personnel.BasisLifelong, "MN", today.AddDate(0, -8, 0)); err != nil {
		return err
	}
	if _, _, err := issue(DemoAmbassador, spouse.ID, personnel.PassportDiplomatic, personnel.BasisLifelong, "MN", today.AddDate(0, -8, 0)); err != nil {
		return err
	}
	// In the archive: the attaché surrendered on time after a return.
	id, pid, err := issue(DemoShortStaff, "", personnel.PassportDiplomatic, "dl_27", "TR", today.AddDate(0, -6, 0))
	if err != nil {
		return err
	}
	if _, err := svc.RecordReturn(ctx, trust, by, id, pid, personnel.ReturnInput{ReturnDate: today.AddDate(0, -2, 0), Change: chg}); err != nil {
		return fmt.Errorf("return: %w", err)
	}
	if _, err := svc.Surrender(ctx, trust, by, id, pid, personnel.SurrenderInput{On: today.AddDate(0, -2, 5), By: "the owner", Change: chg}); err != nil {
		return fmt.Errorf("surrender: %w", err)
	}
	// Due for surrender: the first secretary in Tokyo returned three days ago (R§17).
	id, pid, err = issue(DemoFamilyStaff, "", personnel.PassportDiplomatic, "dl_27", "JP", today.AddDate(-2, 0, 0))
	if err != nil {
		return err
	}
	if _, err := svc.RecordReturn(ctx, trust, by, id, pid, personnel.ReturnInput{ReturnDate: today.AddDate(0, 0, -3), Change: chg}); err != nil {
		return fmt.Errorf("return: %w", err)
	}
	// Overdue: the third secretary in Berlin was asked fifteen days ago to surrender (R§16).
	id, pid, err = issue(DemoDelayedStaff, "", personnel.PassportDiplomatic, "dl_27", "DE", today.AddDate(-3, 0, 0))
	if err != nil {
		return err
	}
	if _, err := svc.Demand(ctx, trust, by, id, pid, personnel.DemandInput{Ground: "status_mismatch", NoticeOn: today.AddDate(0, 0, -15),
		Channel: "written", Recipient: "Timur Sadykov", Change: chg}); err != nil {
		return fmt.Errorf("demand: %w", err)
	}
	// Lost: the Berlin registry officer's service passport, lost abroad (R§15(4), R§19).
	id, pid, err = issue("D-006", "", personnel.PassportService, "sl_6", "DE", today.AddDate(-1, -2, 0))
	if err != nil {
		return err
	}
	if _, err := svc.ReportLoss(ctx, trust, by, id, pid, personnel.LossInput{ApplicationOn: today.AddDate(0, 0, -20), Place: "abroad",
		Notified: []string{"host_police", "foreign_institution"}, Circumstances: "stolen with a bag at a railway station", Change: chg}); err != nil {
		return fmt.Errorf("loss: %w", err)
	}
	// Destroyed: the counsellor who resigned last year surrendered it; invalidated (R§15(5)) and destroyed by act.
	id, pid, err = issue("D-019", "", personnel.PassportDiplomatic, "dl_27", "JP", today.AddDate(-3, 0, 0))
	if err != nil {
		return err
	}
	if _, err := svc.Surrender(ctx, trust, by, id, pid, personnel.SurrenderInput{On: today.AddDate(-1, 0, 3), By: "the owner", Change: chg}); err != nil {
		return fmt.Errorf("surrender: %w", err)
	}
	if _, err := svc.Withdraw(ctx, trust, by, id, pid, personnel.WithdrawInput{On: today.AddDate(-1, 0, 4), Ground: "status_mismatch", Change: chg}); err != nil {
		return fmt.Errorf("invalidate: %w", err)
	}
	if _, err := svc.Destroy(ctx, trust, by, personnel.DestructionInput{ActDate: today.AddDate(0, -3, 0),
		ApprovedBy: personnel.Official{FullName: "Nurlan Zhaksybekov", Position: "Director, Consular Service Department"},
		Commission: []personnel.Official{{FullName: "Aliya Seitkali", Position: "Counsellor"}, {FullName: "Marat Registry (MFA)", Position: "Chief Registrar"},
			{FullName: "Perizat Personnel Officer", Position: "Head of Personnel"}},
		Order:     personnel.Act{Number: "Minister's order 118", Date: today.AddDate(-2, 0, 0)},
		Passports: []personnel.DestroyItem{{PassportID: pid, Ground: "invalidated"}}, Blanks: []string{"D4200040"}, FormCopies: []string{"act-scan-1.pdf", "act-scan-2.pdf"},
		Executor: "Perizat Personnel Officer", Change: chg}); err != nil {
		return fmt.Errorf("destruction act: %w", err)
	}
	// Holders outside the diplomatic service (the List's other categories): a deputy of the Mazhilis (DL-21),
	// and a military attaché (DL-29) with his child, on holder records kept by the ministry.
	holder := func(in personnel.HolderInput) (string, error) {
		in.Unit, in.Change = UnitMFA, chg
		h, err := svc.RegisterHolder(ctx, trust, by, in)
		return h.ID, err
	}
	issueHolder := func(hid, basis, evidence, country string, on personnel.Date, jointly bool) error {
		owner := personnel.HolderOwner(hid)
		p, err := svc.Apply(ctx, trust, by, owner, personnel.PassportApplication{Type: personnel.PassportDiplomatic, Basis: basis, ReceivedOn: on,
			BasisDetail: personnel.BasisDetail{Evidence: evidence, JointDeparture: jointly}, Documents: docs(country, on), Change: chg})
		if err != nil {
			return fmt.Errorf("apply %s: %w", basis, err)
		}
		n++
		_, err = svc.Issue(ctx, trust, by, owner, p.ID, personnel.IssueInput{Number: fmt.Sprintf("D%07d", 4200000+n),
			HandOut: personnel.HandOut{On: on.AddDate(0, 0, 2), Recipient: p.HolderName, RecipientDoc: personnel.IDDocument{Kind: "id_card", Number: fmt.Sprintf("0%08d", 31000000+n)},
				Signed: true}, Change: chg})
		return err
	}
	deputy, err := holder(personnel.HolderInput{FullName: "Aigerim Nurlanovna Deputy", BirthDate: today.AddDate(-49, -2, 0),
		PlaceOfWork: "Mazhilis of the Parliament", Position: "Deputy of the Mazhilis"})
	if err != nil {
		return fmt.Errorf("deputy: %w", err)
	}
	if err := issueHolder(deputy, "dl_21", "CEC resolution on the registration of the deputies of the Mazhilis", "FR", today.AddDate(0, -4, 0), false); err != nil {
		return err
	}
	attache, err := holder(personnel.HolderInput{FullName: "Colonel Serik Attache", BirthDate: today.AddDate(-46, 0, 0),
		PlaceOfWork: "Ministry of Defence", Position: "Military attaché at the Embassy in Berlin"})
	if err != nil {
		return fmt.Errorf("attaché: %w", err)
	}
	child, err := holder(personnel.HolderInput{FullName: "Alikhan Attache", BirthDate: today.AddDate(-12, 0, 0), PlaceOfWork: "-", Position: "-",
		Principal: attache, Relation: "child"})
	if err != nil {
		return fmt.Errorf("attaché's child: %w", err)
	}
	for _, h := range []string{attache, child} {
		if err := issueHolder(h, "dl_29", "Minister of Defence order on the appointment of the military attaché", "DE", today.AddDate(0, -10, 0), false); err != nil {
			return err
		}
	}
	// A career courier of the courier service on leave until a fortnight from now: refused a sheet.
	id, _, err = issue(DemoLeaveCourier, "", personnel.PassportDiplomatic, "dl_27", "DE", today.AddDate(-1, 0, 0))
	if err != nil {
		return err
	}
	if _, err := svc.AddPeriod(ctx, trust, by, id, personnel.PeriodInput{Type: personnel.PeriodLeave, StartDate: today.AddDate(0, 0, -2),
		EndDate: today.AddDate(0, 0, 14), Note: "annual leave", Change: chg}); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	var uid string
	if err := pool.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, DemoLeaveCourierAcc).Scan(&uid); err != nil {
		return err
	}
	_, err = courier.New(pool).Create(ctx, policy.Subject{Username: "demo"}, courier.CourierInput{Kind: policy.CourierCareer, UserID: uid,
		FullName: "Daulet Courier", Unit: UnitDCS})
	return err
}
