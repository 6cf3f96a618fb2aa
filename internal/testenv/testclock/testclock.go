// Package testclock is the clock tests inject wherever Gatehouse takes a
// Now func() time.Time: tests expire credentials, sessions and handshakes
// by moving it, never by sleeping. It imports nothing of Gatehouse, so the
// internal tests of any package can use it (testenv, which starts whole
// servers, cannot be imported by the packages the server is built from).
package testclock

import (
	"sync/atomic"
	"time"
)

// Clock is a controllable time source, safe for concurrent use. A stopped
// clock (New) reads its start plus the offset; a running one (Running)
// reads the real time plus the offset.
type Clock struct {
	start   time.Time
	running bool
	offset  atomic.Int64 // nanoseconds
}

// New returns a clock stopped at t.
func New(t time.Time) *Clock { return &Clock{start: t} }

// Running returns a clock that follows the real time, shifted by Advance
// and SetOffset: for servers whose other clocks (the database's, the
// network's) keep running.
func Running() *Clock { return &Clock{running: true} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	d := time.Duration(c.offset.Load())
	if c.running {
		return time.Now().Add(d)
	}
	return c.start.Add(d)
}

// Advance moves the clock forward by d (back for a negative d).
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// Set stops a clock made by New at t. (A running clock has no instant to
// stop at; use SetOffset.)
func (c *Clock) Set(t time.Time) { c.offset.Store(int64(t.Sub(c.start))) }

// SetOffset sets how far the clock is from its start (or from the real
// time); SetOffset(0) puts it back.
func (c *Clock) SetOffset(d time.Duration) { c.offset.Store(int64(d)) }
