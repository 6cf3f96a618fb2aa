package console

// errorView is the view model of pages/error.html: 403, 404, 429, 500 and
// the CSRF "form expired" page. It never carries internal detail.
type errorView struct {
	Base
	Status  int
	Heading string // message ID
	Message string // message ID
}
