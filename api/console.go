package api

import (
	"crypto/hmac"
	"crypto/sha256"

	"valise/web/console"
)

// newConsole builds the web console (web/console) over the server's own
// services: the same pool, policy, identity and domain services, the same
// login rules (signIn) and the same error statuses. Its cookie key is
// derived from the master key, so every process of a deployment accepts
// every other's cookies and no key is stored.
func (s *Server) newConsole(master []byte) *console.Console {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("valise web console cookies"))
	return console.New(console.Deps{Pool: s.pool, Authz: s.authz, Ident: s.ident, Bags: s.pouch.bags,
		Couriers: s.pouch.couriers, SignIn: s.signIn, Status: StatusOf, Key: m.Sum(nil), HSTS: s.cfg.HSTS, Log: s.log})
}
