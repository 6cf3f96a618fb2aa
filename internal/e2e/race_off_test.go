//go:build !race

package e2e

// raceDetector is whether the tests run with -race (see race_on_test.go).
const raceDetector = false
