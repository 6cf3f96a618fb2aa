package console

import (
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// catalog is the console's one message catalogue: every user-facing string
// is a message ID looked up here. Every shipped language is complete
// (TestEveryLanguageWhole: every English message, its placeholders and the
// plural forms the language needs); a message a language still lacks falls
// back to English. Adding a language is adding a
// web/locales/active.<tag>.toml file and its plural forms to that test.
type catalog struct {
	bundle  *i18n.Bundle
	tags    []language.Tag // English first
	matcher language.Matcher
	langs   []LanguageOption
}

// LanguageOption is one entry of the language selector.
type LanguageOption struct {
	Tag  string // BCP 47, what User.Locale stores
	Name string // the language's own name ("Русский")
}

// loadCatalog parses every locales/*.toml file; any parse error fails
// start-up.
func loadCatalog(fsys fs.FS) (*catalog, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	files, err := fs.Glob(fsys, "*.toml")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, f := range files {
		if _, err := b.LoadMessageFileFS(fsys, f); err != nil {
			return nil, fmt.Errorf("locale %s: %w", path.Base(f), err)
		}
	}
	c := &catalog{bundle: b, tags: b.LanguageTags()}
	if len(c.tags) == 0 || c.tags[0] != language.English {
		return nil, fmt.Errorf("locales: English must be the default language")
	}
	c.matcher = language.NewMatcher(c.tags)
	for _, t := range c.tags {
		name := display.Self.Name(t)
		if name == "" {
			name = t.String()
		}
		c.langs = append(c.langs, LanguageOption{Tag: t.String(), Name: name})
	}
	return c, nil
}

// supported reports whether tag names one of the catalogue's languages
// exactly (what the language selector may store).
func (c *catalog) supported(tag string) bool {
	for _, l := range c.langs {
		if l.Tag == tag {
			return true
		}
	}
	return false
}

// pick chooses the language: the user's saved preference when it is set,
// else the browser's Accept-Language, else English.
func (c *catalog) pick(userLocale, acceptLanguage string) language.Tag {
	var prefs []language.Tag
	if userLocale != "" {
		if t, err := language.Parse(userLocale); err == nil {
			prefs = append(prefs, t)
		}
	}
	if len(prefs) == 0 {
		prefs, _, _ = language.ParseAcceptLanguage(acceptLanguage)
	}
	if len(prefs) == 0 {
		return c.tags[0]
	}
	_, i, conf := c.matcher.Match(prefs...)
	if conf == language.No {
		return c.tags[0]
	}
	return c.tags[i]
}

// localizer translates message IDs into one language.
type localizer struct {
	l   *i18n.Localizer
	tag language.Tag
	log *slog.Logger
}

func (c *catalog) localizer(tag language.Tag, log *slog.Logger) *localizer {
	return &localizer{l: i18n.NewLocalizer(c.bundle, tag.String()), tag: tag, log: log}
}

// T translates id. args are key/value pairs for the message's template
// data ({{.Name}}); the key "Count" also selects the plural form. A missing
// message is logged and shown as its ID rather than breaking the page.
func (l *localizer) T(id string, args ...any) string {
	cfg := &i18n.LocalizeConfig{MessageID: id}
	if len(args) > 0 {
		data := make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			k := fmt.Sprint(args[i])
			data[k] = args[i+1]
			if k == "Count" {
				cfg.PluralCount = args[i+1]
			}
		}
		cfg.TemplateData = data
	}
	s, err := l.l.Localize(cfg)
	if s == "" {
		if err != nil && l.log != nil {
			l.log.Error("console: missing message", "id", id, "lang", l.tag.String(), "err", err)
		}
		return id
	}
	return s
}

// has reports whether the catalogue defines id (in this language or in
// English, the fallback): messages are never empty.
func (l *localizer) has(id string) bool {
	s, _ := l.l.Localize(&i18n.LocalizeConfig{MessageID: id})
	return s != ""
}

// Lang is the language tag for <html lang>.
func (l *localizer) Lang() string { return l.tag.String() }

// msg marks a string as a message ID used from Go code; the catalogue test
// finds every msg call with a literal and checks that English defines it.
func msg(id string) string { return id }

// fieldMessages maps the Field of a gatehouse.Error to the message shown
// next to that input, so validation errors are translated; errors without
// a known field fall back to the admin service's (English) message.
var fieldMessages = map[string]string{
	"name":       msg("error.field.name"),
	"scopes":     msg("error.field.scopes"),
	"expires_at": msg("error.field.expires_at"),
	"email":      msg("error.field.email"),
	"password":   msg("error.field.password"),
	"role":       msg("error.field.role"),
}
