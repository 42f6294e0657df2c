package pouch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Content kinds (Art. 1(5); DM-08).
var itemKinds = []string{"correspondence", "item", "equipment"}

// Item is one submitted item.
type Item struct {
	Kind           string       `json:"kind"`
	Level          policy.Level `json:"level"`
	RegistryNumber string       `json:"registry_number,omitempty"`
	Count          int          `json:"count"`
	Description    string       `json:"description,omitempty"`
}

// SubmissionInput hands items in at a registry for a destination.
type SubmissionInput struct {
	Sender            string `json:"sender"`   // unit code of the sending organization
	Registry          string `json:"registry"` // the ministry or foreign institution that receives it
	Destination       string `json:"destination"`
	Submitter         string `json:"submitter,omitempty"` // username; default the caller
	ResponsiblePerson string `json:"responsible_person"`
	Items             []Item `json:"items"`
}

// Submission is a recorded hand-in.
type Submission struct {
	ID                string       `json:"id"`
	Sender            string       `json:"sender"`
	Registry          string       `json:"registry"`
	Destination       string       `json:"destination"`
	SenderEntryID     *string      `json:"sender_entry_id,omitempty"`
	Submitter         string       `json:"submitter"`
	ResponsiblePerson string       `json:"responsible_person"`
	Level             policy.Level `json:"level"`
	BagID             *string      `json:"bag_id,omitempty"`
	Items             []Item       `json:"items"`
	CreatedAt         time.Time    `json:"created_at"`
}

// Resource is the submission as the policy sees it.
func (sub *Submission) Resource() policy.Resource {
	return policy.Resource{Kind: "submission", ID: sub.ID, Level: sub.Level, Origin: sub.Sender,
		Destination: sub.Destination, Route: []string{sub.Registry}}
}

// Submit records a submission. An organization must be on the authorized
// senders list in force today, the submitter must be one of its permitted
// submitters, and no item may exceed its ceiling (DM-07). A diplomatic
// service body's own mail needs no list entry; its submitter must belong
// to it. Every classified item carries a registry number; the person
// responsible for the contents is recorded (7-1(6); DM-08 … DM-10).
func (s *Service) Submit(ctx context.Context, actor policy.Subject, in SubmissionInput, check Check) (*Submission, error) {
	var fe []valise.FieldError
	for _, f := range []struct{ v, name string }{{in.Sender, "sender"}, {in.Registry, "registry"}, {in.Destination, "destination"}} {
		if f.v == "" {
			fe = append(fe, valise.FieldError{Field: f.name, Reason: "required"})
		}
	}
	if strings.TrimSpace(in.ResponsiblePerson) == "" {
		fe = append(fe, valise.FieldError{Field: "responsible_person", Reason: "required: the person responsible for the contents (7-1(6))"})
	}
	if len(in.Items) == 0 {
		fe = append(fe, valise.FieldError{Field: "items", Reason: "at least one item"})
	}
	level := policy.Unclassified
	for i, it := range in.Items {
		f := fmt.Sprintf("items[%d].", i)
		if !contains(itemKinds, it.Kind) {
			fe = append(fe, valise.FieldError{Field: f + "kind", Reason: "must be correspondence, item or equipment"})
		}
		if !it.Level.Valid() {
			fe = append(fe, valise.FieldError{Field: f + "level", Reason: "not a level"})
		}
		if it.Level > policy.Unclassified && strings.TrimSpace(it.RegistryNumber) == "" {
			fe = append(fe, valise.FieldError{Field: f + "registry_number", Reason: "required for a classified item"})
		}
		if it.Count < 1 || it.Count > 10000 {
			fe = append(fe, valise.FieldError{Field: f + "count", Reason: "must be 1..10000"})
		}
		level = policy.Max(level, it.Level)
	}
	if fe != nil {
		return nil, valise.Invalid("the submission is incomplete", fe...)
	}
	submitter := in.Submitter
	if submitter == "" {
		submitter = actor.Username
	}
	var out *Submission
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		sender, err := UnitByCode(ctx, tx, in.Sender, "sender")
		if err != nil {
			return err
		}
		registry, err := UnitByCode(ctx, tx, in.Registry, "registry")
		if err != nil {
			return err
		}
		dest, err := UnitByCode(ctx, tx, in.Destination, "destination")
		if err != nil {
			return err
		}
		if !registry.IsDiplomaticService() {
			return valise.Invalid("items are handed in at a ministry or foreign-institution registry", valise.FieldError{Field: "registry", Reason: "is a " + registry.Kind})
		}
		if !dest.IsDiplomaticService() || dest.ID == registry.ID {
			return valise.Invalid("the destination must be another diplomatic service body", valise.FieldError{Field: "destination", Reason: "not a ministry or foreign institution other than the registry"})
		}
		if actor.UnitCode != sender.Code && actor.UnitCode != registry.Code {
			return valise.Errorf(valise.EFORBIDDEN, "you may submit only for your own organization or at your own registry")
		}
		sub := &Submission{Sender: sender.Code, Registry: registry.Code, Destination: dest.Code, Level: level}
		if err := check(ctx, policy.ActSubmit, sub.Resource()); err != nil {
			return err
		}
		var entryID *string
		if sender.IsDiplomaticService() {
			if sender.ID != registry.ID {
				return valise.Invalid("a diplomatic service body hands in its own mail at its own registry", valise.FieldError{Field: "registry", Reason: "must be " + sender.Code})
			}
			if submitter != actor.Username {
				return valise.Invalid("the submitter of a diplomatic service body's own mail is the caller", valise.FieldError{Field: "submitter", Reason: "must be you"})
			}
		} else {
			entry, err := senderInForce(ctx, tx, sender)
			if err != nil {
				return err
			}
			if !contains(entry.Submitters, submitter) {
				return &valise.Error{Code: valise.EFORBIDDEN, Message: submitter + " is not a permitted submitter of " + sender.Code + " on the list of entitled senders",
					Fields: []valise.FieldError{{Field: "submitter", Reason: "not a permitted submitter"}}}
			}
			for i, it := range in.Items {
				if it.Level > entry.Ceiling {
					return &valise.Error{Code: valise.EFORBIDDEN,
						Message: fmt.Sprintf("%s may send up to %s; item %d is %s", sender.Code, entry.Ceiling, i+1, it.Level),
						Fields:  []valise.FieldError{{Field: fmt.Sprintf("items[%d].level", i), Reason: "above the sender's ceiling " + entry.Ceiling.String()}}}
				}
			}
			entryID = &entry.ID
		}
		var id string
		err = tx.QueryRow(ctx, `INSERT INTO submissions (sender_id, sender_entry_id, registry_id, destination_id, submitted_by,
			responsible_person, level) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			sender.ID, entryID, registry.ID, dest.ID, submitter, in.ResponsiblePerson, int16(level)).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert submission: %w", err)
		}
		for i, it := range in.Items {
			var reg *string
			if r := strings.TrimSpace(it.RegistryNumber); r != "" {
				reg = &r
			}
			_, err := tx.Exec(ctx, `INSERT INTO submission_items (submission_id, seq, kind, level, registry_number, count, description)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, i+1, it.Kind, int16(it.Level), reg, it.Count, it.Description)
			if err != nil {
				if strings.Contains(err.Error(), "submission_items_registry_idx") {
					return valise.Invalid("registry number already used", valise.FieldError{Field: fmt.Sprintf("items[%d].registry_number", i), Reason: "already registered"})
				}
				return fmt.Errorf("insert item: %w", err)
			}
		}
		out, err = getSubmission(ctx, tx, id)
		return err
	})
	return out, err
}

