package console

// errorView is the view model of pages/error.html: 403, 404, 429, 500 and
// the CSRF "form expired" page. It never carries internal detail.
type errorView struct {
	Base
	Status  int
	Heading string // message ID
	Message string // message ID
	// Reason is a refused request's own reason, already in the reader's
	// language: the message a domain error's ID names ("" = none).
	Reason string
}
