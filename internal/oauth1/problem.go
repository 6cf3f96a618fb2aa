package oauth1

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// Problem names (the OAuth Problem Reporting extension, as Magento's
// OAuth module reports them in oauth_problem).
const (
	ParameterAbsent         = "parameter_absent"
	ParameterRejected       = "parameter_rejected"
	VersionRejected         = "version_rejected"
	SignatureMethodRejected = "signature_method_rejected"
	SignatureInvalid        = "signature_invalid"
	TimestampRefused        = "timestamp_refused"
	NonceUsed               = "nonce_used"
	ConsumerKeyRejected     = "consumer_key_rejected"
	TokenRejected           = "token_rejected"
	TokenUsed               = "token_used"
	TokenExpired            = "token_expired"
	VerifierInvalid         = "verifier_invalid"
)

// ConsumerKeyExpired is Magento's advice when the token exchange starts
// after the handshake expiry: the most-reported integrator failure, so it
// is said in exactly Magento's words.
const ConsumerKeyExpired = "Consumer key has expired"

// Problem is a refused OAuth 1.0a request: the oauth_problem name, advice
// for the integrator and the HTTP status. Its Error text is safe to show
// to the client.
type Problem struct {
	Name   string
	Advice string
	// Absent lists missing parameters (oauth_parameters_absent).
	Absent []string
}

func problem(name, advice string) *Problem { return &Problem{Name: name, Advice: advice} }

func (p *Problem) Error() string { return p.Name + ": " + p.Advice }

// Status is 400 for a request that is malformed or asks for something
// unsupported (missing or repeated parameters, bad length, version or
// signature method) and 401 for credentials that do not check out
// (signature, timestamp window, nonce, unknown, expired, used or revoked
// consumer, token or verifier) — RFC 5849 §3.2 and SPEC §5.
func (p *Problem) Status() int {
	switch p.Name {
	case ParameterAbsent, ParameterRejected, VersionRejected, SignatureMethodRejected:
		return http.StatusBadRequest
	}
	return http.StatusUnauthorized
}

// Code is the verification code the gateway answers for the problem: a
// malformed request is MALFORMED, anything else that does not
// authenticate UNKNOWN (a revoked token is the verifier's REVOKED, after
// the signature checked out).
func (p *Problem) Code() gatehouse.Code {
	if p.Status() == http.StatusBadRequest {
		return gatehouse.CodeMalformed
	}
	return gatehouse.CodeUnknown
}

// Body is the form-encoded problem report:
// oauth_problem=…&oauth_problem_advice=… (and oauth_parameters_absent).
func (p *Problem) Body() string {
	body := "oauth_problem=" + url.QueryEscape(p.Name)
	if p.Advice != "" {
		body += "&oauth_problem_advice=" + url.QueryEscape(p.Advice)
	}
	if len(p.Absent) > 0 {
		body += "&oauth_parameters_absent=" + url.QueryEscape(strings.Join(p.Absent, "&"))
	}
	return body
}

// writeProblem writes err as an OAuth problem report: a *Problem with its
// status; a store outage as 503 temporarily_unavailable; anything else as
// 500 internal_error, logged and not shown.
func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var p *Problem
	if !errors.As(err, &p) {
		status, name := http.StatusInternalServerError, "internal_error"
		if gatehouse.IsCode(err, gatehouse.EUNAVAILABLE) {
			status, name = http.StatusServiceUnavailable, "temporarily_unavailable"
			w.Header().Set("Retry-After", "1")
		}
		log.ErrorContext(r.Context(), "oauth1: request failed", "path", r.URL.Path, "err", err)
		p = &Problem{Name: name, Advice: "the server could not complete the request; try again"}
		writeForm(w, status, p.Body())
		return
	}
	if p.Status() == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `OAuth realm="gatehouse"`)
	}
	writeForm(w, p.Status(), p.Body())
}

func writeForm(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(body))
}
