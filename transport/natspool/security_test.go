package natspool_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport/natspool"
)

// clientPerms are the permissions of client id: subscribe to its own
// subject only, publish nothing but replies to requests it received.
func clientPerms(id string) *server.Permissions {
	return &server.Permissions{
		Subscribe: &server.SubjectPermission{Allow: []string{natspool.Subject("", id), natspool.Subject("", "cancel."+id)}},
		Publish:   &server.SubjectPermission{Deny: []string{">"}},
		Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
	}
}

// rootPerms: the server publishes requests to clients and receives replies
// on its inboxes.
var rootPerms = &server.Permissions{
	Publish:   &server.SubjectPermission{Allow: []string{natspool.Subject("", ">")}},
	Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
}

// TestPerClientPermissions mounts the attacks that per-client permissions
// rule out: client c1 (authenticated) tries to read the requests sent to
// c2 (subscribing to c2's subject, to every client's subject, and to the
// server's reply inboxes) and to forge a request to c2 as the server
// would. The server with user/password and NKEY users refuses each; the
// honest round goes on, and a wrong password cannot connect at all.
func TestPerClientPermissions(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	s := startServer(t, &server.Options{
		Users: []*server.User{
			{Username: "root", Password: "root-secret", Permissions: rootPerms},
			{Username: "c1", Password: "c1-secret", Permissions: clientPerms("c1")},
		},
		Nkeys: []*server.NkeyUser{{Nkey: pub, Permissions: clientPerms("c2")}},
	})
	url := s.ClientURL()
	if _, err := nats.Connect(url, nats.UserInfo("c1", "wrong")); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("wrong password: err = %v, want an authorization error", err)
	}

	// c2 authenticates with its NKEY and serves its handler.
	const d = 4
	var served atomic.Int64
	h, _ := client(d)("c2")
	c2 := connect(t, url, nats.Nkey(pub, kp.Sign))
	r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: c2, IDs: []string{"c2"}, Factory: func(string) (fl.Handler, error) {
		return fl.HandlerFunc(func(ctx context.Context, m *fl.Message) (*fl.Message, error) {
			served.Add(1)
			return h.Handle(ctx, m)
		}), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	serveRunner(t, r)

	// c1 tries to eavesdrop and to forge.
	violations := make(chan error, 16)
	c1 := connect(t, url, nats.UserInfo("c1", "c1-secret"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
	var stolen atomic.Int64
	for _, subj := range []string{natspool.Subject("", "c2"), natspool.Subject("", "*"), "_INBOX.>", ">"} {
		c1.Subscribe(subj, func(*nats.Msg) { stolen.Add(1) })
	}
	c1.Publish(natspool.Subject("", "c2"), []byte("forged request"))
	c1.Flush()

	root := connect(t, url, nats.UserInfo("root", "root-secret"))
	pool, err := natspool.New(natspool.Config{Conn: root, IDs: []string{"c2"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.RoundTimeout = 2, 5*time.Second
	_, hist := runServer(t, cfg, pool, d)
	for _, rs := range hist.Rounds {
		if rs.Accepted != 1 {
			t.Fatalf("round %d: %+v", rs.Round, rs)
		}
	}
	c1.Flush()
	if n := stolen.Load(); n != 0 {
		t.Errorf("c1 received %d messages meant for c2 or the server", n)
	}
	if n := served.Load(); n != 2 {
		t.Errorf("c2 handled %d requests, want the server's 2 (a forged request got through?)", n)
	}
	count := 0
	timeout := time.After(5 * time.Second)
wait:
	for count < 5 {
		select {
		case err := <-violations:
			if errors.Is(err, nats.ErrPermissionViolation) {
				count++
			}
		case <-timeout:
			break wait
		}
	}
	if count < 5 {
		t.Errorf("%d permission violations reported to c1, want its 4 subscriptions and its publish refused", count)
	}
}
