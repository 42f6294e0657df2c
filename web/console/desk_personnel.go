package console

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"valise/personnel"
)

// The personnel officer's desk: staff search (by unit and kind, filtered
// in SQL by the policy's scope), a person's record with their rank history
// and time in rank, who is eligible for the next rank today, and the
// personnel alerts (every deadline a personnel feature registers: postings
// and rotation, passports, ...) on the records the user may read.

func (c *Console) personnelRoutes(r chi.Router) {
	r.Get("/personnel", c.personnelDesk)
	r.Get("/personnel/staff/{id}", c.personPage)
}

type personnelDesk struct {
	Unit, Kind string
	Staff      []personnel.StaffSummary
	Eligible   []personnel.Eligible
	// Alerts are every personnel deadline (postings, rotation, passports,
	// ... as each feature registers its source) on records this user may read.
	Alerts []personnel.Alert
	Kinds  []string
	Today  personnel.Date
}

func (c *Console) personnelDesk(w http.ResponseWriter, r *http.Request) {
	s := subject(r)
	q := r.URL.Query()
	d := &personnelDesk{Unit: q.Get("unit"), Kind: q.Get("kind"), Today: personnel.Today(time.Now()),
		Kinds: []string{personnel.KindDiplomatic, personnel.KindAdminTechnical}}
	if d.Kind != "" && d.Kind != personnel.KindDiplomatic && d.Kind != personnel.KindAdminTechnical {
		d.Kind = ""
	}
	sc, err := c.d.Authz.ListScope(r.Context(), s, "staff")
	if err == nil {
		d.Staff, err = c.staff.List(r.Context(), sc, s, d.Unit, d.Kind)
	}
	if err == nil {
		d.Eligible, err = c.staff.EligibleOn(r.Context(), sc, s, d.Today)
	}
	if err == nil {
		d.Alerts, err = c.staff.Alerts(r.Context(), s, personnel.Check(c.check(s)), time.Now())
	}
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "personnel", "desk.personnel", d)
}

type personView struct {
	Staff  personnel.Staff
	Record personnel.ServiceRecord
	Time   personnel.TimeInRank
}

func (c *Console) personPage(w http.ResponseWriter, r *http.Request) {
	s := subject(r)
	chk := personnel.Check(c.check(s))
	id := chi.URLParam(r, "id")
	var v personView
	var err error
	if v.Staff, err = c.staff.Get(r.Context(), chk, id); err == nil {
		if v.Record, err = c.staff.ServiceRecord(r.Context(), chk, id); err == nil {
			v.Time, err = c.staff.TimeInRank(r.Context(), chk, id, personnel.Today(time.Now()))
		}
	}
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "person", "title.person", v)
}