// getSubmission loads a submission with its items.
func getSubmission(ctx context.Context, q db.Querier, id string) (*Submission, error) {
	sub, err := submissionHeader(ctx, q, id)
	if err != nil {
		return nil, err
	}
	return sub, loadItems(ctx, q, sub)
}

// submissionHeader loads a submission without its items (one round trip).
func submissionHeader(ctx context.Context, q db.Querier, id string) (*Submission, error) {
	if !db.ValidUUID(id) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such submission")
	}
	var sub Submission
	var level int16
	err := q.QueryRow(ctx, `SELECT s.id, se.code, r.code, d.code, s.sender_entry_id, s.submitted_by, s.responsible_person,
		s.level, s.bag_id, s.created_at FROM submissions s JOIN units se ON se.id = s.sender_id
		JOIN units r ON r.id = s.registry_id JOIN units d ON d.id = s.destination_id WHERE s.id = $1`, id).
		Scan(&sub.ID, &sub.Sender, &sub.Registry, &sub.Destination, &sub.SenderEntryID, &sub.Submitter,
			&sub.ResponsiblePerson, &level, &sub.BagID, &sub.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such submission")
	}
	if err != nil {
		return nil, fmt.Errorf("load submission: %w", err)
	}
	sub.Level = policy.Level(level)
	return &sub, nil
}

// loadItems reads the submission's items into sub.
func loadItems(ctx context.Context, q db.Querier, sub *Submission) error {
	rows, err := q.Query(ctx, `SELECT kind, level, coalesce(registry_number, ''), count, description FROM submission_items
		WHERE submission_id = $1 ORDER BY seq`, sub.ID)
	if err != nil {
		return fmt.Errorf("load items: %w", err)
	}
	sub.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
		var it Item
		var l int16
		err := r.Scan(&it.Kind, &l, &it.RegistryNumber, &it.Count, &it.Description)
		it.Level = policy.Level(l)
		return it, err
	})
	if err != nil {
		return fmt.Errorf("load items: %w", err)
	}
	return nil
}

// GetSubmission returns a submission with its items (content names) after
// check authorizes reading it.
func (s *Service) GetSubmission(ctx context.Context, id string, check Check) (*Submission, error) {
	sub, err := submissionHeader(ctx, s.pool, id)
	if err != nil {
		return nil, db.Classify(err)
	}
	if err := check(ctx, policy.ActBagRead, sub.Resource()); err != nil {
		return nil, err
	}
	// The items are read only once check allows: a hidden submission costs
	// the round trip a missing one does.
	return sub, db.Classify(loadItems(ctx, s.pool, sub))
}

// BagContents returns the submissions in a bag; the caller has authorized
// reading the bag, whose level is the highest of these items.
func (s *Service) BagContents(ctx context.Context, bagID string) ([]*Submission, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM submissions WHERE bag_id = $1 ORDER BY created_at`, bagID)
	if err != nil {
		return nil, db.Classify(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make([]*Submission, 0, len(ids))
	for _, id := range ids {
		sub, err := getSubmission(ctx, s.pool, id)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, nil
}
