// Package e2e holds Gatehouse's end-to-end tests: the real binary or the
// fully wired server on real databases, real HTTP clients, and (with
// GATEHOUSE_E2E=1) a real headless Chromium driven by chromedp.
package e2e
