package bench

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// The load generator's HTTP/1.1 client.
//
// It is not net/http's: that client hands every response with a body from
// its connection's read goroutine to the caller and back (two goroutine
// switches and channel operations per request, none for an empty body), so
// its own cost per request depends on the answer's shape, and a ratio like
// verify/ceiling would charge the server for the client's work (measured
// here: the same plain handler answering 160 bytes of JSON instead of
// nothing loses 30 % of its throughput with net/http's client and 13 % with
// this one). This one costs the same for every scenario — one write of a
// prebuilt request, one buffered read of the answer on the caller's
// goroutine — as load generators like wrk do. It speaks just enough
// HTTP/1.1 for that: keep-alive, Content-Length and chunked bodies, bodies
// delimited by the connection's end, "Connection: close", 1xx answers
// skipped, and https.

const (
	// requestTimeout bounds one exchange (a server that stops answering
	// fails the request instead of hanging the run). The connection's
	// deadline is moved forward only when less than requestTimeout −
	// deadlineSlack is left, not on every request (it costs timer work on
	// the hot path), so an exchange may fail after between requestTimeout
	// − deadlineSlack and requestTimeout.
	requestTimeout = 30 * time.Second
	deadlineSlack  = 10 * time.Second
	dialTimeout    = 5 * time.Second
	// maxHeaderBytes bounds an answer's header section.
	maxHeaderBytes = 64 << 10
)

// template is a scenario's request prebuilt: the request line and header
// fields, without Content-Length and the empty line that ends them.
type template struct {
	addr    string      // host:port to dial
	tls     *tls.Config // nil for http
	head    []byte
	hasBody bool
}

