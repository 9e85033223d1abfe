package controller

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// The controller reads the time of day only through Config.Now, handed to
// the registry, scheduler, fleet and API: a test on a fake clock then gives
// the same answers on any date (main went red once when the registry read
// the wall clock while the API ran on a fake one). This test fails on a
// new call of time.Now, time.Since or time.Until in the controller's code,
// unless it is listed here with the reason it measures an interval, not a
// date.
func TestTimeOnlyThroughTheClock(t *testing.T) {
	allowed := map[string]string{
		"run.go:waitReloaded":                 "a deadline while Mosquitto reloads",
		"run.go:writeMosquitto":               "how long Mosquitto took to reload, for the log",
		"internal/api/auth.go:now":            "the default clock, when Config.Now is nil",
		"internal/programme/store.go:now":     "the default clock, when Store.Now is nil",
		"internal/media/media.go:removeStale": "the age (file system time) of a temporary file left by a crash",
		"internal/schedule/check.go:Check":    "radio-controller -check: the command line's own today",
	}
	fset := token.NewFileSet()
	found := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "time" || (sel.Sel.Name != "Now" && sel.Sel.Name != "Since" && sel.Sel.Name != "Until") {
					return true
				}
				key := filepath.ToSlash(path) + ":" + fn.Name.Name
				found[key] = true
				if _, ok := allowed[key]; !ok {
					t.Errorf("%s: time.%s in %s: read the clock the code is given (Config.Now) instead", fset.Position(call.Pos()), sel.Sel.Name, fn.Name.Name)
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range allowed {
		if !found[key] {
			t.Errorf("%s is allowed to read the wall clock but no longer does: drop it from the list", key)
		}
	}
}
