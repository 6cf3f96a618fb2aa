package console

import (
	"strings"

	"github.com/gatehouse/gatehouse"
)

// Every role at home (issue 14): which console sections a role may open,
// in one table. The sidebar shows a role exactly its sections, a role's
// home is the first of them, and login sends a user to the page they
// asked for only when their role may open it. The table decides what
// the console offers, not what is allowed: admin.Service checks every
// call again (a staff user typing /console/users still gets 403).

// access says who may open a section.
type access int

const (
	// anyUser: every signed-in user, even one who belongs to no tenant
	// any more (their profile).
	anyUser access = iota
	// member: any role in the session's tenant (what is the user's own:
	// their staff API token, the apps they allowed).
	member
	// manager: owners and admins (gatehouse.Role.CanManage).
	manager
)

// allows reports whether role may open a section of access a.
func (a access) allows(role gatehouse.Role) bool {
	switch a {
	case anyUser:
		return true
	case member:
		return role.Valid()
	default:
		return role.CanManage()
	}
}

// section is one entry of the sidebar: the pages under URL.
type section struct {
	Nav    string // Base.Nav of its pages
	URL    string
	Label  string // message ID
	Access access
}

// navGroup is one heading of the sidebar and its entries.
type navGroup struct {
	Heading  string // message ID
	Sections []section
}

// sections is the sidebar in order. A manager's home is the first entry
// (personal access tokens, as before roles had homes); a staff user's is
// their staff API token.
var sections = []navGroup{
	{Heading: msg("nav.credentials"), Sections: []section{
		{Nav: "tokens", URL: Prefix + "/tokens", Label: msg("nav.tokens"), Access: manager},
		{Nav: "api-keys", URL: Prefix + "/api-keys", Label: msg("nav.api_keys"), Access: manager},
		{Nav: "oauth-apps", URL: Prefix + "/oauth-apps", Label: msg("nav.oauth_apps"), Access: manager},
		{Nav: "integrations", URL: Prefix + "/integrations", Label: msg("nav.integrations"), Access: manager},
	}},
	{Heading: msg("nav.account"), Sections: []section{
		{Nav: "my-api-token", URL: myAPITokenURL, Label: msg("nav.my_api_token"), Access: member},
		{Nav: "connected-apps", URL: Prefix + "/connected-apps", Label: msg("nav.connected_apps"), Access: member},
		{Nav: "profile", URL: profileURL, Label: msg("nav.profile"), Access: anyUser},
		{Nav: "users", URL: Prefix + "/users", Label: msg("nav.users"), Access: manager},
		{Nav: "settings", URL: Prefix + "/settings", Label: msg("nav.settings"), Access: manager},
		{Nav: "audit", URL: Prefix + "/audit", Label: msg("nav.audit"), Access: manager},
	}},
}

// navLink is a sidebar entry as the template renders it.
type navLink struct {
	URL, Label string
	Current    bool // the page shown is in this section (aria-current)
}

// navLinkGroup is a sidebar heading with the entries the role may open.
type navLinkGroup struct {
	Heading string
	Links   []navLink
}

// NavGroups is the sidebar of the page: the sections b.Role may open,
// under their headings; a heading with none is left out.
func (b Base) NavGroups() []navLinkGroup {
	var out []navLinkGroup
	for _, g := range sections {
		var links []navLink
		for _, s := range g.Sections {
			if s.Access.allows(b.Role) {
				links = append(links, navLink{URL: s.URL, Label: s.Label, Current: s.Nav == b.Nav})
			}
		}
		if links != nil {
			out = append(out, navLinkGroup{Heading: g.Heading, Links: links})
		}
	}
	return out
}

// Home is the start page of b.Role (the error page's way back).
func (b Base) Home() string { return home(b.Role) }

// home is the start page of role: the first section it may open.
func home(role gatehouse.Role) string {
	for _, g := range sections {
		for _, s := range g.Sections {
			if s.Access.allows(role) {
				return s.URL
			}
		}
	}
	return profileURL
}

// mayOpen reports whether role may open the console page at path p (no
// query). A path outside every section (the OAuth 2.0 consent page, the
// login page) is open: its handler decides.
func mayOpen(role gatehouse.Role, p string) bool {
	for _, g := range sections {
		for _, s := range g.Sections {
			if p == s.URL || strings.HasPrefix(p, s.URL+"/") {
				return s.Access.allows(role)
			}
		}
	}
	return true
}

// landing is where a user of role goes after login (or a signed-in visit
// to the login page) that asked for next, a SafeRedirect result: next
// when the role may open it, and the role's home otherwise — the console's
// root, SafeRedirect's default (an admin page) and a link to a page the
// role cannot open, such as a staff user's stale bookmark of Users. That
// way a login always ends on a page that answers 200, never on a 403.
func landing(role gatehouse.Role, next string) string {
	p, _, _ := strings.Cut(next, "?")
	if p == Prefix || p == Prefix+"/" || !mayOpen(role, p) {
		return home(role)
	}
	return next
}
