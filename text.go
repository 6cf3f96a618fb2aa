package gatehouse

import (
	"unicode"
	"unicode/utf8"
)

// CheckText refuses, in a name, description or email someone typed, what
// is not printable text: invalid UTF-8, control characters (NUL, tabs,
// line breaks, C1 controls), and U+FFFD, the mark of text that was broken
// before it arrived (encoding/json turns a lone surrogate "\ud800" and
// invalid bytes into it). Security: such names break log lines, CSV
// exports and C-string consumers, and make two names that look the same.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		return FieldError(field, "%s must be valid UTF-8 text", field)
	}
	for _, r := range s {
		switch {
		case r == 0:
			return FieldError(field, "%s must not contain NUL characters", field)
		case unicode.IsControl(r):
			return FieldError(field, "%s must not contain control characters such as tabs or line breaks", field)
		case r == utf8.RuneError:
			return FieldError(field, "%s must not contain U+FFFD (text broken before it arrived)", field)
		}
	}
	return nil
}
