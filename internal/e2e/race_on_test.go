//go:build race

package e2e

// raceDetector is whether the tests run with -race, which makes the
// pure-Go SQLite driver many times slower: time budgets scale with it.
const raceDetector = true
