package middleware

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Invalidation stream timing.
const (
	// HeartbeatTimeout is how long the stream may stay silent before it is
	// considered dead and reconnected: Gatehouse sends a ": ping" comment
	// every 15 s.
	HeartbeatTimeout = 45 * time.Second
	// Reconnection backoff: doubling from minBackoff to maxBackoff, with
	// jitter, reset by every successful connection.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// Run follows Gatehouse's invalidation stream (GET /api/v1/verify/events,
// server-sent events) until ctx ends, reconnecting with backoff, and
// returns ctx's error. Events:
//
//	event: ready       data: {}                        the stream is up
//	event: invalidate  data: {"hash":"<hex SHA-256>"}  forget that credential
//	event: resync      data: {}                        forget everything
//	: ping                                             heartbeat (15 s)
//
// Every (re)connection drops the whole cache, since events may have been
// missed while the stream was down. Without Run (or while it reconnects)
// cached answers are used for at most Config.CacheTTL.
func (v *Verifier) Run(ctx context.Context) error {
	backoff := minBackoff
	for {
		ready, err := v.stream(ctx)
		v.live.Store(0)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ready {
			backoff = minBackoff
		}
		// Jitter spreads the reconnections of many resource servers after
		// a Gatehouse restart.
		wait := backoff/2 + rand.N(backoff/2+1)
		v.log.WarnContext(ctx, "gatehouse middleware: invalidation stream down; answers are cached for the TTL only until it is back",
			"err", err, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// stream runs one connection; ready says whether it got as far as the
// ready event.
func (v *Verifier) stream(ctx context.Context) (ready bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errSilent := errors.New("no event or heartbeat within " + HeartbeatTimeout.String())
	watchdog := time.AfterFunc(HeartbeatTimeout, func() { cancel(errSilent) })
	defer watchdog.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.eventsURL, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", v.auth)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := v.client.Do(req)
	if err != nil {
		return false, streamErr(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return false, fmt.Errorf("GET %s: %d %s", v.eventsURL, resp.StatusCode, b)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, fmt.Errorf("GET %s: content type %q, want text/event-stream", v.eventsURL, resp.Header.Get("Content-Type"))
	}

	// The event-stream format (WHATWG HTML §9.2.6): lines of "field: value",
	// an empty line dispatches the event, ":" starts a comment.
	br := bufio.NewReaderSize(resp.Body, 4096)
	var event, data strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // the stream is meant to be endless
			}
			return ready, streamErr(ctx, err)
		}
		watchdog.Reset(HeartbeatTimeout)
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if event.Len() > 0 || data.Len() > 0 {
				name := event.String()
				if name == "" {
					name = "message"
				}
				if err := v.dispatch(name, data.String(), &ready); err != nil {
					return ready, err
				}
			}
			event.Reset()
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // comment: the heartbeat
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event.Reset()
			event.WriteString(value)
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
}

// dispatch applies one event.
func (v *Verifier) dispatch(name, data string, ready *bool) error {
	switch name {
	case "ready":
		// Gatehouse has subscribed this stream: from now on every change
		// is sent, so what was cached before may be stale.
		v.dropAll()
		v.live.Store(v.connID.Add(1))
		*ready = true
	case "invalidate":
		var ev struct {
			Hash string `json:"hash"`
		}
		var h [32]byte
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return fmt.Errorf("invalidate event %.100q: %v", data, err)
		}
		// The length is checked first: hex.Decode writes len/2 bytes.
		if len(ev.Hash) != hex.EncodedLen(len(h)) {
			return fmt.Errorf("invalidate event: hash %.100q is not a hex SHA-256", ev.Hash)
		}
		if _, err := hex.Decode(h[:], []byte(ev.Hash)); err != nil {
			return fmt.Errorf("invalidate event: hash %.100q is not a hex SHA-256", ev.Hash)
		}
		v.gen.Add(1)
		if v.cache != nil {
			v.cache.drop(&h)
		}
	case "resync":
		v.dropAll()
	default:
		// Unknown events are ignored: the contract may grow.
	}
	return nil
}

// dropAll forgets every cached answer (and any answer being fetched).
func (v *Verifier) dropAll() {
	v.gen.Add(1)
	if v.cache != nil {
		v.cache.clear()
	}
}

// streamErr prefers the reason the stream's context was cancelled.
func streamErr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}
