package natspool_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fedgo/fedgo/fl"
	"github.com/fedgo/fedgo/transport/natspool"
)

// selfSigned returns a TLS certificate for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fedgo test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, roots
}

// TestTLS: over a NATS server that requires TLS 1.3, a client that does
// not trust the server's certificate cannot connect (nats.go upgrades
// every connection to a server that requires TLS, and verification
// fails); the round runs over TLS 1.3.
func TestTLS(t *testing.T) {
	cert, roots := selfSigned(t)
	s := startServer(t, &server.Options{TLS: true, TLSTimeout: 5,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}}})
	url := s.ClientURL()
	if _, err := nats.Connect(url, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS13}), nats.Timeout(2*time.Second)); err == nil {
		t.Fatal("a client that does not trust the server's certificate connected")
	}
	secure := nats.Secure(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots})
	h, _ := client(4)("c000001")
	r, err := natspool.NewRunner(natspool.RunnerConfig{Conn: connect(t, url, secure), IDs: []string{"c000001"}, Factory: func(string) (fl.Handler, error) { return h, nil }})
	if err != nil {
		t.Fatal(err)
	}
	serveRunner(t, r)
	nc := connect(t, url, secure)
	if st, err := nc.TLSConnectionState(); err != nil || st.Version != tls.VersionTLS13 {
		t.Errorf("connection state %v, %v: want TLS 1.3", st.Version, err)
	}
	pool, _ := natspool.New(natspool.Config{Conn: nc, IDs: []string{"c000001"}})
	cfg := fl.DefaultServerConfig()
	cfg.Rounds, cfg.RoundTimeout = 1, 10*time.Second
	if _, hist := runServer(t, cfg, pool, 4); hist.Rounds[0].Accepted != 1 {
		t.Errorf("round over TLS: %+v", hist.Rounds[0])
	}
}
