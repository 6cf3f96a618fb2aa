package testclock_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv/testclock"
)

func TestStopped(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := testclock.New(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now = %v, want %v", c.Now(), start)
	}
	c.Advance(time.Hour)
	if want := start.Add(time.Hour); !c.Now().Equal(want) {
		t.Fatalf("after Advance: %v, want %v", c.Now(), want)
	}
	at := start.Add(-time.Minute)
	c.Set(at)
	if !c.Now().Equal(at) {
		t.Fatalf("after Set: %v, want %v", c.Now(), at)
	}
	c.SetOffset(0)
	if !c.Now().Equal(start) {
		t.Fatalf("after SetOffset(0): %v, want %v", c.Now(), start)
	}
}

func TestRunning(t *testing.T) {
	c := testclock.Running()
	c.SetOffset(721 * time.Hour)
	if d := time.Until(c.Now()); d < 720*time.Hour || d > 722*time.Hour {
		t.Fatalf("running clock with a 721 h offset is %v ahead", d)
	}
	c.Advance(-721 * time.Hour)
	if d := time.Since(c.Now()); d < -time.Minute || d > time.Minute {
		t.Fatalf("running clock back at the real time is %v off", d)
	}
}
