package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"valise"
	"valise/crypto/secret"
	"valise/identity"
	"valise/policy"
)

// stdin is where `valise users create-admin` reads the password; tests replace it.
var stdin io.Reader = os.Stdin

// runUsers is `valise users create-admin --username NAME [--unit CODE]
// [--full-name NAME]`: the bootstrap of a deployment without demo data. The
// password is read from the first line of standard input, never from a flag
// (flags show in process lists and shell history).
func runUsers(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var username, unit, fullName string
	spec := cli{name: "users create-admin", synopsis: "--username NAME [--unit CODE] [--full-name NAME] [flags]  (password on stdin)",
		about:    "Creates the first administrator of a deployment without demo data. The password is the\nfirst line of standard input (never a flag: flags show in process lists and shell history),\ne.g. printf '%s\\n' \"$PW\" | valise users create-admin --username root.admin",
		settings: dbSettings,
		own: func(fs *flag.FlagSet) {
			fs.StringVar(&username, "username", "", "the administrator's username (required)")
			fs.StringVar(&unit, "unit", "MFA", "the administrator's unit (created as the ministry when absent)")
			fs.StringVar(&fullName, "full-name", "Administrator", "the administrator's full name")
		}}
	if len(args) == 0 || args[0] != "create-admin" {
		spec.help(stderr)
		if len(args) > 0 && isHelp(args[0]) {
			return 0
		}
		return 2
	}
	c, fs, err := spec.parse(args[1:], stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	if username == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "valise users create-admin: --username is required (and no other arguments)")
		return 2
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintln(stderr, "valise users: read the password from standard input:", err)
		return 1
	}
	pw := strings.TrimRight(line, "\r\n")
	if n := len([]rune(pw)); n < identity.MinPasswordLen || n > identity.MaxPasswordLen {
		fmt.Fprintf(stderr, "valise users: the password must be %d-%d characters\n", identity.MinPasswordLen, identity.MaxPasswordLen)
		return 1
	}
	log := c.logger(stderr)
	d, err := openDatabase(ctx, c, log)
	if err != nil {
		fmt.Fprintln(stderr, "valise users:", err)
		return 1
	}
	defer d.Close()
	if _, err := migrateUp(ctx, d.Pool); err != nil {
		fmt.Fprintln(stderr, "valise users:", err)
		return 1
	}
	master, err := secret.LoadMasterKey(c.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "valise users:", err)
		return 1
	}
	svc := identity.New(d.Pool, master, identity.Config{}, log)
	if _, err := svc.GetUnit(ctx, unit); err != nil {
		// A fresh deployment has no units yet: the ministry is the root.
		_, err = svc.CreateUnit(ctx, identity.UnitInput{Code: unit, Name: "Ministry of Foreign Affairs", Kind: "ministry"})
		if err != nil {
			fmt.Fprintln(stderr, "valise users: create unit:", err)
			return 1
		}
	}
	u, err := svc.CreateUser(ctx, identity.UserInput{Username: username, FullName: fullName, Unit: unit,
		Roles: []string{policy.RoleAdmin}, Clearance: policy.Unclassified, Password: pw})
	if err != nil {
		fmt.Fprintln(stderr, "valise users:", valise.ErrorMessage(err))
		var ve *valise.Error
		if errors.As(err, &ve) {
			for _, f := range ve.Fields {
				fmt.Fprintf(stderr, "  %s: %s\n", f.Field, f.Reason)
			}
		}
		return 1
	}
	fmt.Fprintf(stdout, "created admin %s (%s) in unit %s\n", u.Username, u.ID, u.Unit)
	return 0
}
