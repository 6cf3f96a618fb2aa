package gatehouse

import (
	"slices"
	"strings"
)

// Reserved resources outside the tree and outside "all" (SPEC §3).
const (
	ScopeAll    = "all"    // the whole resource tree
	ScopeManage = "manage" // Gatehouse's management API, with the owner's role
	ScopeVerify = "verify" // /api/v1/verify and /oauth2/introspect for the tenant
)

// Resource is a node of the resource tree. Granting a node grants its subtree.
type Resource struct {
	ID       string      `yaml:"id" json:"id"`
	Title    string      `yaml:"title" json:"title"`
	Children []*Resource `yaml:"children,omitempty" json:"children,omitempty"`
}

// ResourceTree is the operator's tree of API resources that scopes name.
// It is immutable after construction and safe for concurrent use.
type ResourceTree struct {
	roots  []*Resource
	parent map[string]string // id -> parent id ("" for roots)
	byID   map[string]*Resource
	order  []string // depth-first order, for stable listings
}

// NewResourceTree checks and indexes a tree: ids must be unique, non-empty,
// without spaces, and not one of the reserved resources.
func NewResourceTree(roots []*Resource) (*ResourceTree, error) {
	t := &ResourceTree{roots: roots, parent: map[string]string{}, byID: map[string]*Resource{}}
	var walk func(parent string, nodes []*Resource) error
	walk = func(parent string, nodes []*Resource) error {
		for _, n := range nodes {
			switch {
			case n == nil || n.ID == "" || strings.ContainsAny(n.ID, " \t\r\n\"\\"):
				return Errorf(EINVALID, "resource tree: invalid resource id %q", idOf(n))
			case n.ID == ScopeAll || n.ID == ScopeManage || n.ID == ScopeVerify:
				return Errorf(EINVALID, "resource tree: %q is reserved", n.ID)
			}
			if _, dup := t.byID[n.ID]; dup {
				return Errorf(EINVALID, "resource tree: duplicate resource id %q", n.ID)
			}
			if n.Title == "" {
				n.Title = n.ID
			}
			t.byID[n.ID] = n
			t.parent[n.ID] = parent
			t.order = append(t.order, n.ID)
			if err := walk(n.ID, n.Children); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("", roots); err != nil {
		return nil, err
	}
	if len(t.byID) == 0 {
		return nil, Errorf(EINVALID, "resource tree: no resources")
	}
	return t, nil
}

func idOf(r *Resource) string {
	if r == nil {
		return ""
	}
	return r.ID
}

// Roots returns the top-level resources.
func (t *ResourceTree) Roots() []*Resource { return t.roots }

// IDs returns every resource id of the tree, depth first.
func (t *ResourceTree) IDs() []string { return slices.Clone(t.order) }

// Find returns the resource with the given id.
func (t *ResourceTree) Find(id string) (*Resource, bool) {
	r, ok := t.byID[id]
	return r, ok
}

// Known reports whether id may appear in a scope list: a resource of the
// tree, "all", or a reserved resource.
func (t *ResourceTree) Known(id string) bool {
	if id == ScopeAll || id == ScopeManage || id == ScopeVerify {
		return true
	}
	_, ok := t.byID[id]
	return ok
}

// NormalizeScopes checks that every scope is known and returns them
// de-duplicated in tree order (reserved ones last). An unknown scope is an
// EINVALID error naming it; an empty list is refused too.
func (t *ResourceTree) NormalizeScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, FieldError("scopes", "at least one scope is required")
	}
	set := map[string]bool{}
	for _, s := range scopes {
		s = strings.TrimSpace(s)
		if !t.Known(s) {
			return nil, FieldError("scopes", "unknown resource %q", s)
		}
		set[s] = true
	}
	out := make([]string, 0, len(set))
	if set[ScopeAll] {
		out = append(out, ScopeAll)
	} else {
		for _, id := range t.order {
			if set[id] {
				out = append(out, id)
			}
		}
	}
	for _, r := range []string{ScopeManage, ScopeVerify} {
		if set[r] {
			out = append(out, r)
		}
	}
	return out, nil
}

// Grants reports whether a credential holding scopes may access resource:
// a scope grants itself and its subtree, "all" grants every tree resource,
// and the reserved resources are granted only by name.
func (t *ResourceTree) Grants(scopes []string, resource string) bool {
	if resource == ScopeManage || resource == ScopeVerify {
		return slices.Contains(scopes, resource)
	}
	if _, ok := t.byID[resource]; !ok {
		return false
	}
	for _, s := range scopes {
		if s == ScopeAll {
			return true
		}
		for id := resource; id != ""; id = t.parent[id] {
			if s == id {
				return true
			}
		}
	}
	return false
}

// Subset reports whether every resource granted by narrow is granted by wide,
// e.g. for narrowing a scope on refresh.
func (t *ResourceTree) Subset(narrow, wide []string) bool {
	for _, s := range narrow {
		switch s {
		case ScopeAll:
			if !slices.Contains(wide, ScopeAll) {
				return false
			}
		default:
			if !t.Grants(wide, s) {
				return false
			}
		}
	}
	return true
}

// CommerceResources is the built-in resource tree, modelled on Magento's ACL.
func CommerceResources() []*Resource {
	n := func(id, title string, children ...*Resource) *Resource {
		return &Resource{ID: id, Title: title, Children: children}
	}
	return []*Resource{
		n("catalog", "Catalog",
			n("catalog.products", "Products"),
			n("catalog.categories", "Categories"),
			n("catalog.inventory", "Inventory")),
		n("sales", "Sales",
			n("sales.orders", "Orders"),
			n("sales.invoices", "Invoices"),
			n("sales.shipments", "Shipments"),
			n("sales.creditmemos", "Credit memos")),
		n("customers", "Customers",
			n("customers.accounts", "All customers"),
			n("customers.groups", "Customer groups")),
		n("carts", "Carts"),
		n("content", "Content",
			n("content.pages", "Pages"),
			n("content.blocks", "Blocks")),
		n("marketing", "Marketing",
			n("marketing.promotions", "Cart price rules"),
			n("marketing.channels", "Channels")),
		n("stores", "Stores",
			n("stores.settings", "Settings"),
			n("stores.taxes", "Taxes"),
			n("stores.currency", "Currency")),
		n("reports", "Reports"),
	}
}
