// Package pki makes throwaway certificate authorities and certificates
// for tests and demos (`make demo-cluster`): an ECDSA P-256 CA and leaf
// certificates for both server and client authentication, valid for a day,
// written as PEM files. It is not a production PKI: keys are not protected
// and nothing is revocable.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority held in memory.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// Files are the PEM files of one issued certificate and its CA.
type Files struct {
	// CA is the CA certificate; Cert and Key the issued certificate and
	// its key.
	CA, Cert, Key string
}

// NewCA creates a self-signed CA named name.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// PEM returns the CA certificate in PEM.
func (ca *CA) PEM() []byte { return ca.pem }

// Issue makes a leaf certificate for name, valid for server and client
// authentication, with hosts (IP addresses or DNS names) as its SANs.
func (ca *CA) Issue(name string, hosts ...string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// WriteCA writes the CA certificate to dir/ca.pem and returns its path.
func (ca *CA) WriteCA(dir string) (string, error) {
	path := filepath.Join(dir, "ca.pem")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, ca.pem, 0o644)
}

// Write issues a certificate for name (see Issue) and writes dir/ca.pem,
// dir/<name>.pem and dir/<name>-key.pem (mode 0600).
func (ca *CA) Write(dir, name string, hosts ...string) (Files, error) {
	caPath, err := ca.WriteCA(dir)
	if err != nil {
		return Files{}, err
	}
	c, k, err := ca.Issue(name, hosts...)
	if err != nil {
		return Files{}, err
	}
	f := Files{CA: caPath, Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+"-key.pem")}
	if err := os.WriteFile(f.Cert, c, 0o644); err != nil {
		return Files{}, err
	}
	if err := os.WriteFile(f.Key, k, 0o600); err != nil {
		return Files{}, err
	}
	return f, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(fmt.Sprintf("pki: serial: %v", err))
	}
	return n
}
