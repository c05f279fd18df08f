package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ServerTLSConfig returns the TLS configuration for an http.Server that
// serves an [HTTPPool]: TLS 1.3 only, HTTP/2 and HTTP/1.1 offered, with
// certificate cert. If clientCAs is not nil, client certificates are
// verified against it: required if requireClientCert, else verified when
// presented (so that token clients may connect too).
func ServerTLSConfig(cert tls.Certificate, clientCAs *x509.CertPool, requireClientCert bool) *tls.Config {
	c := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if clientCAs != nil {
		c.ClientCAs = clientCAs
		c.ClientAuth = tls.VerifyClientCertIfGiven
		if requireClientCert {
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return c
}

// ClientTLSConfig returns a TLS 1.3 client configuration that trusts roots
// (nil means the system roots) and presents cert if it is not nil.
func ClientTLSConfig(roots *x509.CertPool, cert *tls.Certificate) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

// Files of a [DevPKI] directory.
const (
	DevCAFile        = "ca.pem"
	DevCAKeyFile     = "ca-key.pem"
	DevServerFile    = "server.pem"
	DevServerKeyFile = "server-key.pem"
)

// DevPKI is a throwaway certificate authority for local trials of the
// network transport: an ECDSA P-256 CA, a server certificate for
// localhost, 127.0.0.1 and ::1, and client certificates issued on demand
// with the client id as CommonName. Its keys are written unencrypted to
// Dir: never use it beyond a developer's machine.
type DevPKI struct {
	Dir   string
	CA    *x509.Certificate
	Roots *x509.CertPool
	key   *ecdsa.PrivateKey
	rand  io.Reader
}

// NewDevPKI creates a CA and a server certificate in dir (created if
// needed). rand is the source of keys and serial numbers; nil means
// crypto/rand.
func NewDevPKI(dir string, rnd io.Reader) (*DevPKI, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fedgo dev CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, DevCAFile), "CERTIFICATE", der); err != nil {
		return nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, DevCAKeyFile), "EC PRIVATE KEY", kb); err != nil {
		return nil, err
	}
	d, err := LoadDevPKI(dir, rnd)
	if err != nil {
		return nil, err
	}
	cert, certKey, err := d.issue("localhost", true)
	if err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, DevServerFile), "CERTIFICATE", cert); err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, DevServerKeyFile), "EC PRIVATE KEY", certKey); err != nil {
		return nil, err
	}
	return d, nil
}

// LoadDevPKI loads the CA that NewDevPKI wrote to dir.
func LoadDevPKI(dir string, rnd io.Reader) (*DevPKI, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, DevCAFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, DevCAKeyFile))
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(caPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("transport: dev PKI: bad PEM")
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return &DevPKI{Dir: dir, CA: ca, Roots: roots, key: key, rand: rnd}, nil
}

// ServerCert returns the server certificate written to Dir.
func (d *DevPKI) ServerCert() (tls.Certificate, error) {
	return tls.LoadX509KeyPair(filepath.Join(d.Dir, DevServerFile), filepath.Join(d.Dir, DevServerKeyFile))
}

// ClientCert issues a client certificate whose CommonName is id.
func (d *DevPKI) ClientCert(id string) (tls.Certificate, error) {
	if err := checkClientID(id); err != nil {
		return tls.Certificate{}, fmt.Errorf("transport: %w", err)
	}
	der, keyDER, err := d.issue(id, false)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return tls.X509KeyPair(certPEM, keyPEM)
}

// issue returns the DER of a new certificate and its key.
func (d *DevPKI) issue(cn string, server bool) (cert, key []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), d.rand)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(d.rand, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	cert, err = x509.CreateCertificate(d.rand, tmpl, d.CA, &k.PublicKey, d.key)
	if err != nil {
		return nil, nil, err
	}
	key, err = x509.MarshalECPrivateKey(k)
	return cert, key, err
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
