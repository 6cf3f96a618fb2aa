package bench

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// rawServer answers each request read on a connection with the next of
// answers (raw bytes), closing the connection after each answer when
// closeEach is set, and after the last one anyway.
func rawServer(t *testing.T, closeEach bool, answers ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for _, a := range answers {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					io.WriteString(c, a)
					if closeEach {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestClientFraming(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		status       int
		body         string
		keepAlive    bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello", true},
		{"chunked", "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n", 201, "hello", true},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nhello", 200, "hello", false},
		{"connection close", "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno", 403, "no", false},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, "ok", false},
		{"continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 204, "", true},
		{"LF only", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 200, "ok", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := rawServer(t, !tc.keepAlive, tc.answer, tc.answer)
			tmpl, err := newTemplate(Scenario{Method: "POST", URL: u + "/x?y=1", Bodies: [][]byte{}, Header: http.Header{"X-A": {"1"}}})
			if err != nil {
				t.Fatal(err)
			}
			c := &conn{t: tmpl}
			defer c.close()
			var buf bytes.Buffer
			for i := range 2 {
				status, err := c.do([]byte("ping"), &buf)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if status != tc.status || buf.String() != tc.body {
					t.Fatalf("request %d = %d %q, want %d %q", i, status, buf.String(), tc.status, tc.body)
				}
				if (c.nc != nil) != tc.keepAlive {
					t.Fatalf("request %d: connection kept = %v, want %v", i, c.nc != nil, tc.keepAlive)
				}
			}
		})
	}
}

func TestClientRefusesMalformed(t *testing.T) {
	for _, answer := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		"SSH-2.0-OpenSSH\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 8<<10) + "\r\n\r\n",
	} {
		u := rawServer(t, false, answer)
		tmpl, err := newTemplate(Scenario{Method: "GET", URL: u + "/"})
		if err != nil {
			t.Fatal(err)
		}
		c := &conn{t: tmpl}
		var buf bytes.Buffer
		if status, err := c.do(nil, &buf); err == nil {
			t.Errorf("answer %.40q: status %d, no error", answer, status)
		}
		if c.nc != nil {
			t.Errorf("answer %.40q: connection kept after an error", answer)
		}
	}
}

// TestClientRequestAndReuse checks what the server receives (method, path,
// host, headers, exact body with its length) and that one connection
// carries every request, and that a keep-alive connection the server
// closed while idle is replaced without failing the request.
func TestClientRequestAndReuse(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(conns) }
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		if r.Method != "PUT" || r.URL.RequestURI() != "/a/b?c=d" || r.Header.Get("X-Test") != "v" ||
			r.ContentLength != int64(len(b)) || r.Host == "" || r.Header.Get("User-Agent") != "gatehouse-bench" {
			w.WriteHeader(http.StatusBadRequest)
		}
		w.Write(b)
	}))
	srv.Start()
	defer srv.Close()
	tmpl, err := newTemplate(Scenario{Method: "PUT", URL: srv.URL + "/a/b?c=d", Header: http.Header{"X-Test": {"v"}}, Bodies: [][]byte{}})
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{t: tmpl}
	defer c.close()
	var buf bytes.Buffer
	for _, body := range []string{"one", "", strings.Repeat("x", 10000)} {
		status, err := c.do([]byte(body), &buf)
		if err != nil || status != 200 || buf.String() != body {
			t.Fatalf("body %.10q: %d %.10q %v", body, status, buf.String(), err)
		}
	}
	if n := count(); n != 1 {
		t.Fatalf("%d connections for 3 requests, want 1", n)
	}
	srv.CloseClientConnections() // the idle keep-alive connection dies
	if status, err := c.do([]byte("again"), &buf); err != nil || status != 200 {
		t.Fatalf("after the server closed the idle connection: %d %v", status, err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d connections, want a second one", n)
	}
}

func TestClientTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secure") }))
	defer srv.Close()
	tmpl, err := newTemplate(Scenario{Method: "GET", URL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{t: tmpl}
	var buf bytes.Buffer
	if _, err := c.do(nil, &buf); err == nil {
		t.Fatal("an unknown certificate was accepted")
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	tmpl.tls.RootCAs = pool
	defer c.close()
	if status, err := c.do(nil, &buf); err != nil || status != 200 || buf.String() != "secure" {
		t.Fatalf("https: %d %q %v", status, buf.String(), err)
	}
	if _, err := newTemplate(Scenario{Method: "GET", URL: "ftp://x/"}); err == nil {
		t.Fatal("ftp accepted")
	}
}
