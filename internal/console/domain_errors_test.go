package console

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nicksnyder/go-i18n/v2/i18n"
)

// userCodes are the codes of errors that a console or API user provokes
// with input or with their role: each must name its message (WithID).
var userCodes = map[string]bool{"EINVALID": true, "EFORBIDDEN": true, "ECONFLICT": true, "ENOTFOUND": true}

// domainErrorAllow are the user-coded errors that need no message id,
// keyed by file and the start of the format string. Keep it short: only
// what no console user can meet.
var domainErrorAllow = map[string]string{
	// Start-up configuration of the resource tree (YAML an operator
	// edits): the binary refuses to start, nobody reads it in the console.
	"resource.go": "resource tree: ",
}

// TestDomainErrorsHaveMessageIDs parses the domain (the root package) and
// the admin service and requires every user-coded gatehouse error they
// build (Errorf with EINVALID, EFORBIDDEN, ECONFLICT or ENOTFOUND,
// FieldError) to be chained with .WithID("…", name, value, …) naming a
// message of the English catalogue whose placeholders are exactly the
// names given; the other catalogues follow from TestEveryLanguageWhole.
func TestDomainErrorsHaveMessageIDs(t *testing.T) {
	en := map[string]*i18n.Message{}
	for _, m := range parseLocale(t, "active.en.toml").Messages {
		en[m.ID] = m
	}
	checked := 0
	for _, dir := range []string{"../..", "../admin"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			checked += checkErrorIDs(t, path, en)
		}
	}
	if checked < 50 {
		t.Fatalf("found only %d user-coded errors: is the parser looking in the right places?", checked)
	}
}

// checkErrorIDs checks one file and returns how many errors it checked.
func checkErrorIDs(t *testing.T, path string, en map[string]*i18n.Message) int {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	// withID maps each error constructor call that is the receiver of a
	// .WithID(…) call to that call.
	withID := map[*ast.CallExpr]*ast.CallExpr{}
	ast.Inspect(f, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "WithID" {
				if inner, ok := ast.Unparen(sel.X).(*ast.CallExpr); ok {
					withID[inner] = call
				}
			}
		}
		return true
	})
	base := filepath.Base(path)
	if base == "errors.go" { // Errorf and FieldError themselves
		return 0
	}
	checked := 0
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.CompositeLit); ok && funcName(lit.Type) == "Error" {
			// &gatehouse.Error{Code: EINVALID, …} must set ID itself.
			code, hasID := "", false
			for _, el := range lit.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					switch funcName(kv.Key) {
					case "Code":
						code = funcName(kv.Value)
					case "ID":
						hasID = true
					}
				}
			}
			if userCodes[code] && !hasID {
				checked++
				t.Errorf("%s: a gatehouse.Error literal with %s has no ID", fset.Position(lit.Pos()), code)
			}
			return true
		}
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		fn := funcName(call.Fun)
		var format ast.Expr
		switch {
		case fn == "Errorf" && len(call.Args) >= 2 && userCodes[funcName(call.Args[0])]:
			format = call.Args[1]
		case fn == "FieldError" && len(call.Args) >= 2:
			format = call.Args[1]
		default:
			return true
		}
		pos := fset.Position(call.Pos())
		text := ""
		if lit, ok := format.(*ast.BasicLit); ok {
			text, _ = strconv.Unquote(lit.Value)
		}
		if prefix, ok := domainErrorAllow[base]; ok && strings.HasPrefix(text, prefix) {
			return true
		}
		checked++
		w := withID[call]
		if w == nil || len(w.Args) == 0 {
			t.Errorf("%s: %q has no .WithID(…): give it a message id and add the message to every catalogue", pos, text)
			return true
		}
		id, err := stringLit(w.Args[0])
		if err != nil {
			t.Errorf("%s: WithID's id must be a string literal", pos)
			return true
		}
		m := en[id]
		if m == nil {
			t.Errorf("%s: %q: the message %q is not in active.en.toml", pos, text, id)
			return true
		}
		var names []string
		for i := 1; i < len(w.Args); i += 2 {
			name, err := stringLit(w.Args[i])
			if err != nil {
				t.Errorf("%s: WithID(%q, …): placeholder names must be string literals", pos, id)
				return true
			}
			names = append(names, "."+name)
		}
		if (len(w.Args)-1)%2 != 0 {
			t.Errorf("%s: WithID(%q, …): arguments must come in name/value pairs", pos, id)
		}
		sort.Strings(names)
		if got, want := strings.Join(names, " "), strings.Join(sortedKeys(placeholders(m)), " "); got != want {
			t.Errorf("%s: WithID(%q) gives %q, the message uses %q", pos, id, got, want)
		}
		return true
	})
	return checked
}

// funcName is the name an expression calls or refers to: Errorf for both
// Errorf and gatehouse.Errorf.
func funcName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

func stringLit(e ast.Expr) (string, error) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", strconv.ErrSyntax
	}
	return strconv.Unquote(lit.Value)
}