// newTemplate builds sc's request; headers are written in sorted order.
func newTemplate(sc Scenario) (*template, error) {
	u, err := url.Parse(sc.URL)
	if err != nil {
		return nil, err
	}
	t := &template{addr: u.Host, hasBody: sc.Bodies != nil}
	switch u.Scheme {
	case "http":
		if u.Port() == "" {
			t.addr = net.JoinHostPort(u.Hostname(), "80")
		}
	case "https":
		t.tls = &tls.Config{ServerName: u.Hostname()}
		if u.Port() == "" {
			t.addr = net.JoinHostPort(u.Hostname(), "443")
		}
	default:
		return nil, fmt.Errorf("url %q: want http or https", sc.URL)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatehouse-bench\r\n", sc.Method, u.RequestURI(), u.Host)
	for _, k := range slices.Sorted(maps.Keys(sc.Header)) {
		for _, v := range sc.Header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	t.head = b.Bytes()
	return t, nil
}

// conn is one keep-alive connection; not safe for concurrent use.
type conn struct {
	t    *template
	nc   net.Conn
	br   *bufio.Reader
	out  []byte // the request being written
	used bool   // nc has carried a whole exchange
	// deadline is nc's current read/write deadline.
	deadline time.Time
}

var errMalformed = errors.New("malformed HTTP answer")

// do sends the template with body (when the template has one) and reads
// the whole answer into dst; it returns the status code. A connection
// that served an earlier request and fails before any byte of the answer
// arrived (the server closed it while idle) is retried once on a new one.
func (c *conn) do(body []byte, dst *bytes.Buffer) (int, error) {
	c.out = append(c.out[:0], c.t.head...)
	if c.t.hasBody {
		c.out = append(c.out, "Content-Length: "...)
		c.out = strconv.AppendInt(c.out, int64(len(body)), 10)
		c.out = append(c.out, "\r\n\r\n"...)
		c.out = append(c.out, body...)
	} else {
		c.out = append(c.out, "\r\n"...)
	}
	for attempt := 0; ; attempt++ {
		if c.nc == nil {
			if err := c.dial(); err != nil {
				return 0, err
			}
		}
		reused := c.used
		status, started, err := c.exchange(dst)
		if err == nil {
			return status, nil
		}
		c.close()
		if !reused || started || attempt > 0 {
			return 0, err
		}
	}
}

func (c *conn) dial() error {
	nc, err := net.DialTimeout("tcp", c.t.addr, dialTimeout)
	if err != nil {
		return err
	}
	if c.t.tls != nil {
		tc := tls.Client(nc, c.t.tls)
		tc.SetDeadline(time.Now().Add(dialTimeout))
		if err := tc.Handshake(); err != nil {
			nc.Close()
			return err
		}
		nc = tc
	}
	c.nc, c.used, c.deadline = nc, false, time.Time{}
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 4<<10)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

func (c *conn) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// exchange writes c.out and reads one final answer; started reports
// whether any byte of the answer was read.
func (c *conn) exchange(dst *bytes.Buffer) (status int, started bool, err error) {
	if now := time.Now(); c.deadline.Sub(now) < requestTimeout-deadlineSlack {
		c.deadline = now.Add(requestTimeout)
		c.nc.SetDeadline(c.deadline)
	}
	if _, err := c.nc.Write(c.out); err != nil {
		return 0, false, err
	}
	dst.Reset()
	for {
		line, err := c.readLine()
		if err != nil {
			return 0, line != nil, err
		}
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
			return 0, true, errMalformed
		}
		status, err = strconv.Atoi(string(line[9:12]))
		if err != nil || status < 100 {
			return 0, true, errMalformed
		}
		keepAlive := line[7] == '1'
		h, err := c.readHeader(keepAlive)
		if err != nil {
			return 0, true, err
		}
		if status < 200 {
			continue // 100 Continue and friends precede the answer
		}
		switch {
		case status == 204 || status == 304:
		case h.chunked:
			err = c.readChunked(dst)
		case h.length >= 0:
			err = c.readN(dst, h.length)
		default:
			_, err = dst.ReadFrom(c.br)
			h.keepAlive = false
		}
		if err != nil {
			return 0, true, err
		}
		c.used = true
		if !h.keepAlive {
			c.close()
		}
		return status, true, nil
	}
}

type header struct {
	length    int64 // -1 when absent
	chunked   bool
	keepAlive bool
}

// readHeader reads header fields up to the empty line, noting the ones
// that frame the body and the connection.
func (c *conn) readHeader(keepAlive bool) (header, error) {
	h := header{length: -1, keepAlive: keepAlive}
	n := 0
	for {
		line, err := c.readLine()
		if err != nil {
			return h, err
		}
		if len(line) == 0 {
			return h, nil
		}
		if n += len(line); n > maxHeaderBytes {
			return h, errMalformed
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return h, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if h.length, err = strconv.ParseInt(string(value), 10, 64); err != nil || h.length < 0 {
				return h, errMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			h.chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				h.keepAlive = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				h.keepAlive = true
			}
		}
	}
}

// readChunked reads a chunked body (RFC 9112 §7.1) and its trailer.
func (c *conn) readChunked(dst *bytes.Buffer) error {
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return errMalformed
		}
		if n == 0 {
			_, err := c.readHeader(true) // the trailer section
			return err
		}
		if err := c.readN(dst, n); err != nil {
			return err
		}
		if line, err := c.readLine(); err != nil || len(line) != 0 {
			return errMalformed
		}
	}
}

// readN appends the next n bytes to dst (without io.CopyN's allocations).
func (c *conn) readN(dst *bytes.Buffer, n int64) error {
	for n > 0 {
		if c.br.Buffered() == 0 {
			if _, err := c.br.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		k := int(min(int64(c.br.Buffered()), n))
		b, _ := c.br.Peek(k)
		dst.Write(b)
		c.br.Discard(k)
		n -= int64(k)
	}
	return nil
}

// readLine returns the next line without its CRLF (or LF). The slice is
// valid until the next read. A non-nil line with an error means some
// bytes were read.
func (c *conn) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			err = errMalformed
		}
		if len(line) == 0 {
			return nil, err
		}
		return line, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
