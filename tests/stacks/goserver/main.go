// Command goserver is the Go crypto/tls server of tests/py/test_stacks_go.py (docs/stacks.md#go):
// configured as SemStreams configures its listeners (pkg/tlsutil): ClientAuth
// RequireAndVerifyClientCert with the client CA pool, a CN allow-list checked in
// VerifyPeerCertificate, a minimum version, and the WebSocket upgrade (101) or a plain HTTP answer.
// It also admits by URI SAN prefix (a SPIFFE trust domain path), which SemStreams does not do, for
// the harness's identity.uri_san_prefix rule. Standard library only; a test helper, never shipped.
package main

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// The WebSocket handshake's GUID (RFC 6455 section 1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	cert := flag.String("cert", "", "server certificate (PEM)")
	key := flag.String("key", "", "server key (PEM)")
	ca := flag.String("ca", "", "client CA file (PEM)")
	cns := flag.String("allowed-cns", "", "comma-separated CN allow-list (empty: any verified client)")
	uriPrefix := flag.String("uri-prefix", "", "admit only clients with a URI SAN starting with this")
	minVersion := flag.String("min-version", "1.2", "1.2 or 1.3")
	flag.Parse()

	pem, err := os.ReadFile(*ca)
	if err != nil {
		log.Fatalf("goserver: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		log.Fatalf("goserver: %s: no certificate", *ca)
	}
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		log.Fatalf("goserver: %v", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
	if *minVersion == "1.3" {
		cfg.MinVersion = tls.VersionTLS13
	}
	allowed := map[string]bool{}
	for _, cn := range strings.Split(*cns, ",") {
		if cn != "" {
			allowed[cn] = true
		}
	}
	// As SemStreams' tlsutil: the chains are verified by then; the leaf's CN must be listed.
	// An error here makes crypto/tls send bad_certificate (42).
	cfg.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
		if len(chains) == 0 || len(chains[0]) == 0 {
			return errors.New("no verified chain")
		}
		leaf := chains[0][0]
		if len(allowed) > 0 && !allowed[leaf.Subject.CommonName] {
			return fmt.Errorf("client CN %q not allowed", leaf.Subject.CommonName)
		}
		if *uriPrefix != "" {
			for _, u := range leaf.URIs {
				if strings.HasPrefix(u.String(), *uriPrefix) {
					return nil
				}
			}
			return fmt.Errorf("no URI SAN under %q", *uriPrefix)
		}
		return nil
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("goserver: %v", err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(handle),
		TLSConfig:         cfg,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(os.Stderr, "", log.LstdFlags),
	}
	fmt.Printf("goserver: listening on %s\n", ln.Addr())
	log.Fatal(srv.ServeTLS(ln, "", ""))
}

// handle answers a WebSocket upgrade with 101 (then closes: the probe reads only the answer) and
// any other request with 200.
func handle(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		fmt.Fprintln(w, "ok")
		return
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	h := w.Header()
	h.Set("Upgrade", "websocket")
	h.Set("Connection", "Upgrade")
	h.Set("Sec-WebSocket-Accept", base64.StdEncoding.EncodeToString(sum[:]))
	w.WriteHeader(http.StatusSwitchingProtocols)
}
