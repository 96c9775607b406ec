package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pcs-dev/pcs/broker"
)

// TestConnectCredentialsFromEnv: the CLI's connection takes its token from
// $PCS_NATS_TOKEN; without it a server requiring one refuses it, and the
// error shows neither the token nor the URL's password.
func TestConnectCredentialsFromEnv(t *testing.T) {
	cfg := broker.DefaultConfig()
	cfg.StoreDir = t.TempDir()
	cfg.Listen, cfg.Port = true, broker.RandomPort
	cfg.ReadyTimeout = 30 * time.Second
	cfg.Auth.Token = "cli-s3cret"
	b, err := broker.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(context.Background())
	env := map[string]string{}
	old := clientEnv
	clientEnv = func(k string) string { return env[k] }
	defer func() { clientEnv = old }()

	if nc, err := connect(context.Background(), b.ClientURL(), "test"); err == nil {
		nc.Close()
		t.Fatal("connected without the token")
	} else if !strings.Contains(err.Error(), "auth=none") {
		t.Errorf("error %v does not say which credentials were used", err)
	}
	withPass := strings.Replace(b.ClientURL(), "nats://", "nats://user:url-s3cret@", 1)
	if _, err := connect(context.Background(), withPass, "test"); err == nil || strings.Contains(err.Error(), "url-s3cret") {
		t.Errorf("URL password: %v", err)
	}
	env[broker.EnvToken] = "wrong"
	if nc, err := connect(context.Background(), b.ClientURL(), "test"); err == nil {
		nc.Close()
		t.Fatal("connected with a wrong token")
	} else if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the token: %v", err)
	}
	env[broker.EnvToken] = "cli-s3cret"
	nc, err := connect(context.Background(), b.ClientURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

// TestStatusSendsHTTPToken: pcs status sends $PCS_HTTP_TOKEN as a bearer
// token (a node with http_token_file answers 401 without it).
func TestStatusSendsHTTPToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer http-tok" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, `{}`)
	}))
	defer srv.Close()
	env := map[string]string{}
	old := clientEnv
	clientEnv = func(k string) string { return env[k] }
	defer func() { clientEnv = old }()
	if _, err := fetchStatus(context.Background(), srv.URL+"/v1/status", 5*time.Second); err == nil {
		t.Error("no token, no error")
	}
	env["PCS_HTTP_TOKEN"] = "http-tok"
	if _, err := fetchStatus(context.Background(), srv.URL+"/v1/status", 5*time.Second); err != nil {
		t.Errorf("with the token: %v", err)
	}
}
