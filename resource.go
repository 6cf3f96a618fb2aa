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
// Title is English (and the fallback); Titles holds the other languages'
// titles by BCP 47 tag as the console names its languages ("ru",
// "zh-Hans", "zh-Hant"), so a tree file without titles stays valid.
type Resource struct {
	ID       string            `yaml:"id" json:"id"`
	Title    string            `yaml:"title" json:"title"`
	Titles   map[string]string `yaml:"titles,omitempty" json:"titles,omitempty"`
	Children []*Resource       `yaml:"children,omitempty" json:"children,omitempty"`
}

// TitleIn returns the resource's title in the language lang: its own
// title, else its base language's ("ru" for "ru-RU"), else Title.
func (r *Resource) TitleIn(lang string) string {
	if t := r.Titles[lang]; t != "" {
		return t
	}
	if base, _, ok := strings.Cut(lang, "-"); ok {
		if t := r.Titles[base]; t != "" {
			return t
		}
	}
	return r.Title
}

// checkTitles refuses a title language that is not shaped like a BCP 47
// tag (letters, then subtags of letters and digits joined by "-") and a
// title that is empty or not printable text (English titles are checked
// as before: not at all, so old tree files stay valid).
func checkTitles(r *Resource) error {
	for lang, title := range r.Titles {
		if !langTagShaped(lang) {
			return Errorf(EINVALID, "resource tree: %s: title language %q is not a BCP 47 tag such as ru or zh-Hant", r.ID, lang)
		}
		if title == "" || CheckText("title", title) != nil {
			return Errorf(EINVALID, "resource tree: %s: the %s title must be non-empty printable text", r.ID, lang)
		}
	}
	return nil
}

func langTagShaped(s string) bool {
	for i, sub := range strings.Split(s, "-") {
		if len(sub) == 0 || len(sub) > 8 || (i == 0 && len(sub) < 2) {
			return false
		}
		for _, c := range sub {
			letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !letter && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
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
			if err := checkTitles(n); err != nil {
				return err
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
		return nil, FieldError("scopes", "at least one scope is required").WithID("error.field.scopes")
	}
	set := map[string]bool{}
	for _, s := range scopes {
		s = strings.TrimSpace(s)
		if !t.Known(s) {
			return nil, FieldError("scopes", "unknown resource %q", s).WithID("error.scope.unknown", "Scope", s)
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

// Intersect returns what both a and b grant, as scopes: each scope of a
// that b grants, else the scopes of b within it (a grants catalog, b only
// catalog.products: catalog.products). "all" in a keeps b's tree scopes;
// the reserved resources stay only when both name them. The result is in
// NormalizeScopes order, nil when nothing is left.
func (t *ResourceTree) Intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		switch {
		case s == ScopeManage || s == ScopeVerify:
			if slices.Contains(b, s) {
				out = append(out, s)
			}
		case s == ScopeAll:
			for _, w := range b {
				if w != ScopeManage && w != ScopeVerify {
					out = append(out, w)
				}
			}
		case t.Grants(b, s):
			out = append(out, s)
		default:
			for _, w := range b {
				if w != ScopeAll && t.Grants([]string{s}, w) {
					out = append(out, w)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	if n, err := t.NormalizeScopes(out); err == nil {
		return n
	}
	return out
}

// CommerceResources is the built-in resource tree, modelled on Magento's
// ACL, titled in every console language (English, Russian, Simplified and
// Traditional Chinese, in Magento's and SHOPLINE's words).
func CommerceResources() []*Resource {
	n := func(id string, t [4]string, children ...*Resource) *Resource {
		return &Resource{ID: id, Title: t[0], Titles: map[string]string{"ru": t[1], "zh-Hans": t[2], "zh-Hant": t[3]}, Children: children}
	}
	return []*Resource{
		n("catalog", [4]string{"Catalog", "Каталог", "目录", "目錄"},
			n("catalog.products", [4]string{"Products", "Товары", "产品", "商品"}),
			n("catalog.categories", [4]string{"Categories", "Категории", "类别", "分類"}),
			n("catalog.inventory", [4]string{"Inventory", "Запасы", "库存", "庫存"})),
		n("sales", [4]string{"Sales", "Продажи", "销售", "銷售"},
			n("sales.orders", [4]string{"Orders", "Заказы", "订单", "訂單"}),
			n("sales.invoices", [4]string{"Invoices", "Счета", "发票", "發票"}),
			n("sales.shipments", [4]string{"Shipments", "Отгрузки", "发货", "出貨"}),
			n("sales.creditmemos", [4]string{"Credit memos", "Кредит-ноты", "退款单", "退款單"})),
		n("customers", [4]string{"Customers", "Клиенты", "客户", "顧客"},
			n("customers.accounts", [4]string{"All customers", "Все клиенты", "所有客户", "所有顧客"}),
			n("customers.groups", [4]string{"Customer groups", "Группы клиентов", "客户组", "顧客群組"})),
		n("carts", [4]string{"Carts", "Корзины", "购物车", "購物車"}),
		n("content", [4]string{"Content", "Контент", "内容", "內容"},
			n("content.pages", [4]string{"Pages", "Страницы", "页面", "頁面"}),
			n("content.blocks", [4]string{"Blocks", "Блоки", "区块", "區塊"})),
		n("marketing", [4]string{"Marketing", "Маркетинг", "营销", "行銷"},
			n("marketing.promotions", [4]string{"Cart price rules", "Правила цен корзины", "购物车价格规则", "購物車價格規則"}),
			n("marketing.channels", [4]string{"Channels", "Каналы", "渠道", "通路"})),
		n("stores", [4]string{"Stores", "Магазины", "商店", "商店"},
			n("stores.settings", [4]string{"Settings", "Настройки", "设置", "設定"}),
			n("stores.taxes", [4]string{"Taxes", "Налоги", "税费", "稅金"}),
			n("stores.currency", [4]string{"Currency", "Валюта", "货币", "貨幣"})),
		n("reports", [4]string{"Reports", "Отчёты", "报表", "報表"}),
	}
}
