// Package web holds the console's assets, embedded in the binary so that a
// single gatehouse executable serves them: html/template files (layout,
// partials and one template per page), the static CSS and JavaScript, and
// the message catalogues of every console language.
package web

import (
	"embed"
	"io/fs"
)

//go:embed templates/layout/*.html templates/partials/*.html templates/pages/*.html
var templates embed.FS

//go:embed static
var static embed.FS

//go:embed locales/*.toml
var locales embed.FS

// Templates returns the template tree: layout/, partials/ and pages/.
func Templates() fs.FS { return sub(templates, "templates") }

// Static returns the static assets served under /console/static/.
func Static() fs.FS { return sub(static, "static") }

// Locales returns the message catalogues, one active.<lang>.toml per language.
func Locales() fs.FS { return sub(locales, "locales") }

func sub(f embed.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic("web: " + err.Error()) // unreachable: dir is embedded above
	}
	return s
}
