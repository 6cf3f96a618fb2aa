package gatehouse

import (
	"unicode"
	"unicode/utf8"
)

// TextError is CheckText's refusal: an EINVALID field error (errors.As
// finds the *Error inside), its own type so a front end can say what is
// wrong in its own words rather than the field's usual length message.
type TextError struct{ Err *Error }

func (e *TextError) Error() string { return e.Err.Error() }
func (e *TextError) Unwrap() error { return e.Err }

// CheckText refuses, in a name, description or email someone typed, what
// is not printable text: invalid UTF-8, control characters (NUL, tabs,
// line breaks, C1 controls), and U+FFFD, the mark of text that was broken
// before it arrived (encoding/json turns a lone surrogate "\ud800" and
// invalid bytes into it). Security: such names break log lines, CSV
// exports and C-string consumers, and make two names that look the same.
// The domain's Validate methods and the admin service call it, so the
// API, the console and the CLI refuse the same input with the same error.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		return &TextError{FieldError(field, "%s must be valid UTF-8 text", field).WithID("error.text.utf8")}
	}
	for _, r := range s {
		switch {
		case r == 0:
			return &TextError{FieldError(field, "%s must not contain NUL characters", field).WithID("error.text.nul")}
		case unicode.IsControl(r):
			return &TextError{FieldError(field, "%s must not contain control characters such as tabs or line breaks", field).WithID("error.field.text")}
		case r == utf8.RuneError:
			return &TextError{FieldError(field, "%s must not contain U+FFFD (text broken before it arrived)", field).WithID("error.text.replacement")}
		}
	}
	return nil
}
